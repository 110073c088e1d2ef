"""The cross-task view: is emergence a property of the task, the model family, or the metric?

Schaeffer et al. (2023, Fig. 5) scored every BIG-bench task under every metric and found that nearly all
emergent verdicts come from two discontinuous metrics. This module asks the same of any family of tasks in an
emergence table (:func:`~lm_eval_mirage.analysis.table.emergence_table`, whose verdicts come from
:mod:`~lm_eval_mirage.analysis.verdict`), one (family, series) at a time, on the ``split == "all"`` rows:

- :func:`metric_counts`: per metric (and filter), how many tasks each verdict was given, and how the emergence
  scores spread (quantiles; ``+inf``/``-inf`` and not-scored counts kept apart, never dropped);
  :func:`kind_counts`: the same per metric kind (discontinuous / nonlinear / continuous).
- :func:`metric_contrast`: every (task, discontinuous metric) pair called ``emergent``, with the verdicts of the
  continuous metrics on the same outputs (the same task under any filter, and its likelihood twin
  ``<task>_ll``, which scores the same problems) and what that says: ``metric property`` (some continuous
  metric is smooth or flat, none is emergent), ``task-model property`` (some continuous metric is emergent
  too, none is smooth or flat), ``mixed`` (the continuous metrics disagree: some emergent, some smooth or
  flat), ``undecided`` (continuous metrics exist but none is emergent, smooth or flat: uncertain, not judged),
  ``no continuous metric`` (the task has none, e.g. plain accuracy runs); :func:`contrast_summary` counts them.
- :func:`plot_score_distribution`: the scores as a strip plot, one row per metric or kind, with the
  straight-line yardstick and the threshold drawn; scores beyond the axis (and infinite ones) sit at its edge
  as arrows with their count.
- :func:`cross_task_section`: the report's section (tables written as ``cross_task*.csv/json``, figures).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_mirage.analysis.output import file_slug, write_frame

__all__ = [
    "VERDICT_COUNTS",
    "KIND_ORDER",
    "PROPERTIES",
    "cross_task_series",
    "metric_counts",
    "kind_counts",
    "metric_contrast",
    "contrast_summary",
    "contrast_sentence",
    "plot_score_distribution",
    "cross_task_section",
]

#: Verdict -> count column of :func:`metric_counts` (every verdict of the decision rule).
VERDICT_COUNTS = {
    "emergent": "n_emergent",
    "uncertain": "n_uncertain",
    "inverse emergent": "n_inverse_emergent",
    "smooth": "n_smooth",
    "flat (within noise)": "n_flat",
    "at chance": "n_at_chance",
    "at resolution floor": "n_at_floor",
    "too few models": "n_too_few_models",
    "direction unknown": "n_direction_unknown",
}
KIND_ORDER = ("discontinuous", "nonlinear", "continuous")
#: The classes of :func:`metric_contrast`, in the order they are reported.
PROPERTIES = ("metric property", "task-model property", "mixed", "undecided", "no continuous metric")
_SMOOTH = frozenset({"smooth", "flat (within noise)", "flat"})
_NOT_JUDGED = frozenset({"too few models", "direction unknown"})
_KEYS = ["family", "series"]


def _all_split(scores: pd.DataFrame) -> pd.DataFrame:
    return scores[scores["split"] == "all"] if "split" in scores.columns else scores


def _selected(scores: pd.DataFrame, series: Sequence[tuple[str, str]] | None) -> pd.DataFrame:
    """The ``split == "all"`` rows of the chosen (family, series) (default: :func:`cross_task_series`)."""
    sel = _all_split(scores)
    keep = set(cross_task_series(scores) if series is None else series)
    mask = np.array([(f, s) in keep for f, s in zip(sel["family"], sel["series"])], dtype=bool)
    return sel.loc[mask] if len(sel) else sel


def cross_task_series(scores: pd.DataFrame, *, min_tasks: int = 2) -> list[tuple[str, str]]:
    """The (family, series) with at least ``min_tasks`` tasks that have a judged curve (three or more models).

    Example:
        >>> s = pd.DataFrame({"family": "f", "series": ["a", "a", "b"], "task": ["t1", "t2", "t1"],
        ...                   "split": "all", "verdict": ["smooth", "emergent", "smooth"]})
        >>> cross_task_series(s)
        [('f', 'a')]
    """
    sel = _all_split(scores)
    sel = sel[sel["verdict"] != "too few models"]
    n = sel.groupby(_KEYS)["task"].nunique()
    return [(str(f), str(s)) for (f, s), k in n.items() if k >= min_tasks]


def _score_stats(scores: np.ndarray) -> dict:
    """Quantiles over every score that is not NaN (infinite ones included, no interpolation) and the counts."""
    known = scores[~np.isnan(scores)]
    q = np.quantile(known, [0.0, 0.25, 0.5, 0.75, 1.0], method="inverted_cdf") if known.size else [math.nan] * 5
    return {
        "n_scored": int(known.size),
        "n_pos_inf": int(np.isposinf(scores).sum()),
        "n_neg_inf": int(np.isneginf(scores).sum()),
        "n_not_scored": int(np.isnan(scores).sum()),
        "score_min": float(q[0]),
        "score_q25": float(q[1]),
        "score_median": float(q[2]),
        "score_q75": float(q[3]),
        "score_max": float(q[4]),
    }


def _counts(g: pd.DataFrame) -> dict:
    verdicts = g["verdict"].astype(str)
    out = {"n_tasks": int(g["task"].nunique()), "n_curves": int(len(g))}
    out.update({col: int((verdicts == v).sum()) for v, col in VERDICT_COUNTS.items()})
    out["n_flat"] += int((verdicts == "flat").sum())  # the former name of "flat (within noise)"
    out["n_other"] = int((~verdicts.isin(set(VERDICT_COUNTS) | {"flat"})).sum())
    out.update(_score_stats(g["emergence_score"].to_numpy(dtype=float)))
    line = g["straight_line"].to_numpy(dtype=float)
    line = line[np.isfinite(line)]
    out["straight_line"] = float(np.median(line)) if line.size else math.nan
    out["straight_line_min"] = float(line.min()) if line.size else math.nan
    out["straight_line_max"] = float(line.max()) if line.size else math.nan
    thr = g["threshold"].to_numpy(dtype=float)
    thr = thr[np.isfinite(thr)]
    out["threshold"] = float(np.median(thr)) if thr.size else math.nan
    # The published rule alone (score >= threshold), to set beside the verdicts that also weigh noise and shape.
    score, threshold = g["emergence_score"].to_numpy(dtype=float), g["threshold"].to_numpy(dtype=float)
    out["n_above_threshold"] = int((score >= threshold).sum())
    return out


def _grouped(scores: pd.DataFrame, by: list[str], series: Sequence[tuple[str, str]] | None) -> pd.DataFrame:
    sel = _selected(scores, series)
    rows = [dict(zip(_KEYS + by, key)) | _counts(g) for key, g in sel.groupby(_KEYS + by, sort=True)]
    return pd.DataFrame(rows, columns=_KEYS + by + list(_counts(scores.iloc[:0]).keys()) if not rows else None)


def metric_counts(scores: pd.DataFrame, *, series: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Per (family, series, metric, filter): verdict counts over the tasks and the spread of the scores.

    Rows: discontinuous metrics first, then nonlinear, then continuous. Columns: family, series, metric,
    filter, kind, n_tasks, n_curves, one ``n_<verdict>`` per verdict
    (:data:`VERDICT_COUNTS`, plus ``n_other``), n_scored, n_pos_inf, n_neg_inf, n_not_scored, score_min,
    score_q25, score_median, score_q75, score_max (over the scores that are not NaN, infinite ones included),
    straight_line (median over the tasks; min and max beside it: tasks missing a model have another
    yardstick) and threshold. ``series`` (default: :func:`cross_task_series`) selects the (family, series).

    Example:
        >>> s = pd.DataFrame({"family": "f", "series": "s", "task": ["t1", "t2", "t1", "t2"], "split": "all",
        ...     "metric": ["acc", "acc", "brier_score", "brier_score"], "filter": "none",
        ...     "kind": ["discontinuous"] * 2 + ["continuous"] * 2,
        ...     "verdict": ["emergent", "smooth", "smooth", "smooth"],
        ...     "emergence_score": [float("inf"), 3.0, 2.0, 2.5], "straight_line": 3.0, "threshold": 4.5})
        >>> c = metric_counts(s)
        >>> c[["metric", "n_tasks", "n_emergent", "n_smooth", "n_pos_inf", "score_max"]].values.tolist()
        [['acc', 2, 1, 1, 1, inf], ['brier_score', 2, 0, 2, 0, 2.5]]
    """
    out = _grouped(scores, ["metric", "filter", "kind"], series)
    cols = ["family", "series", "metric", "filter", "kind"]
    out = out[cols + [c for c in out.columns if c not in cols]]
    return _by_kind(out, ["family", "series", "kind", "metric", "filter"])


