"""Emergence scores: how abruptly does a metric change across a family of models ordered by scale?

Pure functions over plain sequences / numpy arrays (no pandas, no matplotlib), so any experiment that has a
scaling curve, language models or autoencoders, can score it.

* :func:`emergence_score`: BIG-bench "breakthroughness" (Srivastava et al. 2022, as quoted by Schaeffer et al.
  2023), with the zero-median case defined.
* :func:`linearity_score`: R^2 of a straight line in log x (this package's definition, see its docstring).
* :func:`straight_line_score`: the emergence score a curve that is exactly linear in log x would get on the same
  x; the natural yardstick, because even a perfectly smooth curve of n equally spaced models scores n - 1.
* :func:`bootstrap_emergence_ci`: a percentile bootstrap interval over the problems of each model.
* :func:`parametric_emergence_ci`: the interval when only each value's standard error is known (results files
  carry ``<metric>_stderr``): a parametric bootstrap of the curve.
* :func:`emergence_verdict`: the score-versus-yardstick step; the full decision rule (noise, chance,
  resolution, shape) is :func:`lm_eval_mirage.analysis.verdict.decide`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

import numpy as np

__all__ = [
    "DEFAULT_THRESHOLD_FACTOR",
    "emergence_score",
    "linearity_score",
    "straight_line_score",
    "bootstrap_emergence_ci",
    "parametric_emergence_ci",
    "emergence_verdict",
]

NanPolicy = Literal["propagate", "omit", "raise"]

#: A curve "looks emergent" when its score is at least this many times the score of a straight line in log x
#: over the same x (see :func:`emergence_verdict`). With the paper's closed form on its four model sizes, exact
#: match of 4- and 5-token targets passes 1.5 (ratios 1.63 and 2.45) while 1- to 3-token targets and token edit
#: distance (ratio 0.73 for every length) do not: the rule separates the shapes the paper's Fig. 2 contrasts.
DEFAULT_THRESHOLD_FACTOR = 1.5


def _prepare(y: Sequence[float], x: Sequence[float] | None, nan_policy: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Validate, drop or flag NaN, and sort by x. Returns ``None`` when a NaN must propagate."""
    if nan_policy not in ("propagate", "omit", "raise"):
        raise ValueError(f"nan_policy={nan_policy!r}: accepted values are 'propagate', 'omit', 'raise'")
    yv = np.asarray(y, dtype=float).reshape(-1)
    xv = np.arange(len(yv), dtype=float) if x is None else np.asarray(x, dtype=float).reshape(-1)
    if xv.shape != yv.shape:
        raise ValueError(f"x has {xv.size} values but y has {yv.size}: give one x per y")
    bad = np.isnan(yv) | np.isnan(xv)
    if bad.any():
        if nan_policy == "raise":
            raise ValueError(f"y or x contains NaN at positions {np.flatnonzero(bad).tolist()} (nan_policy='raise')")
        if nan_policy == "propagate":
            return None
        yv, xv = yv[~bad], xv[~bad]
    order = np.argsort(xv, kind="stable")
    return yv[order], xv[order]


def _breakthroughness(y: np.ndarray) -> float:
    """The score of values already in scale order, higher is better (no validation)."""
    if y.size < 2:
        return math.nan
    spread = float(y.max() - y.min())
    if spread == 0.0:
        return 0.0
    sign = 1.0 if int(np.argmax(y)) > int(np.argmin(y)) else -1.0
    median_sq = float(np.median(np.diff(y) ** 2))
    if median_sq == 0.0:
        return sign * math.inf
    return sign * spread / math.sqrt(median_sq)


