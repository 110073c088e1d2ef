"""The paper's model: a power law in per-token cross-entropy predicts a jump in exact match and none in TED.

Schaeffer et al. (2023, section 2): ``L_CE(N) = (N / c) ** alpha``, ``p(N) = exp(-L_CE(N))``; on a target of
``L`` tokens, exact match ``~ p ** L`` (sharp for large ``L``) and token edit distance ``~ L * (1 - p)``
(smooth). :func:`fit_power_law` fits ``c`` and ``alpha`` by least squares in log-log space;
:func:`predict` gives the closed-form curves; :func:`fit_table` and :func:`prediction_table` do both for every
task of a tidy table that has a per-token log-likelihood (the ``*_ll`` likelihood twins of the arithmetic tasks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from lm_eval_mirage.analysis.table import split_order, tidy

__all__ = [
    "PAPER_C",
    "PAPER_ALPHA",
    "PAPER_N",
    "Prediction",
    "PowerLawFit",
    "power_law_cross_entropy",
    "predict",
    "fit_power_law",
    "fit_table",
    "prediction_table",
    "FIT_COLUMNS",
    "PREDICTION_COLUMNS",
    "R2_MIN",
    "fit_warning",
]

#: Constants and model sizes that reproduce the paper's illustrative figure (GPT-3 family sizes).
PAPER_C = 2e9
PAPER_ALPHA = -0.5
PAPER_N = (3.5e8, 1.3e9, 6.7e9, 1.75e11)

FIT_COLUMNS = (
    "family",
    "series",
    "task",
    "fit_task",
    "filter",
    "split",
    "metric",
    "c",
    "alpha",
    "r2",
    "n_models",
    "x_min",
    "x_max",
    "L",
    "L_source",
    "error",
    "warning",
)
#: A fit whose R^2 (log-log space) is below this explains too little of the loss to predict from.
R2_MIN = 0.8
PREDICTION_COLUMNS = (
    "family",
    "series",
    "task",
    "split",
    "model",
    "x",
    "metric",
    "filter",
    "observed",
    "predicted",
    "L",
    "L_unit",
)


class Prediction(NamedTuple):
    """Closed-form curves at the given sizes (numpy arrays broadcast from ``N`` and ``L``)."""

    cross_entropy: np.ndarray
    p: np.ndarray
    exact_match: np.ndarray
    token_edit_distance: np.ndarray


def power_law_cross_entropy(N: float | Sequence[float] | np.ndarray, c: float, alpha: float) -> np.ndarray:
    """``L_CE(N) = (N / c) ** alpha``, the per-token cross-entropy (nats) of a model of ``N`` parameters.

    Example:
        >>> float(power_law_cross_entropy(2e9, c=2e9, alpha=-0.5)), float(power_law_cross_entropy(8e9, 2e9, -0.5))
        (1.0, 0.5)
    """
    return (np.asarray(N, dtype=float) / c) ** alpha


def predict(
    N: float | Sequence[float] | np.ndarray, c: float, alpha: float, L: float | Sequence[float] | np.ndarray
) -> Prediction:
    """Predicted exact match ``p ** L`` and token edit distance ``L * (1 - p)`` with ``p = exp(-(N/c)**alpha)``.

    ``N`` and ``L`` broadcast (e.g. ``N[:, None]`` and ``L[None, :]`` for a grid). The paper's appendix writes
    ``L * (1 - eps)`` with eps the per-token error rate; the correct form, used here, is ``L * eps = L * (1 - p)``.

    Args:
        N: model sizes (parameters, or whatever the fit used as x).
        c, alpha: the power law (``c > 0``; ``alpha < 0`` for a loss that falls with scale).
        L: target length in tokens.

    Example:
        >>> pr = predict([2e9, 8e9], c=2e9, alpha=-0.5, L=2)
        >>> pr.p.round(4).tolist(), pr.exact_match.round(4).tolist(), pr.token_edit_distance.round(4).tolist()
        ([0.3679, 0.6065], [0.1353, 0.3679], [1.2642, 0.7869])
    """
    if c <= 0:
        raise ValueError(f"c={c}: must be positive")
    ce = power_law_cross_entropy(N, c, alpha)
    p = np.exp(-ce)
    length = np.asarray(L, dtype=float)
    return Prediction(ce, p, p**length, length * (1.0 - p))


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted ``L_CE(N) = (N / c) ** alpha``; ``r2`` is the R^2 in log-log space."""

    c: float
    alpha: float
    r2: float
    n_models: int
    x_min: float
    x_max: float

    def cross_entropy(self, N: float | Sequence[float] | np.ndarray) -> np.ndarray:
        return power_law_cross_entropy(N, self.c, self.alpha)

    def predict(self, N: float | Sequence[float] | np.ndarray, L: float | Sequence[float] | np.ndarray) -> Prediction:
        return predict(N, self.c, self.alpha, L)


