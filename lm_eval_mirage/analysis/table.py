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

from lm_eval_mirage.analysis.bootstrap_batch import bootstrap_emergence_cis
from lm_eval_mirage.analysis.emergence import (
    DEFAULT_THRESHOLD_FACTOR,
    straight_line_score,
)
from lm_eval_mirage.analysis.sample_store import sample_index
from lm_eval_mirage.analysis.schema import (
    EMERGENCE_COLUMNS,
    NOT_SCORED_METRICS,
    REQUIRED_COLUMNS,
    TABLE_COLUMNS,
    chance_level,
    metric_direction,
    metric_kind,
)
from lm_eval_mirage.analysis.verdict import judge_curve, n_from_stderr

__all__ = [
    "metric_higher_is_better",
    "log_axis",
    "step_zero_notes",
    "tidy",
    "emergence_table",
    "split_order",
]


def metric_higher_is_better(metric: str) -> bool | None:
    """Direction of a metric from its name: ``None`` when the name is not known (see
    :func:`~lm_eval_mirage.analysis.schema.metric_direction`; a results file's map wins over it).

    Example:
        >>> metric_higher_is_better("token_edit_distance"), metric_higher_is_better("ppl"), metric_higher_is_better("zeta")
        (False, False, None)
    """
    return metric_direction(metric)