def _breakthroughness_rows(values: np.ndarray) -> np.ndarray:
    """:func:`_breakthroughness` of each row of a (curves x models) array, vectorised for the bootstrap."""
    spread = values.max(axis=1) - values.min(axis=1)
    sign = np.where(values.argmax(axis=1) > values.argmin(axis=1), 1.0, -1.0)
    median_sq = np.median(np.diff(values, axis=1) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sign * spread / np.sqrt(median_sq)
    return np.where(spread == 0.0, 0.0, np.where(median_sq == 0.0, sign * np.inf, ratio))


def emergence_score(
    y: Sequence[float],
    x: Sequence[float] | None = None,
    *,
    higher_is_better: bool = True,
    nan_policy: NanPolicy = "propagate",
) -> float:
    """BIG-bench breakthroughness of a scaling curve.

    With the models ordered by scale ``x_1 < ... < x_n`` and values ``y_i`` (higher is better)::

        ES = sign(argmax_i y_i - argmin_i y_i) * (max y - min y) / sqrt(median_i (y_i - y_{i-1})**2)

    The sign compares positions: positive when the best model is larger than the worst (first position wins
    ties). Defined cases beyond the formula:

    * all values equal (a flat curve): ``0.0``;
    * median squared step zero but the values differ (half or more of the steps are exactly zero, e.g. exact
      match stuck at 0 for small models and then rising): ``+inf`` or ``-inf`` by the sign above: the curve is a
      pure jump, the most emergent shape there is;
    * fewer than two values: ``nan``.

    Args:
        y: metric values, one per model.
        x: scale of each model (parameters, steps, FLOPs); only its order matters here. ``None``: ``y`` is
            already in scale order.
        higher_is_better: ``False`` for losses and distances (token edit distance); they are negated first.
        nan_policy: ``"propagate"`` (any NaN gives ``nan``), ``"omit"`` (drop those models), ``"raise"``.

    Returns:
        The score (a float, possibly ``inf``).

    Example:
        >>> emergence_score([0.0, 0.25, 0.5, 0.75])      # a straight line of 4 models scores n - 1
        3.0
        >>> emergence_score([0.0, 0.0, 0.0, 0.9])        # a pure jump
        inf
        >>> emergence_score([0.0, 0.01, 0.02, 0.9])
        90.0
        >>> emergence_score([4.0, 3.0, 2.0, 1.0], higher_is_better=False)   # a distance that falls steadily
        3.0
        >>> emergence_score([0.5, 0.2], x=[2e9, 1e8])    # sorted by x first
        1.0
    """
    prepared = _prepare(y, x, nan_policy)
    if prepared is None:
        return math.nan
    yv, _ = prepared
    return _breakthroughness(yv if higher_is_better else -yv)


def straight_line_score(x: Sequence[float]) -> float:
    """The emergence score of ``y = log10(x)``: what a curve exactly linear in log scale scores on these x.

    It depends on the spacing of the models only: ``n - 1`` for n models equally spaced in log x.

    Example:
        >>> straight_line_score([1e8, 1e9, 1e10, 1e11])
        3.0
        >>> round(straight_line_score([3.5e8, 1.3e9, 6.7e9, 1.75e11]), 3)
        3.79
    """
    xv = np.asarray(x, dtype=float).reshape(-1)
    if np.any(xv <= 0) or np.any(np.isnan(xv)):
        raise ValueError(f"x must be positive numbers to take logs, got {xv.tolist()}")
    return _breakthroughness(np.log10(np.sort(xv)))


def linearity_score(
    y: Sequence[float],
    x: Sequence[float] | None = None,
    *,
    log_x: bool = True,
    nan_policy: NanPolicy = "propagate",
) -> float:
    """How well a straight line in log x explains the curve: the R^2 of a least-squares fit.

    ``R^2 = 1 - sum (y_i - yhat_i)**2 / sum (y_i - mean y)**2`` with ``yhat = a + b * log10(x)``. ``1`` means
    exactly linear (the mirage's prediction for a continuous metric), values near ``0`` mean no linear trend.
    This is this package's definition (BIG-bench's own "linearity" is not what is computed here). The
    direction of the metric does not matter (R^2 is symmetric). Defined cases: a constant curve is fit exactly
    (``1.0``); two models always lie on a line (``1.0``); fewer than two give ``nan``.

    Args:
        y: metric values, one per model.
        x: scale of each model; ``None`` uses positions ``1..n``.
        log_x: fit against ``log10(x)`` (default) or against ``x``.
        nan_policy: as in :func:`emergence_score`.

    Example:
        >>> linearity_score([1.0, 2.0, 3.0], x=[1e8, 1e9, 1e10])
        1.0
        >>> round(linearity_score([0.0, 0.0, 0.0, 1.0], x=[1e8, 1e9, 1e10, 1e11]), 3)
        0.6
    """
    prepared = _prepare(y, x if x is not None else np.arange(1, len(np.atleast_1d(y)) + 1), nan_policy)
    if prepared is None:
        return math.nan
    yv, xv = prepared
    if yv.size < 2:
        return math.nan
    if log_x:
        if np.any(xv <= 0):
            raise ValueError(f"x must be positive for log_x=True, got {xv.tolist()}")
        xv = np.log10(xv)
    total = float(np.sum((yv - yv.mean()) ** 2))
    if total == 0.0 or yv.size == 2:
        return 1.0
    if np.ptp(xv) == 0.0:
        return 0.0  # every model at the same x: no line in x explains anything
    slope, intercept = np.polyfit(xv, yv, 1)
    residual = float(np.sum((yv - (intercept + slope * xv)) ** 2))
    return round(max(0.0, 1.0 - residual / total), 12)


@lru_cache(maxsize=16)
def _bootstrap_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot x n) draw counts of a bootstrap resample of n items, read-only (cached)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    counts = np.bincount((idx + np.arange(n_boot)[:, None] * n).ravel(), minlength=n_boot * n)
    counts = counts.reshape(n_boot, n).astype(np.float64)
    counts.setflags(write=False)
    return counts


