"""Forecast the largest models from the smaller ones, and score the forecast against what was observed.

Per series (a family's curve), the ``holdout`` largest models by ``x`` are left out of every fit: nothing of
their results is read except the value to compare with (``observed``), their size ``x`` and which problems
they were given (``doc_id``, answer digits, their number ``n``). Two methods:

``likelihood`` (generation tasks with a likelihood twin ``<task>_ll``, or their own ``per_token_logprob``):
    fit ``L_CE(N) = (N/c)**alpha`` to the mean per-token cross-entropy ``-per_token_logprob`` of the smaller
    models (least squares in log-log space), then for each problem ``i`` of the held-out model, with ``T_i``
    model tokens in its scored continuation and ``D_i`` answer digits: exact match ``mean_i p**T_i`` and token
    edit distance in digits ``mean_i D_i (1 - p**(T_i/D_i))``, ``p = exp(-L_CE)``. ``p**(T_i/D_i)`` is the
    per-digit probability that gives the whole answer the same probability as ``T_i`` tokens of probability
    ``p``: where a tokenizer groups digits (or scores a space and a newline too), token-level ``p`` is mapped
    to digits this way. ``T_i`` comes from the smaller models' samples of the same problem (same tokenizer).
``trend`` (every curve): the metric's own curve against ``log x``: a logistic (empirical-logit weighted least
    squares) for proportions (:data:`BOUNDED_METRICS`), a power law for positive losses such as perplexity
    (:data:`POSITIVE_LOSS_METRICS`, a line in log-log), a straight line otherwise.

Intervals (``low``, ``high``; ``level`` = 95% by default) are percentiles of a predictive distribution that
adds (1) the fit's uncertainty: a bootstrap over the smaller models' problems (paired when they saw the same
problems), or, without samples files, a parametric bootstrap from the results' ``stderr``; and (2) the
sampling noise of the observation with the held-out model's number of problems: Bernoulli per problem for
exact match (binomial), binomial per digit for token edit distance, a normal with the per-problem spread of
the largest fitted model for other metrics. ``benchmarks/forecast_coverage.py`` measures their coverage.

:func:`emergence_sizes` answers "when will it emerge?": the size at which the likelihood fit's exact match
crosses a threshold, with the interval of the fit bootstrap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lm_eval_mirage.analysis.sample_store import sample_index
from lm_eval_mirage.analysis.schema import (
    DISCONTINUOUS_METRICS,
    FILTER_PREFERENCE,
    NOT_SCORED_METRICS,
)
from lm_eval_mirage.analysis.table import split_order, tidy

__all__ = [
    "FORECAST_COLUMNS",
    "EMERGE_COLUMNS",
    "BAND_COLUMNS",
    "BOUNDED_METRICS",
    "POSITIVE_LOSS_METRICS",
    "ForecastOptions",
    "Forecast",
    "forecast",
    "logit_trend_fit",
    "linear_trend_fit",
    "crossing_size",
    "emergence_sizes",
    "summary_lines",
]

FORECAST_COLUMNS = (
    "family",
    "series",
    "task",
    "metric",
    "filter",
    "split",
    "model",
    "x",
    "observed",
    "predicted",
    "low",
    "high",
    "method",
    "n_fit",
    "covered",
)
EMERGE_COLUMNS = ("family", "series", "task", "split", "threshold", "x", "low", "high", "n_fit", "x_max_fit", "note")
BAND_COLUMNS = ("family", "series", "task", "metric", "filter", "split", "method", "x", "predicted", "low", "high")
#: Proportions in [0, 1]: the trend method fits a logistic in log x to these (a line to everything else).
BOUNDED_METRICS = frozenset(
    DISCONTINUOUS_METRICS
    | {
        "digit_accuracy",
        "normalized_edit_distance",
        "per_token_prob",
        "per_char_prob",
        "target_prob",
        "pixel_accuracy",
        "subset_accuracy",
        "acc_mutual_info",
        "f1",
        "mc1",
        "mc2",
    }
)
#: Positive, lower-is-better losses: the trend method fits a power law (a line in log-log) so they stay positive.
POSITIVE_LOSS_METRICS = frozenset({"ppl", "perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte", "mse"})
_LIKELIHOOD_METRICS = {"per_token_logprob": "target_tokens", "per_char_logprob": "target_chars"}
_LIKELIHOOD_TARGETS = ("exact_match", "token_edit_distance")
_GRID = 30
_BAND_REPS = 300  # replicates per grid point of a figure's band (the rows use all)


@dataclass(frozen=True)
class ForecastOptions:
    """What ``analyze --holdout K --emerge-at T`` asks for (built once by the command line)."""

    holdout: int = 2
    emerge_at: float = 0.5
    n_boot: int = 1000
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.holdout < 0:
            raise ValueError(f"--holdout {self.holdout}: must be 0 or more")
        if not 0.0 < self.emerge_at < 1.0:
            raise ValueError(f"--emerge-at {self.emerge_at}: must lie strictly between 0 and 1")
        if self.n_boot < 20:
            raise ValueError(f"n_boot={self.n_boot}: a forecast interval needs at least 20 replicates")


@dataclass
class Forecast:
    """What :func:`forecast` computed: the forecast rows, the emergence sizes, the bands for figures, notes."""

    table: pd.DataFrame
    emergence: pd.DataFrame
    bands: pd.DataFrame
    messages: list[str] = field(default_factory=list)


def _wls(logx: np.ndarray, Y: np.ndarray, W: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares ``Y ~ a + b logx`` row by row (``Y``, ``W``: (replicates, points)); NaN-safe."""
    Y = np.atleast_2d(np.asarray(Y, dtype=float))
    W = np.ones_like(Y) if W is None else np.atleast_2d(np.asarray(W, dtype=float)) * np.ones_like(Y)
    W = np.where(np.isfinite(Y), W, 0.0)
    Yz = np.where(np.isfinite(Y), Y, 0.0)
    sw = W.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx = (W * logx).sum(axis=1) / sw
        my = (W * Yz).sum(axis=1) / sw
        dx = logx[None, :] - mx[:, None]
        b = (W * dx * (Yz - my[:, None])).sum(axis=1) / (W * dx * dx).sum(axis=1)
    return my - b * mx, b