def log_axis(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """x ready for a log axis: unchanged when all positive, else shifted so that the smallest is 1.

    Returns ``(x_log, shifted)``. Training step 0 cannot be placed on a log axis; shifting every step by
    ``1 - min(x)`` keeps their order but changes the spacing, and so the straight-line yardstick.

    Example:
        >>> log_axis(np.array([0.0, 1.0, 1000.0]))[0].tolist(), log_axis(np.array([0.0, 1.0]))[1]
        ([1.0, 2.0, 1001.0], True)
    """
    if x.size == 0 or (x > 0).all():
        return x, False
    return x + (1.0 - x.min()), True


def step_zero_notes(table: pd.DataFrame) -> list[str]:
    """One message per series whose x starts at 0 or below: the shift and how it changes the yardstick.

    Example:
        >>> t = tidy([{"model": f"m@{s}", "x": s, "series": "m", "task": "t", "metric": "acc", "value": 0.1}
        ...           for s in (0, 1, 10, 100)])
        >>> print(step_zero_notes(t)[0])
        series m: x = 0 cannot be placed on a log axis, so every x is shifted by +1 (0 -> 1); the straight-line yardstick is 2.71 on the shifted x (2.00 without the x <= 0 models)
    """
    out = []
    for series, g in table.groupby("series", sort=True):
        x = np.unique(g["x"].dropna().to_numpy(dtype=float))
        if x.size == 0 or (x > 0).all():
            continue
        shifted, _ = log_axis(x)
        positive = x[x > 0]
        without = f"{straight_line_score(positive):.2f}" if positive.size >= 2 else "undefined"
        out.append(
            f"series {series}: x = {x.min():g} cannot be placed on a log axis, so every x is shifted by "
            f"{1.0 - x.min():+g} ({x.min():g} -> 1); the straight-line yardstick is "
            f"{straight_line_score(shifted):.2f} on the shifted x ({without} without the x <= 0 models)"
        )
    return out


def _direction_word(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, str):
        low = value.strip().lower()
        return low if low in ("higher", "lower", "unknown") else {"true": "higher", "false": "lower"}.get(low)
    return "higher" if bool(value) else "lower"


def _directions(df: pd.DataFrame) -> pd.Series:
    """``direction`` column: an explicit ``direction``, else ``higher_is_better``, else the metric's name."""
    named = df["metric"].astype(str).map(lambda m: _direction_word(metric_direction(m)) or "unknown")
    out = pd.Series([None] * len(df), index=df.index, dtype=object)
    for col in ("higher_is_better", "direction"):
        if col in df.columns:
            given = df[col].map(_direction_word)
            out = given.where(given.notna(), out) if col == "direction" else given
    return out.where(out.notna(), named).astype(str)


def split_order(split: pd.Series) -> pd.Series:
    """Sort key for the ``split`` column: ``all`` first, then ``digits=N`` by N (so 9 comes before 10)."""
    return split.map(
        lambda s: -1.0 if s == "all" else float(s.split("=", 1)[1]) if s.startswith("digits=") else math.inf
    )


def tidy(table: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """Validate a table and fill the optional columns, so hand-built tables work like collected ones.

    Required: ``model`` (label), ``x`` (scale: parameters, steps, width...), ``task``, ``metric``, ``value``.
    Defaults: ``family`` ``"models"``; ``series`` = family (one curve per series); ``filter`` ``"none"``;
    ``split`` ``"all"``; ``kind`` from the metric name (see :func:`metric_kind`); ``direction`` ("higher",
    "lower" or "unknown") from ``higher_is_better`` where given (None/NaN: not given), else from the metric name
    (:func:`~lm_eval_mirage.analysis.schema.metric_direction`); ``higher_is_better`` is then
    ``direction != "lower"`` (an unknown direction is scored as given and judged "direction unknown");
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
        "family": "models",
        "filter": "none",
        "split": "all",
        "params_source": "",
        "lm_eval_version": "",
        "task_version": "",
        "source": "",
    }
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
    df["direction"] = _directions(df)
    df["higher_is_better"] = df["direction"] != "lower"
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


def _curve_n(
    y: np.ndarray, stderr: np.ndarray, n: np.ndarray, arrays: list[np.ndarray] | None, discontinuous: bool
) -> float:
    """Problems per model: samples, else the table's ``n``, else (0/1 metrics) from the standard errors."""
    if arrays is not None:
        return float(min(a.size for a in arrays))
    if np.isfinite(n).any():
        return float(np.nanmin(n))
    if discontinuous:
        guesses = [g for g in (n_from_stderr(v, e) for v, e in zip(y, stderr)) if not math.isnan(g)]
        if guesses:
            return float(round(np.median(guesses)))
    return math.nan


#: Per-problem values held for the batched bootstrap before the curves are judged (8 bytes each).
_HELD_VALUES = 2 * 2**20


def _judge_pending(pending: list[tuple], *, num, col, choices, n_boot, level, seed, threshold_factor) -> list[dict]:
    """Rows of the emergence table for curves waiting for their intervals: the bootstrap of all of them at
    once (:func:`~lm_eval_mirage.analysis.bootstrap_batch.bootstrap_emergence_cis`), then the verdicts."""
    with_samples = [p for p in pending if p[-1] is not None]
    cis = bootstrap_emergence_cis(
        [(p[-1][0], p[4], p[-1][1]) for p in with_samples], n_boot=n_boot, level=level, seed=seed
    )
    ci_of = {id(p): ci for p, ci in zip(with_samples, cis)}
    rows = []
    for p in pending:
        (family, series, task, metric, filt, split), idx, models, missing, higher, kind, y, x, x_log, found = p
        discontinuous = kind == "discontinuous"
        n = _curve_n(y, num["stderr"][idx], num["n"][idx], found[0] if found else None, discontinuous)
        stderr = num["stderr"][idx]
        ci = None
        if found is not None:
            ci = ci_of[id(p)]
            if discontinuous:  # the per-problem spread is the honest standard error of each model's mean
                stderr = np.array([a.std(ddof=1) / math.sqrt(a.size) if a.size > 1 else math.nan for a in found[0]])
        chance = chance_level(task, metric, n_choices=choices.get(task))
        judged = judge_curve(
            y,
            x_log,
            higher_is_better=higher,
            stderr=stderr,
            n=None if math.isnan(n) else n,
            chance=chance,
            discontinuous=discontinuous,
            direction_known=bool((col["direction"][idx] != "unknown").all()),
            labels=models,
            ci=ci,
            threshold_factor=threshold_factor,
            n_boot=n_boot,
            level=level,
            seed=seed,
        )
        rows.append(
            {
                "family": family,
                "series": series,
                "task": task,
                "metric": metric,
                "filter": filt,
                "split": split,
                "kind": kind,
                "higher_is_better": higher,
                "n_models": len(models),
                "models": ";".join(models),
                "x_min": float(x.min()) if x.size else math.nan,
                "x_max": float(x.max()) if x.size else math.nan,
                "first_value": float(y[0]) if y.size else math.nan,
                "last_value": float(y[-1]) if y.size else math.nan,
                **{
                    k: judged[k]
                    for k in (
                        "emergence_score",
                        "linearity",
                        "straight_line",
                        "threshold",
                        "ci_low",
                        "ci_high",
                        "ci_method",
                        "p_change",
                        "late_share",
                    )
                },
                "chance": math.nan if chance is None else chance,
                "n": n,
                "verdict": judged["verdict"],
                "reason": judged["reason"],
                "missing": ";".join(missing),
            }
        )
    return rows


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
    """Score and judge every curve of a tidy table: one row per (family, series, task, metric, filter, split).

    Models are ordered by ``x``. Rows whose ``x`` is unknown (NaN) cannot be placed and are left out (they are
    listed in ``missing``, like models with a NaN value or without this metric for the task); lower-is-better
    metrics are negated before scoring; descriptive metrics (:data:`NOT_SCORED_METRICS`) are skipped.

    Every score gets an interval where the data allow one (``ci_method``): with ``samples`` (per-problem values,
    a :class:`~lm_eval_mirage.analysis.sample_store.SampleStore` or the long table of :data:`SAMPLE_COLUMNS`) a
    bootstrap over problems; else a parametric bootstrap from the ``stderr`` column
    (the results files' ``<metric>_stderr``); else, for an all-or-nothing metric with a known ``n``, from the
    binomial standard error. ``n`` (problems per model) comes from the samples, the table, or, for 0/1 metrics,
    from the standard errors. ``chance`` is the accuracy of random guessing where it is known. The verdict and
    its ``reason`` come from :func:`~lm_eval_mirage.analysis.verdict.decide` (noise, chance, resolution and
    where along the scale the change happens); ``p_change`` and ``late_share`` are the numbers it used.

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
    # One pass of numpy arrays: per-group pandas indexing costs milliseconds, and a download such as Pythia's
    # evaluations has thousands of curves.
    col = {c: df[c].to_numpy() for c in ("model", "higher_is_better", "kind", "direction")}
    num = {c: df[c].to_numpy(dtype=float) for c in ("x", "value", "stderr", "n")}
    groups = [(k, idx) for k, idx in df.groupby(keys, sort=True).indices.items() if k[3] not in NOT_SCORED_METRICS]
    has_samples = samples is not None and not samples.empty
    by_key = sample_index(samples) if has_samples else {}
    choices = df.groupby("task")["n_choices"].max().to_dict() if "n_choices" in df.columns else {}
    rows: list[dict] = []
    pending: list[tuple] = []
    held = 0
    judge = {
        "num": num,
        "col": col,
        "choices": choices,
        "n_boot": n_boot,
        "level": level,
        "seed": seed,
        "threshold_factor": threshold_factor,
    }
    iterator = groups
    if progress is not False and len(groups) > 50:  # None: on a terminal only
        from tqdm.auto import tqdm

        iterator = tqdm(groups, desc="emergence scores", unit="curve", disable=None if progress is None else False)
    for (family, series, task, metric, filt, split), idx in iterator:
        idx = idx[~(np.isnan(num["x"][idx]) | np.isnan(num["value"][idx]))]
        idx = idx[np.argsort(num["x"][idx], kind="stable")]
        models = [str(m) for m in col["model"][idx]]
        missing = [m for m in present[(series, task)] if m not in set(models)]
        first = idx[0] if idx.size else None
        higher = bool(col["higher_is_better"][first]) if first is not None else True
        kind = str(col["kind"][first]) if first is not None else ""
        y, x = num["value"][idx], num["x"][idx]
        x_log, _ = log_axis(x)
        found = _sample_arrays(by_key, models, task, metric, filt, split) if has_samples and len(models) >= 2 else None
        pending.append(
            ((family, series, task, metric, filt, split), idx, models, missing, higher, kind, y, x, x_log, found)
        )
        held += sum(a.size for a in found[0]) if found is not None else 0
        if held > _HELD_VALUES:  # per-problem values waiting for their intervals: bounded memory
            rows.extend(_judge_pending(pending, **judge))
            pending, held = [], 0
    rows.extend(_judge_pending(pending, **judge))
    out = pd.DataFrame(rows, columns=list(EMERGENCE_COLUMNS))
    return out.sort_values(
        ["family", "series", "task", "metric", "filter", "split"],
        key=lambda c: split_order(c) if c.name == "split" else c,
        kind="stable",
    ).reset_index(drop=True)