def bootstrap_emergence_ci(
    samples: Sequence[Sequence[float]],
    x: Sequence[float] | None = None,
    *,
    higher_is_better: bool = True,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    paired: bool | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap interval of :func:`emergence_score` over the problems each model was scored on.

    Each replicate resamples every model's per-problem values with replacement, takes their means (the task
    metric) and scores the curve. When every model saw the same problems in the same order (equal lengths,
    the harness's layout for one task), ``paired`` resampling draws the same problem indices for all models,
    which keeps the between-model comparison on a common test set.

    Args:
        samples: one sequence of per-problem values per model (NaN values are dropped per model).
        x: scale of each model (sort order); ``None``: already ordered.
        higher_is_better: as in :func:`emergence_score`.
        n_boot: number of replicates (at least 10).
        level: coverage of the interval, in (0, 1).
        seed: seed of the numpy generator, for a reproducible interval.
        paired: ``None`` pairs when all lengths are equal.

    Returns:
        ``(low, high)``; order statistics of the replicates (no interpolation, so ``inf`` bounds stay exact).
        ``(nan, nan)`` for fewer than two models.

    Example:
        >>> em = [[0] * 50, [0] * 49 + [1], [1] * 10 + [0] * 40, [1] * 45 + [0] * 5]
        >>> low, high = bootstrap_emergence_ci(em, n_boot=200)
        >>> bool(low <= emergence_score([sum(s) / 50 for s in em]) <= high)
        True
    """
    if n_boot < 10:
        raise ValueError(f"n_boot={n_boot}: use at least 10 replicates")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level}: must be in (0, 1)")
    arrays = [np.asarray(s, dtype=float).reshape(-1) for s in samples]
    arrays = [a[~np.isnan(a)] for a in arrays]
    if len(arrays) < 2:
        return (math.nan, math.nan)
    empty = [i for i, a in enumerate(arrays) if a.size == 0]
    if empty:
        raise ValueError(f"samples of models at positions {empty} are empty: each model needs at least one value")
    order = np.argsort(np.arange(len(arrays)) if x is None else np.asarray(x, dtype=float), kind="stable")
    arrays = [arrays[i] for i in order]
    sizes = {a.size for a in arrays}
    if paired is None:
        paired = len(sizes) == 1
    elif paired and len(sizes) != 1:
        raise ValueError(f"paired=True needs the same number of problems for every model, got sizes {sorted(sizes)}")
    # Replicate b weights problem j by how often it was drawn (counts of a multinomial draw); the weights
    # depend only on (problems, replicates, seed), so they are cached and shared by every curve of a task.
    if paired:
        matrix = np.vstack(arrays)  # models x problems
        means = _bootstrap_counts(matrix.shape[1], n_boot, seed) @ matrix.T / matrix.shape[1]  # replicates x models
    else:
        means = np.column_stack(
            [_bootstrap_counts(a.size, n_boot, seed + 1 + i) @ a / a.size for i, a in enumerate(arrays)]
        )
    scores = _breakthroughness_rows(means if higher_is_better else -means)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(scores, [tail, 1.0 - tail], method="inverted_cdf")
    return float(low), float(high)


def parametric_emergence_ci(
    values: Sequence[float],
    stderr: Sequence[float],
    x: Sequence[float] | None = None,
    *,
    higher_is_better: bool = True,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Parametric bootstrap interval of :func:`emergence_score` from each model's value and standard error.

    Each replicate draws every model's value independently from ``N(value, stderr)`` and scores the curve; the
    interval is the percentile interval of the replicates (vectorised; the same ``seed`` gives the same
    interval). This is what a results file without samples allows: the harness writes ``<metric>_stderr``
    beside every value. Independence across models is conservative when all models saw the same problems.

    Args:
        values: one value per model; stderr: one standard error per model (``0`` means exact).
        x, higher_is_better, n_boot, level, seed: as in :func:`bootstrap_emergence_ci`.

    Returns:
        ``(low, high)``; ``(nan, nan)`` for fewer than two models or when a standard error is NaN or negative.

    Example:
        >>> low, high = parametric_emergence_ci([0.19, 0.19, 0.20, 0.23, 0.23, 0.21, 0.24, 0.19], [0.025] * 8)
        >>> bool(low < 0 < high)     # noise around chance: the score's sign is not even known
        True
        >>> parametric_emergence_ci([0.0, 0.5, 1.0], [0.0, 0.0, 0.0], n_boot=20)
        (2.0, 2.0)
    """
    if n_boot < 10:
        raise ValueError(f"n_boot={n_boot}: use at least 10 replicates")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level}: must be in (0, 1)")
    yv = np.asarray(values, dtype=float).reshape(-1)
    se = np.asarray(stderr, dtype=float).reshape(-1)
    if se.shape != yv.shape:
        raise ValueError(f"stderr has {se.size} values but values has {yv.size}: give one standard error per value")
    if yv.size < 2 or np.isnan(se).any() or np.isnan(yv).any() or (se < 0).any():
        return (math.nan, math.nan)
    if x is not None:
        order = np.argsort(np.asarray(x, dtype=float), kind="stable")
        yv, se = yv[order], se[order]
    draws = yv + se * np.random.default_rng(seed).standard_normal((n_boot, yv.size))
    scores = _breakthroughness_rows(draws if higher_is_better else -draws)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(scores, [tail, 1.0 - tail], method="inverted_cdf")
    return float(low), float(high)