def fit_power_law(N: Sequence[float] | np.ndarray, cross_entropy: Sequence[float] | np.ndarray) -> PowerLawFit:
    """Least-squares fit of ``log L_CE = alpha * log N - alpha * log c``.

    Args:
        N: sizes (positive), at least two distinct.
        cross_entropy: per-token cross-entropy in nats (positive), e.g. ``-per_token_logprob``.

    Raises:
        ValueError: fewer than two usable points, non-positive values, or a flat loss (``alpha == 0`` leaves ``c``
        undefined).

    Example:
        >>> N = np.array([1e8, 1e9, 1e10, 1e11])
        >>> fit = fit_power_law(N, (N / 2e9) ** -0.5)
        >>> float(f"{fit.c:.6g}"), round(fit.alpha, 9), fit.r2
        (2000000000.0, -0.5, 1.0)
    """
    n = np.asarray(N, dtype=float).reshape(-1)
    ce = np.asarray(cross_entropy, dtype=float).reshape(-1)
    if n.shape != ce.shape:
        raise ValueError(f"N has {n.size} values but cross_entropy has {ce.size}")
    ok = np.isfinite(n) & np.isfinite(ce)
    n, ce = n[ok], ce[ok]
    if np.unique(n).size < 2:
        raise ValueError(f"a power-law fit needs at least two distinct sizes, got {n.tolist()}")
    if np.any(n <= 0) or np.any(ce <= 0):
        raise ValueError(
            f"N and cross_entropy must be positive (cross-entropy in nats, -log p), got N={n.tolist()}, "
            f"cross_entropy={ce.tolist()}"
        )
    lx, ly = np.log(n), np.log(ce)
    alpha, intercept = np.polyfit(lx, ly, 1)
    if np.ptp(ly) <= 1e-12 * max(1.0, float(np.abs(ly).max())) or not np.isfinite(alpha):
        raise ValueError("the cross-entropy does not change with N (alpha = 0): c is undefined")
    residual = float(np.sum((ly - (intercept + alpha * lx)) ** 2))
    total = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 if total == 0.0 else max(0.0, 1.0 - residual / total)
    c = float(np.exp(-intercept / alpha))
    return PowerLawFit(c, float(alpha), round(r2, 12), int(n.size), float(n.min()), float(n.max()))


def _generation_task(fit_task: str, tasks: set[str]) -> str:
    """The generation task whose exact match a likelihood task predicts (``X_ll`` -> ``X``)."""
    if fit_task.endswith("_ll") and fit_task[:-3] in tasks:
        return fit_task[:-3]
    return fit_task


#: Per-unit log-likelihood metric -> the metric counting its units (the L of ``p**L``).
LENGTH_METRICS = {"per_token_logprob": "target_tokens", "per_char_logprob": "target_chars"}