def logit_trend_fit(x: Sequence[float], y: Sequence[float], n: Sequence[float]) -> tuple[float, float]:
    """Logistic in log x, ``y ~ 1 / (1 + exp(-(a + b log x)))``, by empirical-logit weighted least squares.

    Each proportion ``y`` of ``n`` problems becomes ``z = logit((y n + 1/2) / (n + 1))`` with weight
    ``n q (1 - q)``, ``q`` the adjusted proportion (finite at 0 and 1, so a curve stuck at zero fits as flat).

    Example:
        >>> a, b = logit_trend_fit([1e8, 1e9, 1e10], [0.1, 0.5, 0.9], [1e6, 1e6, 1e6])
        >>> round(b * math.log(10), 2), round(1 / (1 + math.exp(-(a + b * math.log(1e9)))), 3)
        (2.2, 0.5)
    """
    a, b = _logit_fit(np.log(np.asarray(x, dtype=float)), np.asarray(y, dtype=float), np.asarray(n, dtype=float))
    return float(a[0]), float(b[0])


def _logit_fit(logx: np.ndarray, Y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    q = (np.clip(Y, 0.0, 1.0) * n + 0.5) / (n + 1.0)
    return _wls(logx, np.log(q / (1.0 - q)), n * q * (1.0 - q))


def linear_trend_fit(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    """Straight line in log x, ``y ~ a + b log x``, by least squares.

    Example:
        >>> a, b = linear_trend_fit([1e8, 1e9, 1e10], [3.0, 2.0, 1.0])
        >>> round(b * math.log(10), 6), round(a + b * math.log(1e10), 6)
        (-1.0, 1.0)
    """
    a, b = _wls(np.log(np.asarray(x, dtype=float)), np.asarray(y, dtype=float)[None, :])
    return float(a[0]), float(b[0])


def crossing_size(c: float, alpha: float, tokens: Sequence[float] | float, threshold: float = 0.5) -> float:
    """The size ``N`` at which ``mean_i exp(-(N/c)**alpha * T_i)`` (predicted exact match) equals ``threshold``.

    With one target length ``T`` this is ``N = c * (-log(threshold) / T) ** (1 / alpha)``; with several it is
    found by bisection in log N. NaN when ``alpha >= 0`` (a loss that does not fall never gets there).

    Example:
        >>> f"{crossing_size(2e9, -0.5, 4, 0.5):.4g}", f"{crossing_size(2e9, -0.5, [4, 4, 4], 0.5):.4g}"
        ('6.66e+10', '6.66e+10')
    """
    out = _crossing(
        np.array([math.log(c) * -alpha]), np.array([alpha]), np.atleast_1d(np.asarray(tokens, float)), threshold
    )
    return float(out[0])


def _crossing(intercept: np.ndarray, alpha: np.ndarray, tokens: np.ndarray, threshold: float) -> np.ndarray:
    """Vectorised :func:`crossing_size` for fits ``log L_CE = intercept + alpha log N`` (one per replicate)."""
    ok = np.isfinite(intercept) & np.isfinite(alpha) & (alpha < 0)
    lo = np.full(intercept.shape, math.log(1e-30))
    hi = np.full(intercept.shape, math.log(1e60))

    def em(logn: np.ndarray) -> np.ndarray:
        ce = np.exp(np.clip(intercept + alpha * logn, -700, 700))
        return np.exp(-ce[:, None] * tokens[None, :]).mean(axis=1)

    for _ in range(80):
        mid = 0.5 * (lo + hi)
        below = em(mid) < threshold
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    out = np.exp(0.5 * (lo + hi))
    reach = (em(hi) >= threshold) & (em(np.full_like(lo, math.log(1e-30))) < threshold)
    return np.where(ok & reach, out, math.nan)


# ----------------------------------------------------------------------------------------------- data access
@dataclass
class _Data:
    df: pd.DataFrame
    index: dict
    rng: np.random.Generator
    options: ForecastOptions

    def values(self, model: str, task: str, metric: str, filt: str, split: str):
        """(doc_ids, digits, values) of one model's samples restricted to ``split``; None without samples."""
        found = self.index.get((task, metric, filt), {}).get(model)
        if found is None:
            return None
        doc, digits, vals = found
        if split != "all":
            keep = digits == float(split.split("=", 1)[1])
            doc, digits, vals = doc[keep], digits[keep], vals[keep]
        return (doc, digits, vals) if vals.size else None

    def row(self, model: str, task: str, metric: str, filt: str, split: str) -> dict | None:
        """The table's row (value, stderr, n, ...) of one model and curve; None when absent."""
        if not hasattr(self, "_rows"):
            keys = zip(*(self.df[c] for c in ("model", "task", "metric", "filter", "split")))
            records = self.df[["value", "stderr", "n", "higher_is_better"]].to_dict("records")
            self._rows = dict(zip(keys, records))
        return self._rows.get((model, task, metric, filt, split))


def _replicate_means(
    data: _Data, models: list[str], key: tuple[str, str, str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Point means, their bootstrap replicates (n_boot, models), problem counts and per-problem SDs.

    Bootstrap over problems when every model has samples (paired when they share the problems), else
    parametric from ``stderr`` (NaN stderr counts as 0). None when a model has no value.
    """
    task, metric, filt, split = key
    arrays = [data.values(m, task, metric, filt, split) for m in models]
    rows = [data.row(m, task, metric, filt, split) for m in models]
    n_boot = data.options.n_boot
    if all(a is not None and np.isfinite(a[2]).all() for a in arrays):
        vals = [a[2] for a in arrays]
        point = np.array([v.mean() for v in vals])
        counts = np.array([v.size for v in vals], dtype=float)
        sds = np.array([v.std(ddof=1) if v.size > 1 else 0.0 for v in vals])
        paired = all(a[0].size == arrays[0][0].size and np.array_equal(a[0], arrays[0][0]) for a in arrays)
        reps = np.empty((n_boot, len(models)))
        if paired:
            idx = data.rng.integers(0, vals[0].size, (n_boot, vals[0].size))
            for j, v in enumerate(vals):
                reps[:, j] = v[idx].mean(axis=1)
        else:
            for j, v in enumerate(vals):
                reps[:, j] = v[data.rng.integers(0, v.size, (n_boot, v.size))].mean(axis=1)
        return point, reps, counts, sds
    if any(r is None or not np.isfinite(r["value"]) for r in rows):
        return None
    point = np.array([float(r["value"]) for r in rows])
    se = np.array([float(r["stderr"]) if np.isfinite(r["stderr"]) else 0.0 for r in rows])
    counts = np.array([float(r["n"]) if np.isfinite(r["n"]) else math.nan for r in rows])
    sds = se * np.sqrt(np.where(np.isfinite(counts), counts, 1.0))
    reps = point[None, :] + se[None, :] * data.rng.standard_normal((n_boot, len(models)))
    return point, reps, counts, sds


def _problems(data: _Data, model: str, task: str, filt: str, split: str) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(doc_ids, answer digits, n) of the problems a model was given (its generation samples), else (-, -, n)."""
    found = data.values(model, task, "exact_match", filt, split)
    if found is not None:
        return found[0], found[1], int(found[2].size)
    row = data.row(model, task, "exact_match", filt, split)
    if row is None or not np.isfinite(row["n"]):
        return None
    return np.array([]), np.array([]), int(row["n"])


def _quantiles(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = 50.0 * (1.0 - level)
    return tuple(np.nanpercentile(draws, [tail, 100.0 - tail], axis=0))  # type: ignore[return-value]


def _series_split(df: pd.DataFrame, holdout: int) -> dict[tuple[str, str], tuple[list[str], list[str]]]:
    """(family, series) -> (models fitted, models held out), each sorted by x."""
    out = {}
    known = df[df["x"].notna()].drop_duplicates(["family", "series", "model"])
    for (family, series), g in known.groupby(["family", "series"], sort=True):
        xs = np.sort(g["x"].unique())
        # K beyond the series holds out all of it (and is said so), never none of it
        cut = xs[-min(holdout, xs.size)] if holdout > 0 else math.inf
        g = g.sort_values("x", kind="stable")
        out[(family, series)] = (g.loc[g["x"] < cut, "model"].tolist(), g.loc[g["x"] >= cut, "model"].tolist())
    return out


def _xs(df: pd.DataFrame, models: list[str]) -> np.ndarray:
    x = df.drop_duplicates("model").set_index("model")["x"]
    return np.array([float(x[m]) for m in models])


def _grid(x_lo: float, x_hi: float) -> np.ndarray:
    return np.exp(np.linspace(math.log(x_lo), math.log(x_hi) + 0.1 * (math.log(x_hi) - math.log(x_lo)), _GRID))


def _rows(
    base: dict,
    method: str,
    n_fit: int,
    models: list[str],
    xs: np.ndarray,
    observed: list[float],
    pred: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
) -> list[dict]:
    return [
        {
            **base,
            "model": m,
            "x": float(x),
            "observed": o,
            "predicted": float(p),
            "low": float(lo),
            "high": float(hi),
            "method": method,
            "n_fit": n_fit,
        }
        for m, x, o, p, lo, hi in zip(models, xs, observed, pred, low, high)
    ]


def _bands(base: dict, method: str, xs: np.ndarray, pred: np.ndarray, low: np.ndarray, high: np.ndarray) -> list[dict]:
    return [
        {**base, "method": method, "x": float(x), "predicted": float(p), "low": float(lo), "high": float(hi)}
        for x, p, lo, hi in zip(xs, pred, low, high)
    ]


# ------------------------------------------------------------------------------------------------ likelihood
def _likelihood_source(df: pd.DataFrame, task: str) -> tuple[str, str, str] | None:
    """(task, metric, filter) holding the per-token log-likelihood that forecasts ``task``'s exact match."""
    for source in (f"{task}_ll", task):
        for metric in _LIKELIHOOD_METRICS:
            sel = df[(df["task"] == source) & (df["metric"] == metric)]
            if len(sel):
                filters = set(sel["filter"])
                return source, metric, next((f for f in FILTER_PREFERENCE if f in filters), sorted(filters)[0])
    return None


def _tokens(data: _Data, fit_models: list[str], source: tuple[str, str, str], split: str) -> tuple[dict, float]:
    """doc_id -> target length (model tokens) from the largest fitted model with samples, and the mean length."""
    task, metric, filt = source
    length_metric = _LIKELIHOOD_METRICS[metric]
    for model in reversed(fit_models):
        found = data.values(model, task, length_metric, filt, split)
        if found is not None:
            return dict(zip(found[0].tolist(), found[2].tolist())), float(found[2].mean())
    rows = [data.row(m, task, length_metric, filt, split) for m in fit_models]
    means = [float(r["value"]) for r in rows if r is not None and np.isfinite(r["value"])]
    if means:
        return {}, float(np.mean(means))
    return {}, float(split.split("=", 1)[1]) if split.startswith("digits=") else math.nan


def _held_problems(data: _Data, model: str, task: str, filt: str, split: str, by_doc: dict, mean_t: float):
    """Per-problem (T_i tokens, D_i digits) of a held-out model's problems; None when unknown."""
    found = _problems(data, model, task, filt, split)
    if found is None or not np.isfinite(mean_t):
        return None
    doc, digits, n = found
    split_digits = float(split.split("=", 1)[1]) if split.startswith("digits=") else math.nan
    if doc.size:
        T = np.array([by_doc.get(d, mean_t) for d in doc.tolist()], dtype=float)
        D = np.where(np.isfinite(digits), digits, split_digits if np.isfinite(split_digits) else T)
    else:
        T = np.full(n, mean_t)
        D = np.full(n, split_digits if np.isfinite(split_digits) else mean_t)
    return T, np.maximum(np.rint(D), 1.0)


def _likelihood_at(
    data: _Data, a: np.ndarray, alpha: np.ndarray, x: float, T: np.ndarray, D: np.ndarray, *, draw: bool = True
) -> np.ndarray:
    """Exact match and TED at ``x`` for fits (a, alpha): (2, fits) means, or draws of what n problems show."""
    ce = np.exp(np.clip(a + alpha * math.log(x), -700, 700))[:, None]
    whole = np.exp(-ce * T[None, :])  # P(all of problem i's tokens right)
    digit = np.exp(-ce * T[None, :] / D[None, :])  # per-digit probability giving the same whole-answer probability
    if not draw:
        return np.stack([whole.mean(axis=1), (D[None, :] * (1.0 - digit)).mean(axis=1)])
    em = (data.rng.random(whole.shape) < whole).mean(axis=1)
    ted = data.rng.binomial(np.broadcast_to(D.astype(np.int64), digit.shape), 1.0 - digit).mean(axis=1)
    return np.stack([em, ted])


def _likelihood_forecast(data: _Data, fits: tuple, x: float, problems: tuple, n_reps: int | None = None) -> np.ndarray:
    """(2 metrics, 3) of predicted, low, high at ``x``: the point fit, and draws from the replicate fits."""
    (a0, al0), (a, al) = fits
    point = _likelihood_at(data, a0, al0, x, *problems, draw=False)[:, 0]
    draws = _likelihood_at(data, a[:n_reps], al[:n_reps], x, *problems)
    lo, hi = _quantiles(draws.T, data.options.level)
    return np.stack([point, lo, hi], axis=1)


def _likelihood(data: _Data, family: str, series: str, fit: list[str], held: list[str], out: dict) -> None:
    df, level = data.df, data.options.level
    sdf = df[df["series"] == series]
    for task in sorted(set(sdf.loc[sdf["metric"] == "exact_match", "task"])):
        source = _likelihood_source(sdf, task)
        if source is None:
            continue
        gen_filters = set(sdf.loc[(sdf["task"] == task) & (sdf["metric"] == "exact_match"), "filter"])
        gen_filt = next((f for f in FILTER_PREFERENCE if f in gen_filters), sorted(gen_filters)[0])
        src = sdf[(sdf["task"] == source[0]) & (sdf["metric"] == source[1]) & (sdf["filter"] == source[2])]
        for split in sorted(set(src["split"]), key=lambda s: split_order(pd.Series([s])).iloc[0]):
            fitted = [m for m in fit if data.row(m, source[0], source[1], source[2], split) is not None]
            xs = _xs(df, fitted)
            if np.unique(xs).size < 2:
                out["messages"].append(
                    f"{series} {task} [{split}]: likelihood forecast needs two smaller models with "
                    f"{source[1]}, found {len(fitted)}"
                )
                continue
            got = _replicate_means(data, fitted, (*source, split))
            if got is None:
                continue
            sign = -1.0 if bool(src["higher_is_better"].iloc[0]) else 1.0
            point, reps = sign * got[0], sign * got[1]
            if np.any(point <= 0):
                out["messages"].append(f"{series} {task} [{split}]: cross-entropy not positive; no likelihood forecast")
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                a0, al0 = _wls(np.log(xs), np.log(point)[None, :])
                a, al = _wls(np.log(xs), np.log(np.where(reps > 0, reps, np.nan)))
            by_doc, mean_t = _tokens(data, fitted, source, split)
            if split == "all":
                T_fit = np.array(list(by_doc.values()), dtype=float) if by_doc else np.array([mean_t])
                if np.isfinite(T_fit).all():
                    thr = data.options.emerge_at
                    x0 = _crossing(a0, al0, T_fit, thr)[0]
                    draws = np.nan_to_num(_crossing(a, al, T_fit, thr), nan=math.inf)
                    lo, hi = np.quantile(draws, [0.5 * (1 - level), 1 - 0.5 * (1 - level)], method="inverted_cdf")
                    note = "" if np.isfinite(x0) else "the fitted loss does not fall with size"
                    out["emergence"].append(
                        {
                            "family": family,
                            "series": series,
                            "task": task,
                            "split": split,
                            "threshold": thr,
                            "x": x0,
                            "low": lo,
                            "high": hi,
                            "n_fit": len(fitted),
                            "x_max_fit": float(xs.max()),
                            "note": note,
                        }
                    )
            if not held:
                continue
            fits = ((a0, al0), (a, al))
            per_model = {h: _held_problems(data, h, task, gen_filt, split, by_doc, mean_t) for h in held}
            done = [h for h in held if per_model[h] is not None]
            res = [_likelihood_forecast(data, fits, float(_xs(df, [h])[0]), per_model[h]) for h in done]
            band = None
            if done and split == "all":
                grid = _grid(float(xs.min()), float(_xs(df, held).max()))
                band = np.array([_likelihood_forecast(data, fits, g, per_model[done[0]], _BAND_REPS) for g in grid])
            for k, metric in enumerate(_LIKELIHOOD_TARGETS):
                base = {
                    "family": family,
                    "series": series,
                    "task": task,
                    "metric": metric,
                    "filter": gen_filt,
                    "split": split,
                }
                rows = [data.row(h, task, metric, gen_filt, split) for h in done]
                obs = [float(r["value"]) if r is not None else math.nan for r in rows]
                if done:
                    r = np.array([v[k] for v in res])
                    out["rows"] += _rows(
                        base, "likelihood", len(fitted), done, _xs(df, done), obs, r[:, 0], r[:, 1], r[:, 2]
                    )
                if band is not None:
                    out["bands"] += _bands(base, "likelihood", grid, band[:, k, 0], band[:, k, 1], band[:, k, 2])


# ----------------------------------------------------------------------------------------------------- trend
def _is_bounded(metric: str, values: np.ndarray) -> bool:
    known = metric in BOUNDED_METRICS or metric.startswith(("reconstruction", "acc"))
    return known and bool(np.all((values >= 0) & (values <= 1)))


def _trend(data: _Data, family: str, series: str, fit: list[str], held: list[str], out: dict) -> None:
    df, level, rng = data.df, data.options.level, data.rng
    sdf = df[(df["series"] == series) & ~df["metric"].isin(NOT_SCORED_METRICS)]
    for (task, metric, filt, split), g in sdf.groupby(["task", "metric", "filter", "split"], sort=True):
        fitted = [m for m in fit if (g["model"] == m).any() and np.isfinite(g.loc[g["model"] == m, "value"]).all()]
        targets = [h for h in held if (g["model"] == h).any()]
        xs = _xs(df, fitted)
        if not targets or np.unique(xs).size < 2:
            continue
        got = _replicate_means(data, fitted, (task, metric, filt, split))
        if got is None:
            continue
        point, reps, counts, sds = got
        logx = np.log(xs)
        bounded = _is_bounded(metric, point)
        loglog = not bounded and metric in POSITIVE_LOSS_METRICS and bool(np.all(point > 0))
        with np.errstate(invalid="ignore", divide="ignore"):
            if bounded:
                se = np.array([float(g.loc[g["model"] == m, "stderr"].iloc[0]) for m in fitted])
                guess = np.where(se > 0, point * (1 - point) / np.where(se > 0, se, 1.0) ** 2, 100.0)
                n_w = np.where(np.isfinite(counts), counts, np.where(np.isfinite(guess) & (guess >= 1), guess, 100.0))
                a0, b0 = _logit_fit(logx, point[None, :], n_w)
                a, b = _logit_fit(logx, reps, n_w)
            elif loglog:
                a0, b0 = _wls(logx, np.log(point)[None, :])
                a, b = _wls(logx, np.log(np.where(reps > 0, reps, np.nan)))
            else:
                a0, b0 = _wls(logx, point[None, :])
                a, b = _wls(logx, reps)
        samples_binary = all(
            (v := data.values(m, task, metric, filt, split)) is not None and np.isin(v[2], (0.0, 1.0)).all()
            for m in fitted
        )
        binary = bounded and (metric in DISCONTINUOUS_METRICS or samples_binary)
        spread = float(sds[-1]) if np.isfinite(sds[-1]) else 0.0

        def at(x: float, n_obs: float) -> tuple[float, float, float]:
            eta0, eta = a0[0] + b0[0] * math.log(x), a + b * math.log(x)
            p0, p = (1 / (1 + np.exp(-eta0)), 1 / (1 + np.exp(-eta))) if bounded else (eta0, eta)
            if loglog:
                p0, p = np.exp(eta0), np.exp(eta)
            if np.isfinite(n_obs) and n_obs >= 1:
                if binary:
                    p = rng.binomial(int(n_obs), np.clip(np.nan_to_num(p, nan=0.0), 0, 1)) / n_obs
                else:
                    p = p + spread / math.sqrt(n_obs) * rng.standard_normal(p.shape)
                    p = np.clip(p, 0, 1) if bounded else p
            lo, hi = _quantiles(p, level)
            return float(p0), float(lo), float(hi)

        def n_of(model: str) -> float:
            found = data.values(model, task, metric, filt, split)
            if found is not None:
                return float(found[2].size)
            n = g.loc[g["model"] == model, "n"]
            return float(n.iloc[0]) if len(n) and np.isfinite(n.iloc[0]) else math.nan

        base = {"family": family, "series": series, "task": task, "metric": metric, "filter": filt, "split": split}
        hx = _xs(df, targets)
        res = np.array([at(x, n_of(h)) for h, x in zip(targets, hx)])
        observed = [float(g.loc[g["model"] == h, "value"].iloc[0]) for h in targets]
        out["rows"] += _rows(base, "trend", len(fitted), targets, hx, observed, res[:, 0], res[:, 1], res[:, 2])
        if metric in _LIKELIHOOD_TARGETS or split == "all":
            grid = _grid(float(xs.min()), float(hx.max()))
            band = np.array([at(x, n_of(targets[0])) for x in grid])
            out["bands"] += _bands(base, "trend", grid, band[:, 0], band[:, 1], band[:, 2])


# ------------------------------------------------------------------------------------------------------ main
def forecast(
    table: pd.DataFrame,
    samples: object = None,
    options: ForecastOptions | None = None,
    **kwargs,
) -> Forecast:
    """Hold out the ``holdout`` largest models of every series, forecast them from the others, compare.

    Args:
        table: a tidy table (:mod:`lm_eval_mirage.analysis.collect`).
        samples: per-problem values (``Collection.store``, or the long ``Collection.samples`` table) for the bootstrap over problems and per-problem
            target lengths; without them the intervals come from ``stderr`` and one mean length.
        options: a :class:`ForecastOptions`; or its fields as keyword arguments (``holdout=2``...).

    Returns:
        A :class:`Forecast`: ``table`` (:data:`FORECAST_COLUMNS`, one row per held-out model, curve and method;
        ``covered`` says whether ``observed`` lies in ``[low, high]``), ``emergence`` (:data:`EMERGE_COLUMNS`:
        the size at which the likelihood fit on the smaller models puts exact match at ``emerge_at``),
        ``bands`` (:data:`BAND_COLUMNS`, the predicted curve and interval on a grid, for figures) and notes.
    """
    options = options or ForecastOptions(**kwargs)
    df = tidy(table)
    index = sample_index(samples) if samples is not None and len(samples) else {}
    data = _Data(df, index, np.random.default_rng(options.seed), options)
    out: dict = {"rows": [], "emergence": [], "bands": [], "messages": []}
    for (family, series), (fit, held) in _series_split(df, options.holdout).items():
        if options.holdout and len(fit) < 2:
            asked = f"--holdout {options.holdout} of {len(fit) + len(held)} model(s)"
            out["messages"].append(f"{series}: {asked} leaves {len(fit)} to fit (a forecast needs 2); no forecast")
            continue
        _likelihood(data, family, series, fit, held, out)
        _trend(data, family, series, fit, held, out)
    rows = pd.DataFrame(out["rows"], columns=list(FORECAST_COLUMNS))
    inside = (rows["low"] <= rows["observed"]) & (rows["observed"] <= rows["high"])
    rows["covered"] = inside.astype(object).where(rows["observed"].notna(), None)
    order = ["family", "series", "task", "metric", "filter", "split", "method", "x"]
    rows = rows.sort_values(order, key=lambda c: split_order(c) if c.name == "split" else c, kind="stable")
    return Forecast(
        rows.reset_index(drop=True),
        pd.DataFrame(out["emergence"], columns=list(EMERGE_COLUMNS)),
        pd.DataFrame(out["bands"], columns=list(BAND_COLUMNS)),
        out["messages"],
    )


def emergence_sizes(table: pd.DataFrame, samples: pd.DataFrame | None = None, **kwargs) -> pd.DataFrame:
    """Only the "when will it emerge?" table of :func:`forecast` (:data:`EMERGE_COLUMNS`)."""
    return forecast(table, samples, **kwargs).emergence


def summary_lines(result: Forecast, task: str, *, x_label: str = "parameters", errors: bool = True) -> list[str]:
    """Sentences for the report: where exact match emerges, and (``errors``) each method's forecast."""
    lines = []
    for row in result.emergence[(result.emergence["task"] == task)].itertuples(index=False):
        if not np.isfinite(row.x):
            lines.append(
                f"{row.series}: the likelihood fit on {row.n_fit} smaller models never reaches exact match "
                f"{row.threshold:g} ({row.note or 'no crossing'})."
            )
            continue
        where = "within" if row.x <= row.x_max_fit else "beyond"
        lines.append(
            f"{row.series}: from the per-token loss of {row.n_fit} smaller models, exact match is forecast "
            f"to reach {row.threshold:g} at {x_label} {row.x:.3g} (95% interval {row.low:.3g} to "
            f"{row.high:.3g}; {where} the fitted range, which ends at {row.x_max_fit:.3g})."
        )
    if not errors:
        return lines
    t = result.table[
        (result.table["task"] == task)
        & (result.table["split"] == "all")
        & result.table["metric"].isin(_LIKELIHOOD_TARGETS)
        & result.table["observed"].notna()
    ]
    for (series, metric, method), g in t.groupby(["series", "metric", "method"], sort=True):
        covered = int(g["covered"].astype(bool).sum())
        err = ", ".join(
            f"{r.model}: {r.predicted:.3g} [{r.low:.3g}, {r.high:.3g}] vs {r.observed:.3g}" for r in g.itertuples()
        )
        lines.append(
            f"{series}: {metric} forecast by {method} (held out {len(g)}, {covered} inside the interval): {err}."
        )
    return lines
