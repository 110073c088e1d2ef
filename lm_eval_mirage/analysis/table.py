"""The tidy table every part of the analysis reads, and the emergence table computed from it.

One row per (model, task, metric, filter, split) with the model's position on the scale axis ``x``. Harness
results become such a table through :func:`lm_eval_mirage.analysis.collect`; any other experiment (the vision
autoencoders, a simulation) can build one by hand with the required columns and pass it through :func:`tidy`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from lm_eval_mirage.analysis.emergence import (
    DEFAULT_THRESHOLD_FACTOR,
    bootstrap_emergence_ci,
    emergence_score,
    emergence_verdict,
    linearity_score,
    straight_line_score,
)
from lm_eval_mirage.analysis.sample_store import sample_index

__all__ = [
    "REQUIRED_COLUMNS",
    "TABLE_COLUMNS",
    "SAMPLE_COLUMNS",
    "EMERGENCE_COLUMNS",
    "DISCONTINUOUS_METRICS",
    "NONLINEAR_METRICS",
    "LOWER_IS_BETTER_METRICS",
    "NOT_SCORED_METRICS",
    "metric_kind",
    "metric_higher_is_better",
    "tidy",
    "emergence_table",
    "split_order",
]

#: Columns a hand-built table must have.
REQUIRED_COLUMNS = ("model", "x", "task", "metric", "value")
#: Columns of a tidy table, in order (a tidy table may carry more after these).
TABLE_COLUMNS = (
    "family", "series", "model", "x", "params", "params_source", "step", "tokens", "flops",
    "task", "metric", "filter", "split", "target_digits", "value", "stderr", "n",
    "higher_is_better", "kind", "lm_eval_version", "task_version", "source",
)  # fmt: skip
#: Per-problem values (from samples files), for bootstrap intervals.
SAMPLE_COLUMNS = ("model", "task", "metric", "filter", "doc_id", "target_digits", "value")
EMERGENCE_COLUMNS = (
    "family", "series", "task", "metric", "filter", "split", "kind", "higher_is_better", "n_models", "models",
    "x_min", "x_max", "first_value", "last_value", "emergence_score", "linearity", "straight_line",
    "threshold", "ci_low", "ci_high", "verdict", "missing",
)  # fmt: skip

#: All-or-nothing metrics: the ones the mirage hypothesis says can manufacture a jump.
DISCONTINUOUS_METRICS = frozenset(
    {"exact_match", "greedy_exact_match", "acc", "acc_norm", "em", "accuracy", "multiple_choice_grade",
     "exact_str_match", "pass@1", "reconstruction_accuracy"}
)  # fmt: skip
#: Continuous but sharply nonlinear in per-token probability: the whole-target probability is ``p**L``, the
#: expected exact match under sampling at temperature 1 (the paper's example of a nonlinear metric).
NONLINEAR_METRICS = frozenset({"target_prob"})
#: Metrics where lower is better, when a results file does not say (its "higher_is_better" map wins).
LOWER_IS_BETTER_METRICS = frozenset(
    {"token_edit_distance", "normalized_edit_distance", "brier_score", "perplexity", "word_perplexity",
     "byte_perplexity", "bits_per_byte", "ece", "mse", "test_mse", "cross_entropy"}
)  # fmt: skip

#: Descriptive columns that are not a measure of ability (scored curves would be meaningless).
NOT_SCORED_METRICS = frozenset({"target_tokens", "target_chars", "sample_len", "n_tokens"})


def metric_kind(metric: str) -> str:
    """How a metric responds to a smooth gain in per-token probability ``p``.

    ``"discontinuous"``: all-or-nothing per problem (exact match, accuracy); ``"nonlinear"``: continuous but
    ``p**L``-shaped (whole-target probability); ``"continuous"``: everything else (edit distances,
    log-likelihoods, Brier score, digit accuracy), the metrics the mirage hypothesis expects to move smoothly.

    Example:
        >>> metric_kind("exact_match"), metric_kind("token_edit_distance"), metric_kind("acc_norm"), metric_kind("target_prob")
        ('discontinuous', 'continuous', 'discontinuous', 'nonlinear')
    """
    name = metric.lower()
    if name in DISCONTINUOUS_METRICS or name.endswith("exact_match") or name.startswith("acc"):
        return "discontinuous"
    if name in NONLINEAR_METRICS:
        return "nonlinear"
    return "continuous"


def metric_higher_is_better(metric: str) -> bool:
    """Direction of a metric from its name (``*_loss``, ``*_error``, ``*_distance`` and known ones are lower).

    Example:
        >>> metric_higher_is_better("token_edit_distance"), metric_higher_is_better("target_prob")
        (False, True)
    """
    name = metric.lower()
    return not (name in LOWER_IS_BETTER_METRICS or name.endswith(("_loss", "_error", "_distance", "_mse")))


def split_order(split: pd.Series) -> pd.Series:
    """Sort key for the ``split`` column: ``all`` first, then ``digits=N`` by N (so 9 comes before 10)."""
    return split.map(
        lambda s: -1.0 if s == "all" else float(s.split("=", 1)[1]) if s.startswith("digits=") else math.inf
    )


def tidy(table: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """Validate a table and fill the optional columns, so hand-built tables work like collected ones.

    Required: ``model`` (label), ``x`` (scale: parameters, steps, width...), ``task``, ``metric``, ``value``.
    Defaults: ``family`` ``"models"``; ``series`` = family (one curve per series); ``filter`` ``"none"``;
    ``split`` ``"all"``; ``higher_is_better`` and ``kind`` from the metric name (see :func:`metric_kind`);
    ``params`` = ``x``; the other columns empty. Extra columns are kept after :data:`TABLE_COLUMNS`.

    Raises:
        ValueError: a required column is missing, or ``value``/``x`` hold something that is not a number.

    Example:
        >>> t = tidy([{"model": "w8", "x": 8, "task": "mnist", "metric": "test_mse", "value": 0.2}])
        >>> t.loc[0, ["family", "series", "filter", "split", "kind"]].tolist(), bool(t.loc[0, "higher_is_better"])
        (['models', 'models', 'none', 'all', 'continuous'], False)
    """
    df = pd.DataFrame(table).copy() if not isinstance(table, pd.DataFrame) else table.copy()
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"table lacks required columns {missing}; required: {list(REQUIRED_COLUMNS)}, got {list(df.columns)}"
        )
    for col in ("value", "x"):
        numeric = pd.to_numeric(df[col], errors="coerce")
        bad = numeric.isna() & df[col].notna()
        if bad.any():
            raise ValueError(
                f"column {col!r} must hold numbers; rows {list(df.index[bad][:5])} hold {df.loc[bad, col].tolist()[:5]}"
            )
        df[col] = numeric.astype(float)
    defaults: dict[str, object] = {
        "family": "models", "filter": "none", "split": "all", "params_source": "", "lm_eval_version": "",
        "task_version": "", "source": "",
    }  # fmt: skip
    for col, default in defaults.items():
        if col not in df.columns:
            df[col] = default
        df[col] = df[col].fillna(default).astype(str)
    if "series" not in df.columns:
        df["series"] = df["family"]
    df["series"] = df["series"].fillna(df["family"]).astype(str)
    if "params" not in df.columns:
        df["params"] = df["x"]
    for col in ("step", "tokens", "flops", "target_digits", "stderr", "n"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float) if col in df.columns else math.nan
    if "higher_is_better" not in df.columns:
        df["higher_is_better"] = df["metric"].map(metric_higher_is_better)
    df["higher_is_better"] = df["higher_is_better"].fillna(df["metric"].map(metric_higher_is_better)).astype(bool)
    if "kind" not in df.columns:
        df["kind"] = df["metric"].map(metric_kind)
    df["kind"] = df["kind"].fillna(df["metric"].map(metric_kind)).astype(str)
    for col in ("model", "task", "metric"):
        df[col] = df[col].astype(str)
    extra = [c for c in df.columns if c not in TABLE_COLUMNS]
    return df[list(TABLE_COLUMNS) + extra].reset_index(drop=True)


def _sample_arrays(by_key: dict, models: list[str], task: str, metric: str, filt: str, split: str):
    """Per-model value arrays (in ``models`` order) and whether they are paired by doc_id; None if incomplete."""
    per_model = by_key.get((task, metric, filt), {})
    if not all(m in per_model for m in models):
        return None
    ids, values = [], []
    for m in models:
        doc, digits, vals = per_model[m]
        if split != "all":
            keep = digits == float(split.split("=", 1)[1])
            doc, vals = doc[keep], vals[keep]
        if vals.size == 0:
            return None
        ids.append(doc)
        values.append(vals)
    paired = all(i.size == ids[0].size and np.array_equal(i, ids[0]) for i in ids) and not any(
        np.isnan(v).any() for v in values
    )
    return values, paired


def emergence_table(
    table: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    threshold_factor: float = DEFAULT_THRESHOLD_FACTOR,
    progress: bool | None = False,
) -> pd.DataFrame:
    """Score every curve of a tidy table: one row per (family, series, task, metric, filter, split).

    Models are ordered by ``x``. Rows whose ``x`` is unknown (NaN) cannot be placed and are left out (they are
    listed in ``missing``, like models with a NaN value or without this metric for the task); lower-is-better
    metrics are negated before scoring; descriptive metrics (:data:`NOT_SCORED_METRICS`) are skipped. With
    ``samples`` (per-problem values: a :class:`~lm_eval_mirage.analysis.sample_store.SampleStore`, or the long
    table of :data:`SAMPLE_COLUMNS`) every curve whose models all have samples also gets
    a bootstrap interval (``ci_low``, ``ci_high``); the verdict
    (:func:`~lm_eval_mirage.analysis.emergence.emergence_verdict`) takes it into account.

    Columns: :data:`EMERGENCE_COLUMNS`. ``models`` and ``missing`` are ``;``-separated model labels.

    Example:
        >>> t = tidy([{"model": f"m{i}", "x": 10.0 ** (8 + i), "task": "t", "metric": "exact_match", "value": v}
        ...           for i, v in enumerate([0.0, 0.0, 0.0, 0.0, 0.5])])
        >>> row = emergence_table(t).iloc[0]
        >>> int(row.n_models), float(row.emergence_score), row.verdict
        (5, inf, 'emergent')
    """
    df = tidy(table)
    keys = ["family", "series", "task", "metric", "filter", "split"]
    present = df.groupby(["series", "task"])["model"].agg(lambda s: sorted(set(s))).to_dict()
    groups = [(k, g) for k, g in df.groupby(keys, sort=True) if k[3] not in NOT_SCORED_METRICS]
    by_key = {}
    if samples is not None and not samples.empty:
        by_key = sample_index(samples)
    rows = []
    iterator = groups
    if progress is not False and samples is not None and len(groups) > 20:  # None: on a terminal only
        from tqdm.auto import tqdm

        iterator = tqdm(groups, desc="emergence scores", unit="curve", disable=None if progress is None else False)
    for (family, series, task, metric, filt, split), g in iterator:
        usable = g[g["x"].notna() & g["value"].notna()].sort_values("x", kind="stable")
        models = usable["model"].tolist()
        missing = [m for m in present[(series, task)] if m not in set(models)]
        higher = bool(g["higher_is_better"].iloc[0])
        y, x = usable["value"].to_numpy(), usable["x"].to_numpy()
        score = emergence_score(y, x, higher_is_better=higher) if len(y) >= 2 else math.nan
        # Logs need x > 0; a curve that starts at training step 0 is shifted so that its first x is 1.
        x_log = x if (x > 0).all() else x + (1.0 - x.min()) if x.size else x
        linear = linearity_score(y, x_log) if len(y) >= 2 else math.nan
        line = straight_line_score(x_log) if len(y) >= 2 else math.nan
        ci = (math.nan, math.nan)
        if samples is not None and not samples.empty and len(models) >= 2:
            found = _sample_arrays(by_key, models, task, metric, filt, split)
            if found is not None:
                arrays, paired = found
                ci = bootstrap_emergence_ci(
                    arrays, higher_is_better=higher, n_boot=n_boot, level=level, seed=seed, paired=paired
                )
        has_ci = not (math.isnan(ci[0]) and math.isnan(ci[1]))
        rows.append(
            {
                "family": family, "series": series, "task": task, "metric": metric, "filter": filt, "split": split,
                "kind": g["kind"].iloc[0], "higher_is_better": higher, "n_models": len(models),
                "models": ";".join(models),
                "x_min": float(x.min()) if x.size else math.nan, "x_max": float(x.max()) if x.size else math.nan,
                "first_value": float(y[0]) if y.size else math.nan, "last_value": float(y[-1]) if y.size else math.nan,
                "emergence_score": score, "linearity": linear, "straight_line": line,
                "threshold": threshold_factor * line if not math.isnan(line) else math.nan,
                "ci_low": ci[0], "ci_high": ci[1],
                "verdict": emergence_verdict(score, x_log, ci=ci if has_ci else None, threshold_factor=threshold_factor),
                "missing": ";".join(missing),
            }
        )  # fmt: skip
    out = pd.DataFrame(rows, columns=list(EMERGENCE_COLUMNS))
    return out.sort_values(
        ["family", "series", "task", "metric", "filter", "split"],
        key=lambda c: split_order(c) if c.name == "split" else c,
        kind="stable",
    ).reset_index(drop=True)