def _by_kind(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sorted by ``keys``, the ``kind`` column in :data:`KIND_ORDER` (discontinuous first)."""
    rank = {k: i for i, k in enumerate(KIND_ORDER)}
    return frame.sort_values(
        keys, key=lambda c: c.map(lambda k: rank.get(k, len(rank))) if c.name == "kind" else c, kind="stable"
    ).reset_index(drop=True)


def kind_counts(scores: pd.DataFrame, *, series: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """:func:`metric_counts` per metric kind (discontinuous, nonlinear, continuous) instead of per metric;
    ``n_tasks`` counts tasks with at least one curve of that kind, ``n_curves`` the curves.

    Example:
        >>> s = pd.DataFrame({"family": "f", "series": "s", "task": ["t1", "t2", "t1"], "split": "all",
        ...     "metric": ["acc", "acc_norm", "ppl"], "filter": "none",
        ...     "kind": ["discontinuous", "discontinuous", "continuous"], "verdict": ["emergent", "smooth", "smooth"],
        ...     "emergence_score": [9.0, 3.0, 2.0], "straight_line": 3.0, "threshold": 4.5})
        >>> kind_counts(s)[["kind", "n_tasks", "n_curves", "n_emergent"]].values.tolist()
        [['discontinuous', 2, 2, 1], ['continuous', 1, 1, 0]]
    """
    return _by_kind(_grouped(scores, ["kind"], series), _KEYS + ["kind"])


def _label(metric: str, filt: str) -> str:
    return metric if filt in ("none", "", "nan") else f"{metric} [{filt}]"


def _twins(task: str) -> set[str]:
    base = task[:-3] if task.endswith("_ll") else task
    return {base, f"{base}_ll"}


def _classify(companions: pd.DataFrame) -> str:
    """The class of one emergent pair from its continuous companions' verdicts (see :func:`metric_contrast`).

    Example:
        >>> [_classify(pd.DataFrame({"verdict": v})) for v in (["smooth", "uncertain"], ["emergent", "uncertain"],
        ...     ["emergent", "smooth"], ["uncertain", "too few models"], [])]
        ['metric property', 'task-model property', 'mixed', 'undecided', 'no continuous metric']
    """
    if companions.empty:
        return "no continuous metric"
    verdicts = set(companions["verdict"].astype(str))
    smooth, emergent = bool(verdicts & _SMOOTH), "emergent" in verdicts
    if smooth and emergent:
        return "mixed"
    if smooth:
        return "metric property"
    if emergent:
        return "task-model property"
    return "undecided"


def metric_contrast(scores: pd.DataFrame, *, series: Sequence[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Every (task, discontinuous metric) pair called ``emergent``, and what the continuous metrics say.

    The continuous metrics on the same outputs are those of kind ``continuous`` on the same (family, series)
    and task under any filter (filters parse the same generations), or on its likelihood twin ``<task>_ll``
    (the same problems, teacher-forced). ``property``: ``metric property`` when one of them is smooth or flat
    within noise and none is emergent, ``task-model property`` when one is emergent as well and none is smooth
    or flat (``uncertain`` ones allowed: emergent by shape, interval reaching below the threshold), ``mixed``
    when some are emergent and some smooth or flat (the continuous metrics disagree: say which, do not pick),
    ``undecided`` otherwise (uncertain, inverse emergent, not judged), ``no continuous metric`` when there is
    none. Columns: family, series, task, metric, filter, emergence_score, reason, n_continuous,
    n_continuous_smooth, n_continuous_emergent, continuous (``metric: verdict; ...``), property.

    Example:
        >>> s = pd.DataFrame({"family": "f", "series": "s", "split": "all",
        ...     "task": ["add", "add", "mul", "mul", "arc"],
        ...     "metric": ["exact_match", "token_edit_distance", "exact_match", "token_edit_distance", "acc"],
        ...     "filter": "none", "kind": ["discontinuous", "continuous"] * 2 + ["discontinuous"],
        ...     "verdict": ["emergent", "smooth", "emergent", "emergent", "emergent"],
        ...     "emergence_score": 20.0, "reason": "r"})
        >>> metric_contrast(s)[["task", "metric", "property"]].values.tolist()
        [['add', 'exact_match', 'metric property'], ['arc', 'acc', 'no continuous metric'], ['mul', 'exact_match', 'task-model property']]
    """
    cols = [
        "family",
        "series",
        "task",
        "metric",
        "filter",
        "emergence_score",
        "reason",
        "n_continuous",
        "n_continuous_smooth",
        "n_continuous_emergent",
        "continuous",
        "property",
    ]
    sel = _selected(scores, series)
    cont = sel[sel["kind"] == "continuous"]
    by_series = {k: g for k, g in cont.groupby(_KEYS)}
    rows = []
    pairs = sel[(sel["kind"] == "discontinuous") & (sel["verdict"] == "emergent")]
    for r in pairs.itertuples(index=False):
        pool = by_series.get((r.family, r.series), cont.iloc[:0])
        comp = pool[pool["task"].isin(_twins(r.task))]
        verdicts = comp["verdict"].astype(str)
        rows.append(
            {
                "family": r.family,
                "series": r.series,
                "task": r.task,
                "metric": r.metric,
                "filter": r.filter,
                "emergence_score": float(r.emergence_score),
                "reason": getattr(r, "reason", ""),
                "n_continuous": int(len(comp)),
                "n_continuous_smooth": int(verdicts.isin(_SMOOTH).sum()),
                "n_continuous_emergent": int((verdicts == "emergent").sum()),
                "continuous": "; ".join(
                    f"{_label(c.metric, c.filter)}{'' if c.task == r.task else f' ({c.task})'}: {c.verdict}"
                    for c in comp.itertuples(index=False)
                ),
                "property": _classify(comp),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    return out.sort_values(["family", "series", "task", "metric", "filter"], kind="stable").reset_index(drop=True)


def contrast_summary(
    scores: pd.DataFrame, *, series: Sequence[tuple[str, str]] | None = None, pairs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per (family, series): the emergent (task, discontinuous metric) pairs and how many fall in each class.

    Columns: family, series, n_tasks, n_discontinuous_pairs (judged or not), n_pairs_with_continuous (of
    those, the pairs that have a continuous metric on the same outputs at all), n_emergent_pairs, then one
    count per :data:`PROPERTIES` (``metric_property``, ``task_model_property``, ``mixed``, ``undecided``,
    ``no_continuous_metric``). ``pairs``: a :func:`metric_contrast` result, to avoid computing it twice.

    Example:
        >>> s = pd.DataFrame({"family": "f", "series": "s", "split": "all", "task": ["a", "a", "b"],
        ...     "metric": ["exact_match", "token_edit_distance", "acc"], "filter": "none",
        ...     "kind": ["discontinuous", "continuous", "discontinuous"], "verdict": ["emergent", "smooth", "smooth"],
        ...     "emergence_score": 9.0, "reason": "r"})
        >>> contrast_summary(s)[["n_emergent_pairs", "metric_property", "no_continuous_metric"]].values.tolist()
        [[1, 1, 0]]
    """
    chosen = cross_task_series(scores) if series is None else list(series)
    pairs = metric_contrast(scores, series=chosen) if pairs is None else pairs
    sel = _all_split(scores)
    rows = []
    for fam, ser in chosen:
        g = sel[(sel["family"] == fam) & (sel["series"] == ser)]
        p = pairs[(pairs["family"] == fam) & (pairs["series"] == ser)]
        with_cont = set(g.loc[g["kind"] == "continuous", "task"])
        disc = g[g["kind"] == "discontinuous"]
        row = {
            "family": fam,
            "series": ser,
            "n_tasks": int(g["task"].nunique()),
            "n_discontinuous_pairs": int(len(disc)),
            "n_pairs_with_continuous": int(sum(bool(_twins(t) & with_cont) for t in disc["task"])),
            "n_emergent_pairs": int(len(p)),
        }
        row.update(
            {prop.replace(" ", "_").replace("-", "_"): int((p["property"] == prop).sum()) for prop in PROPERTIES}
        )
        rows.append(row)
    cols = ["family", "series", "n_tasks", "n_discontinuous_pairs", "n_pairs_with_continuous", "n_emergent_pairs"] + [
        p.replace(" ", "_").replace("-", "_") for p in PROPERTIES
    ]
    return pd.DataFrame(rows, columns=cols)


def contrast_sentence(row) -> str:
    """The contrast of one :func:`contrast_summary` row in words.

    Example:
        >>> print(contrast_sentence({"series": "s", "n_tasks": 3, "n_discontinuous_pairs": 4, "n_emergent_pairs": 2,
        ...     "n_pairs_with_continuous": 3, "metric_property": 1, "task_model_property": 0, "mixed": 0,
        ...     "undecided": 0, "no_continuous_metric": 1}))
        s: 2 of 4 (task, discontinuous metric) pairs over 3 tasks are called emergent; 1 has a smooth continuous metric on the same outputs and none emergent (metric property), 0 stay emergent under a continuous metric and smooth under none (task-model property), 0 mixed (continuous metrics disagree), 0 undecided, 1 has no continuous metric.
        >>> print(contrast_sentence({"series": "s", "n_tasks": 2, "n_discontinuous_pairs": 2, "n_emergent_pairs": 0,
        ...     "n_pairs_with_continuous": 0}))
        s: 0 of 2 (task, discontinuous metric) pairs over 2 tasks are called emergent; 0 of the 2 have a continuous metric on the same outputs (multiple-choice tasks get two with run --add_metrics brier_score,correct_choice_prob).
    """
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    k, n = int(get("n_emergent_pairs")), int(get("n_discontinuous_pairs"))
    head = f"{get('series')}: {k} of {n} (task, discontinuous metric) pairs over {int(get('n_tasks'))} tasks are called emergent"
    if k == 0:
        with_cont = int(get("n_pairs_with_continuous"))
        if with_cont == n:
            return head + ", so there is nothing for a continuous metric to explain."
        return (
            f"{head}; {with_cont} of the {n} {'has' if with_cont == 1 else 'have'} a continuous metric on the same "
            "outputs (multiple-choice tasks get two with run --add_metrics brier_score,correct_choice_prob)."
        )
    has = lambda n: "has" if n == 1 else "have"  # noqa: E731
    mp, tm, mx, und, no = (
        int(get(c)) for c in ("metric_property", "task_model_property", "mixed", "undecided", "no_continuous_metric")
    )
    return (
        f"{head}; {mp} {has(mp)} a smooth continuous metric on the same outputs and none emergent (metric "
        f"property), {tm} {'stays' if tm == 1 else 'stay'} emergent under a continuous metric and smooth under "
        f"none (task-model property), {mx} mixed (continuous metrics disagree), {und} undecided, {no} {has(no)} "
        "no continuous metric."
    )


_VERDICT_COLORS = {
    "emergent": "#D55E00",
    "uncertain": "#E69F00",
    "inverse emergent": "#CC79A7",
    "smooth": "#0072B2",
    "flat (within noise)": "#56B4E9",
    "flat": "#56B4E9",
    "at chance": "#BBBBBB",
}
_OTHER_COLOR = "#555555"


def _axis_limit(scores: np.ndarray, threshold: float) -> float:
    """Half-width of the score axis, at least twice the threshold: every finite score, unless the largest is
    an outlier (over 3 times the 95th percentile of |score|): then 1.5 times that percentile."""
    finite = np.abs(scores[np.isfinite(scores)])
    base = 2.0 * threshold if math.isfinite(threshold) and threshold > 0 else 10.0
    if not finite.size:
        return base
    top, q95 = float(finite.max()), float(np.quantile(finite, 0.95))
    return max(base, top * 1.05 if top <= 3.0 * q95 else 1.5 * q95)


def _horizontal() -> dict:
    """Horizontal boxes: ``orientation`` since matplotlib 3.10 (``vert`` is deprecated from 3.11), else ``vert``."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def plot_score_distribution(
    scores: pd.DataFrame,
    *,
    family: str | None = None,
    series: str | None = None,
    by: str = "metric",
    clip: float | None = None,
    ax=None,
):
    """Emergence scores of one (family, series) over its tasks: a strip plot, one row per metric or kind.

    Each dot is one task, coloured by its verdict, with a box of the quartiles; the solid line is the
    straight-line yardstick (median over the tasks) and the dashed one the verdict threshold. Scores beyond
    ``clip`` (default: all finite scores fit unless the largest is over 3 times the 95th percentile of
    |score|, then 1.5 times that percentile; at least twice the threshold), infinite ones included, are drawn
    at the axis edge as arrows and counted at the row's end ("3 > 25, 2 inf");
    not-scored curves (NaN) are counted there too. ``by``: ``"metric"`` (metric and filter) or ``"kind"``.
    Returns the axes.
    """
    if by not in ("metric", "kind"):
        raise ValueError(f"by must be 'metric' or 'kind', got {by!r}")
    sel = _all_split(scores)
    if family is not None:
        sel = sel[sel["family"] == family]
    if series is not None:
        sel = sel[sel["series"] == series]
    if by == "metric":
        labels = [_label(m, f) for m, f in zip(sel["metric"], sel["filter"])]
        rank = {k: i for i, k in enumerate(KIND_ORDER)}
        order = sorted(set(zip(sel["kind"], labels)), key=lambda kl: (rank.get(kl[0], 9), kl[1]))
        rows = [lab for _, lab in order]
    else:
        labels = list(sel["kind"])
        rows = [k for k in KIND_ORDER if k in set(labels)] + sorted(set(labels) - set(KIND_ORDER))
    if ax is None:
        _, ax = _figure(1, len(rows))
        ax = ax[0]
    y_score = sel["emergence_score"].to_numpy(dtype=float)
    line = float(np.nanmedian(sel["straight_line"])) if sel["straight_line"].notna().any() else math.nan
    thr = float(np.nanmedian(sel["threshold"])) if sel["threshold"].notna().any() else math.nan
    limit = float(clip) if clip is not None else _axis_limit(y_score, thr)
    rng = np.random.default_rng(0)  # deterministic jitter
    lab_arr, verdicts = np.array(labels, dtype=object), sel["verdict"].astype(str).to_numpy()
    for i, row in enumerate(rows):
        mask = lab_arr == row
        v, verd = y_score[mask], verdicts[mask]
        known = v[~np.isnan(v)]
        if known.size:
            shown = np.clip(known, -limit, limit)
            ax.boxplot(
                shown,
                positions=[i],
                **_horizontal(),
                widths=0.55,
                showfliers=False,
                manage_ticks=False,
                medianprops={"color": "black"},
                boxprops={"color": "#555555"},
                whiskerprops={"color": "#555555"},
                capprops={"color": "#555555"},
            )
        jitter = rng.uniform(-0.18, 0.18, size=v.size)
        for val, vd, dy in zip(v, verd, jitter):
            if np.isnan(val):
                continue
            color = _VERDICT_COLORS.get(vd, _OTHER_COLOR)
            if abs(val) > limit:
                ax.plot(
                    math.copysign(limit, val),
                    i + dy,
                    marker=">" if val > 0 else "<",
                    color=color,
                    ms=7,
                    ls="none",
                    clip_on=False,
                    zorder=3,
                )
            else:
                ax.plot(val, i + dy, marker="o", color=color, ms=4.5, alpha=0.85, ls="none", zorder=3)
        beyond_hi, beyond_lo = int((v > limit).sum()), int((v < -limit).sum())
        n_inf, n_nan = int(np.isinf(v).sum()), int(np.isnan(v).sum())
        notes = []
        if beyond_hi:
            notes.append(f"{beyond_hi} > {limit:.3g}")
        if beyond_lo:
            notes.append(f"{beyond_lo} < {-limit:.3g}")
        if n_inf:
            notes.append(f"{n_inf} inf")
        if n_nan:
            notes.append(f"{n_nan} not scored")
        if notes:
            ax.annotate(
                ", ".join(notes),
                xy=(1.01, i),
                xycoords=("axes fraction", "data"),
                va="center",
                fontsize=7,
                annotation_clip=False,
            )
    if math.isfinite(line):
        ax.axvline(line, color="black", lw=1, label=f"straight line ({line:.3g})")
    if math.isfinite(thr):
        ax.axvline(thr, color="black", lw=1, ls="--", label=f"threshold ({thr:.3g})")
    ax.set_xlim(-limit * 1.02, limit * 1.02)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    ax.set_xlabel("emergence score")
    n_tasks = sel["task"].nunique()
    title = ", ".join(x for x in (series or family or "", f"{n_tasks} tasks") if x)
    ax.set_title(f"Emergence scores across tasks, per {by}: {title}", fontsize=9)
    handles = [
        ax.plot([], [], marker="o", ls="none", color=c, label=v)[0]
        for v, c in _VERDICT_COLORS.items()
        if v in set(verdicts) and v != "flat"
    ]
    if set(verdicts) - set(_VERDICT_COLORS):
        handles.append(ax.plot([], [], marker="o", ls="none", color=_OTHER_COLOR, label="other verdicts")[0])
    if rows:  # below the axes, so that no dot hides behind it
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, frameon=False)
    return ax


def _figure(cols: int, rows: int):
    """A figure of ``cols`` strip-plot panels for ``rows`` rows each (constrained layout keeps the counts in)."""
    from lm_eval_mirage.analysis.plots import require_matplotlib

    plt = require_matplotlib()
    fig, axes = plt.subplots(
        1, cols, figsize=(6.0 * cols, max(2.4, 0.4 * rows + 1.9)), layout="constrained", squeeze=False
    )
    return fig, list(axes.flat)


def cross_task_section(
    report, out: Path, *, plots: bool = True, formats: Sequence[str] = ("png", "svg")
) -> list[tuple]:
    """Compute the cross-task view of ``report.scores``, write its tables (and figures), return report blocks.

    Files: ``cross_task.csv/json`` (:func:`metric_counts` and :func:`kind_counts` rows, ``level`` saying
    which), ``cross_task_pairs.csv/json`` (:func:`metric_contrast`) and ``cross_task_contrast.csv/json``
    (:func:`contrast_summary`), added to ``report.files``; figures ``figures/<series>__cross_task.*``. Returns
    the blocks of the report's section (empty when no (family, series) has two tasks to compare).
    """

    scores = report.scores
    if scores is None or scores.empty:
        return []
    chosen = cross_task_series(scores)
    if not chosen:
        return []
    by_metric, by_kind = metric_counts(scores, series=chosen), kind_counts(scores, series=chosen)
    pairs = metric_contrast(scores, series=chosen)
    summary = contrast_summary(scores, series=chosen, pairs=pairs)
    table = pd.concat([by_metric.assign(level="metric"), by_kind.assign(level="kind")], ignore_index=True)
    table = table[["level"] + [c for c in table.columns if c != "level"]]
    for name, frame in (("cross_task", table), ("cross_task_pairs", pairs), ("cross_task_contrast", summary)):
        csv, js = write_frame(frame, out / name)
        report.files[f"{name}.csv"], report.files[f"{name}.json"] = csv, js
    all_series = set(zip(_all_split(scores)["family"], _all_split(scores)["series"]))
    blocks: list[tuple] = [("h", 2, "Across tasks: task, model or metric?")]
    intro = (
        "For each series with several tasks: how many tasks each metric calls emergent (verdicts of the "
        "emergence table), and, for the (task, discontinuous metric) pairs called emergent, whether the "
        "continuous metrics on the same outputs are smooth (a metric property), emergent too (a task-model "
        "property) or disagree (mixed)."
    )
    blocks.append(("p", intro))
    if len(all_series) > len(chosen):
        blocks.append(
            (
                "p",
                f"{len(all_series) - len(chosen)} other series are left out: fewer than two tasks with "
                "three or more models.",
            )
        )
    blocks.append(("list", [contrast_sentence(r) for r in summary.itertuples(index=False)]))
    fixed = ["metric", "filter", "kind", "n_tasks", "n_emergent", "n_above_threshold"]
    countable = [c for c in VERDICT_COUNTS.values() if c != "n_emergent"] + [
        "n_other",
        "n_pos_inf",
        "n_neg_inf",
        "n_not_scored",
    ]
    tail = ["score_median", "score_max", "straight_line", "threshold"]
    short = {c: c.removeprefix("n_").replace("_", " ") for c in fixed + countable if c not in ("n_tasks",)}
    short |= {"n_above_threshold": "ES >= threshold", "n_pos_inf": "ES inf", "n_neg_inf": "ES -inf"}
    for fam, ser in chosen:
        blocks.append(("h", 3, f"{ser}" if ser == fam else f"{fam}: {ser}"))
        m = by_metric[(by_metric["family"] == fam) & (by_metric["series"] == ser)]
        k = by_kind[(by_kind["family"] == fam) & (by_kind["series"] == ser)]
        # Counts that are 0 for every metric are named in one line instead of a column of zeros (files keep them).
        zero = [c for c in countable if not (m[c] != 0).any()]
        shown = fixed + [c for c in countable if c not in zero] + tail
        if zero:
            blocks.append(("p", "0 for every metric (columns not shown): " + ", ".join(short[c] for c in zero) + "."))
        blocks.append(("table", m[shown].rename(columns=short)))
        blocks.append(("table", k[[c for c in shown if c not in ("metric", "filter")]].rename(columns=short)))
        if plots:
            from lm_eval_mirage.analysis.plots import save_figure

            fig, axes = _figure(2, max(len(m), len(k)))
            plot_score_distribution(scores, family=fam, series=ser, by="metric", ax=axes[0])
            plot_score_distribution(scores, family=fam, series=ser, by="kind", ax=axes[1])
            stem = f"figures/{file_slug(ser)}__cross_task"
            for path in save_figure(fig, out / stem, formats):  # closes the figure
                report.files[f"figures/{path.name}"] = path
            blocks.append(
                (
                    "figure",
                    stem,
                    "Emergence scores over the tasks, per metric (left) and per metric kind "
                    "(right); one dot per task coloured by verdict; solid line: a straight line "
                    "in log x, dashed: the threshold; arrows at the edge: beyond the axis "
                    "(counted at the row's end, infinite scores included).",
                )
            )
        p = pairs[(pairs["family"] == fam) & (pairs["series"] == ser)]
        if len(p):
            blocks.append(("table", p[["task", "metric", "filter", "emergence_score", "continuous", "property"]]))
    return blocks