def emergence_verdict(
    score: float,
    x: Sequence[float],
    *,
    ci: tuple[float, float] | None = None,
    threshold_factor: float = DEFAULT_THRESHOLD_FACTOR,
) -> str:
    """Classify a score against the straight-line yardstick :func:`straight_line_score` of the same x.

    ``threshold = threshold_factor * straight_line_score(x)``. Returns one of:

    * ``"too few models"``: fewer than three distinct x (any two points are "a jump" and "a line" at once);
    * ``"flat (within noise)"``: score exactly 0 (no change at all, e.g. a metric stuck at the floor);
    * ``"emergent"``: ``score >= threshold`` (and, with a ``ci``, its lower bound too);
    * ``"inverse emergent"``: ``score <= -threshold`` (a sudden drop; with a ``ci``, its upper bound too);
    * ``"uncertain"``: the score passes the threshold but the interval reaches below it;
    * ``"smooth"``: otherwise.

    Example:
        >>> x = [1e8, 1e9, 1e10, 1e11]
        >>> emergence_verdict(3.0, x), emergence_verdict(float("inf"), x), emergence_verdict(7.0, x, ci=(2.0, 9.0))
        ('smooth', 'emergent', 'uncertain')
    """
    xv = np.asarray(x, dtype=float)
    xv = xv[~np.isnan(xv)]
    if np.unique(xv).size < 3 or math.isnan(score):
        return "too few models"
    if score == 0.0:
        return "flat (within noise)"
    threshold = threshold_factor * straight_line_score(xv)
    if score >= threshold:
        if ci is not None and not math.isnan(ci[0]) and ci[0] < threshold:
            return "uncertain"
        return "emergent"
    if score <= -threshold:
        if ci is not None and not math.isnan(ci[1]) and ci[1] > -threshold:
            return "uncertain"
        return "inverse emergent"
    return "smooth"
