"""Calibrate the verdict rule on simulated curves whose truth is known: false-positive and false-negative rates.

Each simulated curve is a noise-free shape ``g`` over a grid of model sizes, observed with measurement noise
the way a results file reports it (value and standard error, ``n`` problems), then judged by
:func:`~lm_eval_mirage.analysis.verdict.judge_curve` exactly as the emergence table does.

Shapes:

* ``exact match``: the paper's closed form ``p(N)**L``, ``p = exp(-(N/c)**alpha)``, observed as
  ``Binomial(n, p**L) / n`` with the harness's standard error ``sqrt(y(1-y)/(n-1))``;
* ``edit distance``: ``L * (1 - p)`` (lower is better), the mean of ``n`` problems' ``Binomial(L, 1-p)``;
* controls: straight line, concave (saturating), early sigmoid, late sigmoid in log x, flat, and
  multiple-choice accuracy at chance (0.25) or slowly above it, with Gaussian or binomial noise.

Truth comes from the noise-free shape only: ``late share`` (the share of the net change in the upper half of
the log-x range, :func:`~lm_eval_mirage.analysis.verdict.late_share`) at least 0.9 is EMERGENT (near-flat for
the smaller half, then the change), at most 0.6 (or no change at all) is NOT EMERGENT, anything between is
BORDERLINE (reported, not scored). A curve whose whole true change is below 5 standard errors of the largest
model is UNRESOLVABLE (reported, not scored: no rule can see it). False positive: a not-emergent curve called
``emergent`` or ``inverse emergent``; false negative: an emergent curve not called ``emergent`` (``uncertain``
is counted apart).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np

from lm_eval_mirage.analysis.verdict import judge_curve, late_share

__all__ = ["GRIDS", "simulate_curves", "calibrate", "format_rates"]

#: Model-size grids: Pythia's 8 sizes, the paper's 4 GPT-3 sizes, the simulator's 5 sizes.
GRIDS: dict[str, tuple[float, ...]] = {
    "pythia-8": (
        70_426_624,
        162_322_944,
        405_334_016,
        1_011_781_632,
        1_414_647_808,
        2_775_208_960,
        6_857_302_016,
        11_846_072_320,
    ),
    "paper-4": (3.5e8, 1.3e9, 6.7e9, 1.75e11),
    "sim-5": (1e8, 4e8, 1.6e9, 6.4e9, 2.56e10),
}
EMERGENT_SHARE, NOT_EMERGENT_SHARE, RESOLVABLE_SE = 0.9, 0.6, 5.0


def _truth(g: np.ndarray, log_x: np.ndarray, se_last: float) -> str:
    change = abs(float(g[-1] - g[0]))
    if change == 0.0 or np.ptp(g) == 0.0:
        return "not emergent"
    if change < RESOLVABLE_SE * se_last:
        return "unresolvable"
    share = late_share(g, log_x)
    if share >= EMERGENT_SHARE:
        return "emergent"
    return "not emergent" if share <= NOT_EMERGENT_SHARE else "borderline"


def simulate_curves(*, reps: int = 10, seed: int = 0) -> Iterator[dict]:
    """Yield simulated observed curves with their truth: dicts of family, grid, y, stderr, n, truth, kwargs.

    Deterministic for a ``seed`` (one numpy generator, fixed iteration order).
    """
    rng = np.random.default_rng(seed)
    for grid_name, grid in GRIDS.items():
        x = np.asarray(grid, dtype=float)
        lx = np.log10(x)
        t = (lx - lx[0]) / (lx[-1] - lx[0])
        for u in (0.0, 0.33, 0.66, 1.0):
            c = x[0] * 10 ** (u * (lx[-1] - lx[0]))
            for alpha in (-0.3, -0.5, -0.8):
                p = np.exp(-((x / c) ** alpha))
                for L in (1, 2, 4, 8, 16):
                    for n in (50, 200, 1000):
                        g = p**L
                        truth = _truth(g, lx, math.sqrt(max(g[-1] * (1 - g[-1]), 1.0 / n) / n))
                        for _ in range(reps):
                            y = rng.binomial(n, g) / n
                            se = np.sqrt(y * (1 - y) / (n - 1))
                            yield {
                                "family": "exact match (p^L)",
                                "grid": grid_name,
                                "x": x,
                                "y": y,
                                "stderr": se,
                                "n": float(n),
                                "truth": truth,
                                "discontinuous": True,
                                "higher": True,
                            }
                        ted = L * (1 - p)
                        ted_se = np.sqrt(L * p * (1 - p) / n)
                        truth = _truth(-ted, lx, float(max(ted_se[-1], 1e-12)))
                        for _ in range(reps):
                            y = ted + ted_se * rng.standard_normal(x.size)
                            yield {
                                "family": "edit distance L(1-p)",
                                "grid": grid_name,
                                "x": x,
                                "y": y,
                                "stderr": ted_se,
                                "n": float(n),
                                "truth": truth,
                                "discontinuous": False,
                                "higher": False,
                            }
        shapes = {
            "linear": 0.2 + 0.5 * t,
            "concave k=3": 0.2 + 0.5 * (1 - np.exp(-3 * t)) / (1 - math.exp(-3)),
            "concave k=6": 0.2 + 0.5 * (1 - np.exp(-6 * t)) / (1 - math.exp(-6)),
            "sigmoid early": 0.2 + 0.5 / (1 + np.exp(-12 * (t - 0.25))),
            "sigmoid late": 0.2 + 0.5 / (1 + np.exp(-20 * (t - 0.8))),
            "sigmoid late steep": 0.2 + 0.5 / (1 + np.exp(-40 * (t - 0.85))),
            "flat": np.full(x.size, 0.4),
        }
        for name, g in shapes.items():
            for noise in (0.005, 0.02, 0.05):
                truth = _truth(g, lx, noise)
                for _ in range(reps * 3):
                    y = g + noise * rng.standard_normal(x.size)
                    yield {
                        "family": "controls (gaussian)",
                        "shape": name,
                        "grid": grid_name,
                        "x": x,
                        "y": y,
                        "stderr": np.full(x.size, noise),
                        "n": None,
                        "truth": truth,
                        "discontinuous": False,
                        "higher": True,
                    }
        for name, g in {"at chance": np.full(x.size, 0.25), "slowly above chance": 0.25 + 0.1 * t}.items():
            for n in (100, 300, 1000):
                truth = _truth(g, lx, math.sqrt(g[-1] * (1 - g[-1]) / n))
                for _ in range(reps * 3):
                    y = rng.binomial(n, g) / n
                    yield {
                        "family": "multiple choice (chance 0.25)",
                        "shape": name,
                        "grid": grid_name,
                        "x": x,
                        "y": y,
                        "stderr": np.sqrt(y * (1 - y) / (n - 1)),
                        "n": float(n),
                        "truth": truth,
                        "discontinuous": True,
                        "higher": True,
                        "chance": 0.25,
                    }


def calibrate(*, reps: int = 10, seed: int = 0, n_boot: int = 200, threshold_factor: float = 1.5) -> dict:
    """Judge every simulated curve; counts per (family, truth, verdict) and the error rates per family.

    Returns ``{"families": {family: {"counts": {truth: {verdict: k}}, "false_positive_rate",
    "false_negative_rate", "uncertain_rate", "n_emergent", "n_not_emergent"}}, "settings": {...}}``.
    """
    counts: dict[str, dict[str, Counter]] = {}
    for i, curve in enumerate(simulate_curves(reps=reps, seed=seed)):
        judged = judge_curve(
            curve["y"],
            curve["x"],
            higher_is_better=curve["higher"],
            stderr=curve["stderr"],
            n=curve["n"],
            chance=curve.get("chance"),
            discontinuous=curve["discontinuous"],
            threshold_factor=threshold_factor,
            n_boot=n_boot,
            seed=seed + i,
        )
        counts.setdefault(curve["family"], {}).setdefault(curve["truth"], Counter())[judged["verdict"]] += 1
    families = {}
    for family, by_truth in counts.items():
        pos, neg = by_truth.get("emergent", Counter()), by_truth.get("not emergent", Counter())
        n_pos, n_neg = sum(pos.values()), sum(neg.values())
        families[family] = {
            "counts": {t: dict(sorted(c.items())) for t, c in sorted(by_truth.items())},
            "n_emergent": n_pos,
            "n_not_emergent": n_neg,
            "false_positive_rate": (neg["emergent"] + neg["inverse emergent"]) / n_neg if n_neg else math.nan,
            "false_negative_rate": (n_pos - pos["emergent"]) / n_pos if n_pos else math.nan,
            "uncertain_rate": pos["uncertain"] / n_pos if n_pos else math.nan,
        }
    return {
        "families": families,
        "settings": {"reps": reps, "seed": seed, "n_boot": n_boot, "threshold_factor": threshold_factor},
    }


def format_rates(result: dict) -> str:
    """A Markdown table of the rates (what docs/analysis.md quotes)."""
    lines = [
        "| curves | truth: emergent | truth: not emergent | false positives | false negatives (of which uncertain) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for family, r in result["families"].items():
        fp = "n/a" if math.isnan(r["false_positive_rate"]) else f"{r['false_positive_rate']:.1%}"
        fn = (
            "n/a"
            if math.isnan(r["false_negative_rate"])
            else f"{r['false_negative_rate']:.1%} ({r['uncertain_rate']:.1%})"
        )
        lines.append(f"| {family} | {r['n_emergent']} | {r['n_not_emergent']} | {fp} | {fn} |")
    return "\n".join(lines)


def _shares(values: Sequence[float]) -> str:  # pragma: no cover - debugging aid
    return ", ".join(f"{v:.2f}" for v in values)