def _target_length(df: pd.DataFrame, series: str, tasks: Sequence[str], split: str, metric: str) -> tuple[float, str]:
    """L in the units of the observed metrics: answer digits (exact match and TED are scored on the parsed
    digits), else the twin's own length metric (model tokens of ``" <answer>\n"``, space and newline included)."""
    if split.startswith("digits="):
        return float(split.split("=", 1)[1]), "answer digits"
    for task in tasks:
        splits = df[(df["series"] == series) & (df["task"] == task) & df["target_digits"].notna() & df["n"].notna()]
        splits = splits.drop_duplicates(["split"])
        if not splits.empty and splits["n"].sum() > 0:
            return float((splits["target_digits"] * splits["n"]).sum() / splits["n"].sum()), "mean answer digits"
    length_metric = LENGTH_METRICS.get(metric, "target_tokens")
    sel = df[
        (df["series"] == series) & (df["task"] == tasks[-1]) & (df["metric"] == length_metric) & (df["split"] == split)
    ]
    if sel["value"].notna().any():
        return float(sel["value"].mean()), length_metric
    return math.nan, "unknown"


def fit_warning(fit: PowerLawFit) -> str:
    """Why a fit must not be used for predictions (empty when it may): the documented bounds.

    ``c`` not finite or not positive, ``alpha >= 0`` (a loss that does not fall with scale), fewer than three
    models (two points always fit exactly), or ``r2 < R2_MIN``.

    Example:
        >>> fit_warning(PowerLawFit(2e9, -0.5, 0.99, 5, 1e8, 1e10))
        ''
        >>> fit_warning(PowerLawFit(0.0, -0.004, 0.3, 3, 1e6, 4e6))
        'c = 0 is not a positive finite number; R^2 = 0.3 < 0.8'
    """
    out = []
    if not (math.isfinite(fit.c) and fit.c > 0):
        out.append(f"c = {fit.c:.4g} is not a positive finite number")
    if not fit.alpha < 0:
        out.append(f"alpha = {fit.alpha:.4g} >= 0: the loss does not fall with scale")
    if fit.n_models < 3:
        out.append(f"only {fit.n_models} models: two points always fit exactly")
    if fit.r2 < R2_MIN:
        out.append(f"R^2 = {fit.r2:.4g} < {R2_MIN:g}")
    return "; ".join(out)


def fit_table(table: pd.DataFrame, *, metric: str | None = None) -> pd.DataFrame:
    """Fit the power law to every (series, task, filter, split) curve of ``metric`` in a tidy table.

    ``metric`` defaults to ``per_token_logprob`` for tasks that have it and ``per_char_logprob`` (what the
    likelihood twins report when no tokenizer is known) for the others.

    The cross-entropy is ``-value`` (a log-likelihood; use a metric that is already a cross-entropy by naming it
    and giving it ``higher_is_better=False``). ``L``, the target length used for predictions, is the mean
    answer digits of the split, else the mean answer digits over the splits (from the samples), the units in
    which exact match and token edit distance are observed; without samples, the twin's ``target_tokens``
    (model tokens of ``" <answer>\n"``, space and newline included: ``L_source`` says which). ``task`` names
    the generation task predicted (``X`` for ``X_ll``). A curve that cannot be fitted gets NaN and the reason in
    ``error``; a meaningless fit (:func:`fit_warning`: ``c`` not positive and finite, ``alpha >= 0``, fewer
    than 3 models, ``R^2 < R2_MIN``) gets NaN ``c``/``alpha`` too (so that nothing predicts or draws from it)
    and its numbers and the reason in ``warning``. Columns: :data:`FIT_COLUMNS`.
    """
    df = tidy(table)
    tasks = set(df["task"])
    if metric is None:
        with_tokens = set(df.loc[df["metric"] == "per_token_logprob", "task"])
        chosen = (df["metric"] == "per_token_logprob") | (
            (df["metric"] == "per_char_logprob") & ~df["task"].isin(with_tokens)
        )
    else:
        chosen = df["metric"] == metric
    rows = []
    for (family, series, fit_task, filt, split, used), g in df[chosen].groupby(
        ["family", "series", "task", "filter", "split", "metric"], sort=True
    ):
        g = g[g["x"].notna() & g["value"].notna()]
        ce = -g["value"].to_numpy() if bool(g["higher_is_better"].iloc[0]) else g["value"].to_numpy()
        task = _generation_task(fit_task, tasks)
        L, L_source = _target_length(df, series, [task, fit_task], split, used)
        row = {
            "family": family,
            "series": series,
            "task": task,
            "fit_task": fit_task,
            "filter": filt,
            "split": split,
            "metric": used,
            "n_models": len(g),
            "L": L,
            "L_source": L_source,
            "error": "",
            "warning": "",
        }
        try:
            with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
                fit = fit_power_law(g["x"].to_numpy(), ce)
            row.update(c=fit.c, alpha=fit.alpha, r2=fit.r2, x_min=fit.x_min, x_max=fit.x_max)
            if warning := fit_warning(fit):
                row.update(
                    c=math.nan,
                    alpha=math.nan,
                    warning=f"{fit_task}: not used for predictions: {warning} "
                    f"(fitted c = {fit.c:.4g}, alpha = {fit.alpha:.4g}, R^2 = {fit.r2:.4g})",
                )
        except (ValueError, FloatingPointError, ZeroDivisionError) as exc:
            row.update(
                c=math.nan, alpha=math.nan, r2=math.nan, x_min=math.nan, x_max=math.nan, error=f"{fit_task}: {exc}"
            )
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(FIT_COLUMNS))
    return out.sort_values(
        ["family", "series", "task", "filter", "split"],
        key=lambda c: split_order(c) if c.name == "split" else c,
        kind="stable",
    ).reset_index(drop=True)


