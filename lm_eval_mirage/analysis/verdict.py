"""The decision rule behind every verdict: noise, chance, resolution and where along the scale a curve changes.

The BIG-bench emergence score (:func:`~lm_eval_mirage.analysis.emergence.emergence_score`) and its straight-line
yardstick stay the published numbers. A high score alone is not a verdict a reviewer signs: a concave curve that
gains most between the smallest models and then saturates scores high, and so does noise around chance. The
rule (:func:`decide`, checked in this order, the first that applies wins):

1. ``too few models``: fewer than three distinct x.
2. ``direction unknown``: the metric's direction is neither in the results file nor a known metric name.
3. ``at resolution floor``: an all-or-nothing metric whose whole change is at most :data:`RESOLUTION_PROBLEMS`
   problems of the ``n`` (``n`` from the samples, the results file, or the binomial standard error).
4. ``at chance``: chance is known (multiple choice) and no model is above it by :data:`Z_CHANCE` standard errors.
5. ``flat (within noise)``: a flat curve (score 0), or the spread is within the measurement noise: the
   homogeneity test ``sum_i (y_i - ybar)**2 / se_i**2 ~ chi2(n - 1)`` gives ``p >= FLAT_P``.
6. The shape. ``late_share`` is the share of the net change (``y_last - y_first``) that comes in the upper half
   of the log-x range (``y`` at the midpoint interpolated linearly in log x): 0.5 for a straight line, small
   for a concave (saturating) curve, near 1 for "flat, then a jump". ``emergent`` needs both the score at least
   ``threshold_factor`` times the straight-line score AND ``late_share >= LATE_SHARE_MIN``; ``uncertain`` when
   both hold but the interval of the score reaches below the threshold. ``inverse emergent`` is the mirror
   (a late, sharp drop). Anything else is ``smooth``, with the shape in the reason (``saturating`` when
   ``late_share <= SATURATING_MAX``).

Without any measurement noise (no stderr, no samples, no ``n``) steps 4 and 5 cannot be applied; the reason
says so. The thresholds are calibrated on simulations with known truth (``benchmarks/calibrate_verdicts.py``,
results in docs/analysis.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from lm_eval_mirage.analysis.emergence import (
    DEFAULT_THRESHOLD_FACTOR,
    emergence_score,
    linearity_score,
    parametric_emergence_ci,
    straight_line_score,
)

__all__ = [
    "Z_CHANCE",
    "FLAT_P",
    "LATE_SHARE_MIN",
    "SATURATING_MAX",
    "RESOLUTION_PROBLEMS",
    "Verdict",
    "chi2_sf",
    "change_p_value",
    "late_share",
    "binomial_stderr",
    "n_from_stderr",
    "decide",
    "judge_curve",
]

#: A model is "above chance" when its value exceeds chance by this many standard errors (about a 5% family-wise
#: false-alarm rate over up to a few dozen models, Bonferroni).
Z_CHANCE = 3.0
#: The curve is flat within noise when the homogeneity test's p-value is at least this.
FLAT_P = 0.01
#: Emergent needs at least this share of the net change in the upper half of the log-x range.
LATE_SHARE_MIN = 0.75
#: A smooth curve with at most this share of its change in the upper half is called saturating.
SATURATING_MAX = 0.4
#: An all-or-nothing metric whose whole change is this many problems or fewer is at the resolution floor.
RESOLUTION_PROBLEMS = 2


class Verdict(NamedTuple):
    """A verdict, its reason (a human sentence starting with the verdict) and the numbers it rests on."""

    verdict: str
    reason: str
    late_share: float
    p_change: float


def chi2_sf(stat: float, df: int) -> float:
    """Survival function of the chi-square distribution for an integer ``df`` (closed form, no scipy).

    Example:
        >>> round(chi2_sf(3.841458820694124, 1), 6), round(chi2_sf(5.991464547107979, 2), 6)
        (0.05, 0.05)
        >>> round(chi2_sf(14.067140449340169, 7), 6)
        0.05
    """
    if df < 1:
        raise ValueError(f"df={df}: must be a positive integer")
    if stat <= 0:
        return 1.0
    half = stat / 2.0
    if df % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, df // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    total = math.erfc(math.sqrt(half))
    term = math.sqrt(half) * math.exp(-half) * 2.0 / math.sqrt(math.pi)
    for i in range(1, (df + 1) // 2):
        total += term
        term *= half / (i + 0.5)
    return min(1.0, max(0.0, total))


def change_p_value(y: Sequence[float], stderr: Sequence[float]) -> float:
    """p-value of "every model has the same true value" given independent standard errors (chi-square test).

    ``stat = sum_i w_i (y_i - ybar_w)**2`` with ``w_i = 1 / se_i**2`` and ``ybar_w`` the weighted mean; under the
    null it is chi-square with ``n - 1`` degrees of freedom. A standard error of exactly 0 is raised to the
    smallest positive one (all zero: exact values, ``p`` is 0 for any change and 1 for none); ``nan`` when a
    standard error is missing.

    Example:
        >>> round(change_p_value([0.20, 0.21, 0.19, 0.22], [0.02] * 4), 3)
        0.741
        >>> change_p_value([0.0, 0.0, 0.5], [0.01] * 3) < 1e-6
        True
    """
    yv, se = np.asarray(y, dtype=float), np.asarray(stderr, dtype=float)
    if yv.size < 2 or np.isnan(se).any() or (se < 0).any():
        return math.nan
    if not (se > 0).any():
        return 0.0 if np.ptp(yv) > 0 else 1.0
    se = np.where(se > 0, se, se[se > 0].min())
    w = 1.0 / se**2
    mean = float(np.sum(w * yv) / np.sum(w))
    return chi2_sf(float(np.sum(w * (yv - mean) ** 2)), yv.size - 1)


def late_share(y: Sequence[float], log_x: Sequence[float]) -> float:
    """Share of the net change ``y_last - y_first`` that comes in the upper half of the log-x range.

    ``(y_last - y(mid)) / (y_last - y_first)`` with ``y(mid)`` interpolated linearly in log x at the midpoint of
    the range; clipped to ``[0, 1]``; ``nan`` when the net change is zero. A straight line in log x gives 0.5.

    Example:
        >>> late_share([0.0, 1.0, 2.0, 3.0], [8, 9, 10, 11])            # straight line
        0.5
        >>> late_share([0.19, 0.33, 0.52, 0.56, 0.62], [7.8, 8.2, 8.6, 9.0, 9.2])  # concave: gains come early
        0.343023255814
        >>> late_share([0.0, 0.0, 0.01, 0.8], [8, 9, 10, 11])           # flat, then a jump
        0.99375
    """
    yv, xv = np.asarray(y, dtype=float), np.asarray(log_x, dtype=float)
    net = float(yv[-1] - yv[0])
    if net == 0.0 or yv.size < 2:
        return math.nan
    mid = float(np.interp((xv[0] + xv[-1]) / 2.0, xv, yv))
    return round(min(1.0, max(0.0, (float(yv[-1]) - mid) / net)), 12)


def binomial_stderr(y: Sequence[float], n: float) -> np.ndarray:
    """Standard error of a proportion from ``n`` problems, ``sqrt(q(1-q)/n)`` with ``q`` kept in ``[1/n, 1-1/n]``.

    The clip keeps a value of exactly 0 (or 1) from claiming no uncertainty: ``0 of n`` is compatible with a
    true rate of about ``1/n``.

    Example:
        >>> binomial_stderr([0.0, 0.5], 100).round(4).tolist()
        [0.0099, 0.05]
    """
    q = np.clip(np.asarray(y, dtype=float), 1.0 / n, 1.0 - 1.0 / n)
    return np.sqrt(q * (1.0 - q) / n)


def n_from_stderr(y: float, stderr: float) -> float:
    """Number of problems behind a proportion and its sample standard error: ``y(1-y)/se**2 + 1``.

    The harness reports ``se = sqrt(y(1-y)/(n-1))`` for a mean of 0/1 values; ``nan`` when ``y`` is 0 or 1.

    Example:
        >>> round(n_from_stderr(0.18455268775470599, 0.00540468283118203))  # lambada_openai acc, pythia-70m
        5153
    """
    if not (0.0 < y < 1.0) or not (stderr > 0) or math.isnan(stderr):
        return math.nan
    return y * (1.0 - y) / stderr**2 + 1.0


def _label(labels: Sequence[str] | None, x: np.ndarray, i: int) -> str:
    return str(labels[i]).rstrip("/").rsplit("/", 1)[-1] if labels is not None else f"x={x[i]:.3g}"


def _flat_until(y: np.ndarray, se: np.ndarray | None) -> int:
    """Index of the last model still within noise (2 standard errors, else 10% of the range) of the first."""
    spread = float(np.ptp(y))
    k = 0
    for i in range(1, y.size):
        tol = 2.0 * math.hypot(se[0], se[i]) if se is not None else 0.1 * spread
        if abs(y[i] - y[0]) > max(tol, 1e-12 * spread):
            break
        k = i
    return k


def decide(
    y: Sequence[float],
    x: Sequence[float],
    *,
    score: float,
    threshold: float,
    ci: tuple[float, float] | None = None,
    stderr: Sequence[float] | None = None,
    n: float | None = None,
    chance: float | None = None,
    discontinuous: bool = False,
    direction_known: bool = True,
    labels: Sequence[str] | None = None,
) -> Verdict:
    """Apply the decision rule (see the module docstring) to one curve.

    Args:
        y: values in scale order, oriented so that higher is better (lower-is-better metrics negated).
        x: positive scale of each model in the same order (the log axis; steps already shifted).
        score: the emergence score of the curve; threshold: ``threshold_factor * straight_line_score(x)``.
        ci: interval of the score (bootstrap over problems or parametric from the standard errors), if any.
        stderr: standard error of each value (oriented like ``y``: absolute values), NaN where unknown.
        n: number of problems per model (for the resolution floor), if known.
        chance: the metric's value at chance in the original orientation (accuracy of random guessing).
        discontinuous: an all-or-nothing metric (resolution ``1/n`` applies).
        direction_known: ``False`` when neither the file nor the metric name tells the direction.
        labels: model labels for the reason (default: the x values).

    Example:
        >>> x = [7.0e7, 1.6e8, 4.1e8, 1.0e9, 1.4e9, 2.8e9, 6.9e9, 1.2e10]
        >>> lam = [0.19, 0.33, 0.52, 0.56, 0.62, 0.65, 0.67, 0.71]          # lambada acc of Pythia
        >>> decide(lam, x, score=13.6, threshold=9.3, stderr=[0.006] * 8).reason
        'smooth: saturating (30% of the change in the upper half of the log-x range; ES 13.6 passes 9.3 on early gains)'
        >>> decide([0.19, 0.19, 0.2, 0.23, 0.23, 0.21, 0.24, 0.19], x, score=4.0, threshold=9.3,
        ...        stderr=[0.025] * 8, chance=0.25).verdict
        'at chance'
    """
    yv, xv = np.asarray(y, dtype=float), np.log10(np.asarray(x, dtype=float))
    se = None if stderr is None else np.abs(np.asarray(stderr, dtype=float))
    if se is not None and np.isnan(se).any():
        se = None
    if np.unique(xv).size < 3 or math.isnan(score):
        return Verdict(
            "too few models", "too few models: emergence needs at least three distinct x", math.nan, math.nan
        )
    if not direction_known:
        return Verdict(
            "direction unknown",
            "direction unknown: the results file has no higher_is_better for this "
            "metric and its name is not a known metric; not judged",
            math.nan,
            math.nan,
        )
    spread = float(np.ptp(yv))
    if discontinuous and n is not None and n > 0 and not math.isnan(n):
        problems = spread * n
        if 0 < problems < RESOLUTION_PROBLEMS + 0.5:
            return Verdict(
                "at resolution floor",
                f"at resolution floor: the whole change is {problems:.0f} "
                f"problem(s) of {n:.0f} (resolution 1/n = {1 / n:.2g})",
                math.nan,
                math.nan,
            )
    if discontinuous and n is not None and n > 0 and not math.isnan(n):
        # 0 of n right is not "no uncertainty": never below the binomial standard error at 1/n
        floor = binomial_stderr(yv, n)
        se = floor if se is None else np.maximum(se, floor)
    noise = "" if se is not None else " (no stderr, samples or n: measurement noise unknown)"
    if discontinuous and (n is None or math.isnan(n)):
        noise += " (n unknown: resolution 1/n not checked)"
    if chance is not None and not math.isnan(chance) and se is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(se > 0, (yv - chance) / se, np.where(yv > chance, np.inf, -np.inf))
        if float(z.max()) < Z_CHANCE:
            return Verdict(
                "at chance",
                f"at chance: no model is {Z_CHANCE:g} standard errors above chance "
                f"{chance:g} (best {float(yv.max()):.3g}, z = {float(z.max()):.1f})",
                math.nan,
                math.nan,
            )
    p_change = change_p_value(yv, se) if se is not None else math.nan
    share = late_share(yv, xv)
    if spread == 0.0 or score == 0.0:
        return Verdict("flat (within noise)", "flat (within noise): no change at all", share, p_change)
    if not math.isnan(p_change) and p_change >= FLAT_P:
        return Verdict(
            "flat (within noise)",
            f"flat (within noise): the spread {spread:.3g} is within the "
            f"standard errors (chi-square test p = {p_change:.2g})",
            share,
            p_change,
        )
    rising = float(yv[-1] - yv[0]) > 0
    es_txt = f"ES {score:.3g}" if math.isfinite(score) else f"ES {score}"
    sharp = abs(score) >= threshold
    late = not math.isnan(share) and share >= LATE_SHARE_MIN and (score > 0) == rising
    if sharp and late:
        k = _flat_until(yv if score > 0 else -yv, se)
        after = (yv[-1] - yv[k]) / (yv[-1] - yv[0]) if yv[-1] != yv[0] else math.nan
        word = "emergent" if score > 0 else "inverse emergent"
        where = f"flat within noise up to {_label(labels, np.asarray(x, float), k)}, {after:.0%} of the change after it"
        if k == 0:
            where = f"{share:.0%} of the change in the upper half of the log-x range"
        bound = ci[0] if score > 0 and ci is not None else (ci[1] if ci is not None else math.nan)
        if not math.isnan(bound) and (bound < threshold if score > 0 else bound > -threshold):
            return Verdict(
                "uncertain",
                f"uncertain: {word} by shape ({where}) but the interval of the score "
                f"reaches {bound:.3g}, past the threshold {threshold:.3g}",
                share,
                p_change,
            )
        return Verdict(word, f"{word}: {where} ({es_txt} >= {threshold:.3g}){noise}", share, p_change)
    if math.isnan(share) or (score > 0) != rising:
        return Verdict("smooth", f"smooth: not monotone (the change reverses; {es_txt}){noise}", share, p_change)
    pct = f"{share:.0%} of the change in the upper half of the log-x range"
    if share <= SATURATING_MAX:
        tail = f"; {es_txt} passes {threshold:.3g} on early gains" if sharp else ""
        return Verdict("smooth", f"smooth: saturating ({pct}{tail}){noise}", share, p_change)
    if share >= LATE_SHARE_MIN:
        return Verdict(
            "smooth",
            f"smooth: changes late but no sharper than a straight line ({pct}; {es_txt} < {threshold:.3g}){noise}",
            share,
            p_change,
        )
    return Verdict("smooth", f"smooth: roughly even in log x ({pct}; {es_txt}){noise}", share, p_change)


def judge_curve(
    y: Sequence[float],
    x: Sequence[float],
    *,
    higher_is_better: bool = True,
    stderr: Sequence[float] | None = None,
    n: float | None = None,
    chance: float | None = None,
    discontinuous: bool = False,
    direction_known: bool = True,
    labels: Sequence[str] | None = None,
    ci: tuple[float, float] | None = None,
    threshold_factor: float = DEFAULT_THRESHOLD_FACTOR,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    """Score one curve and judge it: the numbers of one row of the emergence table.

    ``y`` and ``x`` in scale order (``x > 0``: shift training step 0 first). ``ci`` is an interval computed
    elsewhere (the bootstrap over problems); without it the interval is parametric from ``stderr``, else
    (all-or-nothing metric, known ``n``) from the binomial standard error. Returns a dict with
    ``emergence_score, linearity, straight_line, threshold, ci_low, ci_high, ci_method, verdict, reason,
    late_share, p_change``.

    Example:
        >>> r = judge_curve([0.0, 0.0, 0.0, 0.01, 0.8], [1e8, 4e8, 1.6e9, 6.4e9, 2.56e10], n=200, discontinuous=True)
        >>> r["verdict"], r["ci_method"]
        ('emergent', 'parametric (binomial, n)')
    """
    yv, xv = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    few = yv.size < 2
    score = math.nan if few else emergence_score(yv, xv, higher_is_better=higher_is_better)
    line = math.nan if few else straight_line_score(xv)
    threshold = threshold_factor * line if not math.isnan(line) else math.nan
    se = None if stderr is None else np.asarray(stderr, dtype=float)
    method = "none"
    if ci is not None and not (math.isnan(ci[0]) and math.isnan(ci[1])):
        method = "bootstrap over problems"
    elif not few and se is not None and not np.isnan(se).any():
        ci, method = (
            parametric_emergence_ci(yv, se, higher_is_better=higher_is_better, n_boot=n_boot, level=level, seed=seed),
            "parametric (stderr)",
        )
    elif not few and discontinuous and n is not None and not math.isnan(n) and n >= 1:
        se = binomial_stderr(yv, n)
        ci, method = (
            parametric_emergence_ci(yv, se, higher_is_better=higher_is_better, n_boot=n_boot, level=level, seed=seed),
            "parametric (binomial, n)",
        )
    else:
        ci = (math.nan, math.nan)
    judged = decide(
        [] if few else (yv if higher_is_better else -yv),
        [] if few else xv,
        score=score,
        threshold=threshold,
        ci=None if method == "none" else ci,
        stderr=se,
        n=n,
        chance=chance if higher_is_better else None,
        discontinuous=discontinuous,
        direction_known=direction_known,
        labels=labels,
    )
    return {
        "emergence_score": score,
        "linearity": math.nan if few else linearity_score(yv, xv),
        "straight_line": line,
        "threshold": threshold,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "ci_method": method,
        "verdict": judged.verdict,
        "reason": judged.reason,
        "late_share": judged.late_share,
        "p_change": judged.p_change,
    }