def _unit(source: str) -> str:
    return (
        "answer digits"
        if "digits" in source
        else "model tokens"
        if "tokens" in source
        else ("characters" if "chars" in source else source)
    )


def prediction_table(
    table: pd.DataFrame, fits: pd.DataFrame, *, filter_preference: Sequence[str] = ("parsed", "none", "raw")
) -> pd.DataFrame:
    """Predicted exact match and token edit distance at each model's x, next to the observed values.

    For each fit (from :func:`fit_table`) with a known ``L``, every model of that series and generation task
    gets ``predicted = p(x) ** L`` for ``exact_match`` and ``L * (1 - p(x))`` for ``token_edit_distance``;
    ``observed`` is the task's value under the first available filter of ``filter_preference`` (NaN when the
    generation task was not run); ``L_unit`` says what ``L`` counts (``answer digits``, the units of the observed
    metrics, when the samples tell them; else ``model tokens``). Fits without ``c`` (failed or flagged) predict
    nothing. Columns: :data:`PREDICTION_COLUMNS`.
    """
    df = tidy(table)
    rows = []
    for fit in fits.itertuples(index=False):
        if math.isnan(fit.c) or math.isnan(fit.L):
            continue
        for metric in ("exact_match", "token_edit_distance"):
            obs = df[
                (df["series"] == fit.series)
                & (df["task"] == fit.task)
                & (df["split"] == fit.split)
                & (df["metric"] == metric)
            ]
            filt = next((f for f in filter_preference if (obs["filter"] == f).any()), None)
            obs = obs[obs["filter"] == filt] if filt else obs
            models = df[(df["series"] == fit.series) & (df["task"].isin([fit.task, fit.fit_task])) & df["x"].notna()]
            for model, x in models.drop_duplicates("model")[["model", "x"]].itertuples(index=False):
                pr = predict(x, fit.c, fit.alpha, fit.L)
                observed = obs.loc[obs["model"] == model, "value"]
                rows.append(
                    {
                        "family": fit.family,
                        "series": fit.series,
                        "task": fit.task,
                        "split": fit.split,
                        "model": model,
                        "x": x,
                        "metric": metric,
                        "filter": filt or "",
                        "L": fit.L,
                        "L_unit": _unit(fit.L_source),
                        "observed": float(observed.iloc[0]) if len(observed) else math.nan,
                        "predicted": float(pr.exact_match if metric == "exact_match" else pr.token_edit_distance),
                    }
                )
    return pd.DataFrame(rows, columns=list(PREDICTION_COLUMNS))
