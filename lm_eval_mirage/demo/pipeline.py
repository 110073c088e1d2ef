"""The steps ``lm-eval-mirage demo`` and ``lm-eval-mirage control`` share, after each has chosen its runs.

Evaluate every run through the harness (cached), collect and score the runs with :mod:`lm_eval_mirage.analysis`
(the carry-steps checkpoints on the training-step axis, everything else on the parameter axis), add one
seed-mean curve per family with several seeds, write the report, then the headline table of emergence scores
and the command's summary files.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from lm_eval_mirage import harness_private
from lm_eval_mirage._io import atomic_write_text
from lm_eval_mirage.demo.members import DemoMember

__all__ = [
    "HEADLINE_METRICS",
    "check_run_arguments",
    "default_backend",
    "evaluate_members",
    "load_runs",
    "seed_mean_rows",
    "with_seed_means",
    "evaluate_and_report",
    "headline_table",
    "markdown_table",
    "headline_markdown",
    "write_summary",
]

#: (metric, filter, which task of the pair) shown in the headline, discontinuous first.
HEADLINE_METRICS = (
    ("exact_match", "parsed", "gen"),
    ("greedy_exact_match", "none", "ll"),
    ("target_prob", "none", "ll"),
    ("token_edit_distance", "parsed", "gen"),
    ("digit_accuracy", "parsed", "gen"),
    ("per_token_prob", "none", "ll"),
    ("per_token_logprob", "none", "ll"),
)
#: the columns a seed-mean curve is grouped by
_MEAN_KEYS = ["x", "task", "metric", "filter", "split", "target_digits", "higher_is_better", "kind"]


def check_run_arguments(families: Sequence[str], allowed: Sequence[str], seeds: Any, limit: Any) -> None:
    """The checks ``run_demo`` and ``run_control`` share: known families, ``seeds`` and ``limit`` >= 1."""
    unknown = sorted(set(families) - set(allowed))
    if unknown or not families:
        raise ValueError(f"families={list(families)!r}: accepted values are {', '.join(allowed)}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} must be an integer >= 1")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit={limit!r} must be an integer >= 1")


def default_backend() -> str:
    """``hf-mirage`` (per-token log-probs from the one forward pass) when the plugin has it, else stock ``hf``."""
    from lm_eval_mirage import models

    return "hf-mirage" if "hf-mirage" in getattr(models, "BACKENDS", {}) else "hf"


def evaluate_members(runs: Sequence[DemoMember], cache_root: Path, *, progress: bool) -> tuple[list[Path], int]:
    """Evaluate every member through the harness (cached under ``cache_root/runs``); ``(run folders, reused)``.

    The harness shortcuts of :func:`~lm_eval_mirage.demo.harness.faster_harness` apply only where the private
    functions they replace have the tested source (else warned, skipped).
    """
    from tqdm.auto import tqdm

    from lm_eval_mirage.demo.harness import evaluate_or_reuse, faster_harness, run_spec, spec_id

    folders: list[Path] = []
    reused = 0
    bar = tqdm(runs, desc="evaluating members", unit="model", disable=not progress)
    replaced = ("lm_eval.utils:apply_template", "lm_eval.loggers.utils:add_env_info")
    shortcut = all([harness_private.check(name) for name in replaced])  # a list: every check warns if it fails
    with faster_harness() if shortcut else contextlib.nullcontext():
        for m in bar:
            bar.set_postfix_str(m.name)
            spec = run_spec(m.backend, m.model_args, m.tasks, limit=m.limit, metadata=m.metadata, identity=m.identity)
            folder = cache_root / "runs" / m.family / m.name / spec_id(spec)
            path, was_cached = evaluate_or_reuse(
                m.backend, m.model_args, m.tasks, folder, limit=m.limit, metadata=m.metadata, identity=m.identity
            )
            folders.append(path)
            reused += was_cached
    return folders, reused


def load_runs(runs: Sequence[DemoMember], folders: Sequence[Path], step_of: dict[str, int], *, progress: bool) -> Any:
    """Collect the runs: the members named in ``step_of`` (checkpoints along training) on the training-step axis,
    one curve per seed, the others on the parameter axis; one :class:`~lm_eval_mirage.analysis.collect.Collection`
    of both."""
    import pandas as pd

    from lm_eval_mirage.analysis import load

    def part(pairs: list[tuple[DemoMember, Path]], **kwargs: Any) -> Any:
        members = [m for m, _ in pairs]
        params = {m.name: m.params for m in members}
        families = {m.name: m.series for m in members}
        return load([f for _, f in pairs], params=params, families=families, progress=progress, **kwargs)

    by_steps = [(m, f) for m, f in zip(runs, folders, strict=True) if m.name in step_of]
    by_params = [(m, f) for m, f in zip(runs, folders, strict=True) if m.name not in step_of]
    parts = []
    if by_steps:
        found = part(by_steps, x="steps", steps={m.name: step_of[m.name] for m, _ in by_steps})
        found.table["series"] = found.table["family"]  # x="steps" makes one curve per model; here: one per seed
        parts.append(found)
    if by_params:
        parts.append(part(by_params))
    if len(parts) == 1:
        return parts[0]
    first, second = parts
    first.table = pd.concat([first.table, second.table], ignore_index=True)
    labels = {c: str for c in ("model", "task", "metric", "filter")}
    samples = pd.concat([first.samples.astype(labels), second.samples.astype(labels)], ignore_index=True)
    for col in labels:
        samples[col] = samples[col].astype("category")
    first.samples = samples
    first.messages = [*first.messages, *second.messages]
    return first


def seed_mean_rows(table: Any, series_by_family: dict[str, list[str]]) -> Any:
    """Rows of one extra curve per family: the mean over its seeds at each size (families with 2+ seeds).

    A value is averaged only where every seed has it; ``stderr`` is the standard error over seeds and ``n``
    the problems of all seeds together (the mean of K seeds of n problems moves in steps of 1/(K n), which is
    the resolution the verdict rule needs; NaN where a seed's count is unknown). The new series is
    ``<family>-mean<K>``; per-problem samples are not averaged, so its scores have no bootstrap interval.
    """
    import pandas as pd

    parts = [_mean_curve(table, family, series) for family, series in series_by_family.items() if len(series) >= 2]
    return pd.concat(parts, ignore_index=True) if parts else table.iloc[0:0]


def _mean_curve(table: Any, family: str, series: list[str]) -> Any:
    """The rows of ``family``'s seed-mean curve over ``series`` (see :func:`seed_mean_rows`)."""
    import pandas as pd

    rows = table[table["series"].isin(series)].copy()
    rows["target_digits"] = rows["target_digits"].fillna(-1.0)  # groupby drops NaN keys
    stats = rows.groupby(_MEAN_KEYS, dropna=False)["value"].agg(["mean", "std", "count"])
    n_col = rows["n"] if "n" in rows.columns else pd.Series(float("nan"), index=rows.index)
    stats["n_total"] = n_col.groupby([rows[k] for k in _MEAN_KEYS], dropna=False).sum(min_count=len(series))
    stats = stats.reset_index()
    stats = stats[stats["count"] == len(series)]
    name = f"{family}-mean{len(series)}"
    columns = {
        "family": name,
        "series": name,
        "model": [f"{name}@{x:.6g}" for x in stats["x"]],
        "x": stats["x"],
        "params": stats["x"],
        "params_source": "given",
        **{c: stats[c] for c in ("task", "metric", "filter", "split")},
        "target_digits": stats["target_digits"].where(stats["target_digits"] >= 0),
        "value": stats["mean"],
        "stderr": stats["std"] / len(series) ** 0.5,
        "n": stats["n_total"].astype(float),
        "higher_is_better": stats["higher_is_better"],
        "kind": stats["kind"],
    }
    return pd.DataFrame(columns)


def with_seed_means(table: Any, runs: Sequence[DemoMember], notes: dict[str, str]) -> Any:
    """``table`` plus the seed-mean curve of every family of ``runs`` with several seeds (a note each)."""
    import pandas as pd

    by_family: dict[str, list[str]] = {}
    for m in runs:
        series = by_family.setdefault(m.family, [])
        if m.series not in series:
            series.append(m.series)
    for family, series in by_family.items():
        if len(series) > 1:
            notes[f"{family}-mean{len(series)}"] = (
                f"Mean over the {len(series)} seeds of the {family} family at each size."
            )
    return pd.concat([table, seed_mean_rows(table, by_family)], ignore_index=True)


def evaluate_and_report(
    runs: Sequence[DemoMember],
    out: Path,
    *,
    cache_root: Path,
    notes: dict[str, str],
    timings: dict[str, float],
    echo: Callable[[str], None],
    progress: bool,
    step_of: dict[str, int] | None = None,
    **report_options: Any,
) -> tuple[list[Path], Any, Any]:
    """Evaluate ``runs``, collect them, add seed means and write the report to ``out``.

    Returns ``(run folders, collection, report)``; ``timings`` receives ``evaluate_s`` and ``analyze_s``,
    ``notes`` the seed-mean notes; ``report_options`` go to :func:`lm_eval_mirage.analysis.write_report`.
    """
    from lm_eval_mirage.analysis import write_report

    t = time.perf_counter()
    folders, reused = evaluate_members(runs, cache_root, progress=progress)
    timings["evaluate_s"] = round(time.perf_counter() - t, 2)
    echo(f"evaluated {len(runs)} models ({reused} reused from the cache {cache_root / 'runs'})")

    t = time.perf_counter()
    found = load_runs(runs, folders, step_of or {}, progress=progress)
    several_seeds = len({m.seed for m in runs}) > 1
    table = with_seed_means(found.table, runs, notes) if several_seeds else found.table
    report = write_report(
        table, out, samples=found.samples, messages=found.messages, notes=notes, progress=progress, **report_options
    )
    timings["analyze_s"] = round(time.perf_counter() - t, 2)
    return folders, found, report


def headline_table(scores: Any) -> list[dict]:
    """One row per (series, task, metric) of :data:`HEADLINE_METRICS` from the report's emergence table.

    The two tasks of a pair (``T`` and ``T_ll``) are reported under ``T``.
    """
    rows: list[dict] = []
    if scores is None or len(scores) == 0:
        return rows
    all_split = scores[scores["split"] == "all"]
    for (series, task), g in all_split.groupby(["series", "task"], sort=True):
        base, part = (task[:-3], "ll") if task.endswith("_ll") else (task, "gen")
        for metric, filt, where in HEADLINE_METRICS:
            hit = g[(g["metric"] == metric) & (g["filter"] == filt)]
            if where != part or hit.empty:
                continue
            r = hit.iloc[0]
            numbers = {k: float(r[k]) for k in ("first_value", "last_value", "emergence_score", "straight_line")}
            names = {"series": series, "family": str(r["family"]), "task": base, "metric": metric, "filter": filt}
            rows.append(
                {
                    **names,
                    "kind": str(r["kind"]),
                    "n_models": int(r["n_models"]),
                    **numbers,
                    "verdict": str(r["verdict"]),
                }
            )
    order = {m: i for i, (m, _, _) in enumerate(HEADLINE_METRICS)}
    rows.sort(key=lambda r: (r["series"], r["task"], order[r["metric"]]))
    return rows


def markdown_table(rows: Iterable[dict], columns: Sequence[str], header: Sequence[str] | None = None) -> str:
    """A Markdown table of ``rows`` (one dict each) with ``columns``; floats to 4 significant digits.

    Example:
        >>> print(markdown_table([{"a": 1, "b": 0.123456}], ["a", "b"]), end="")
        | a | b |
        |---|---|
        | 1 | 0.1235 |
    """

    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(header or columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _score(v: float) -> str:
    return "inf" if math.isinf(v) else "nan" if math.isnan(v) else f"{v:.1f}"


def headline_markdown(rows: Sequence[dict]) -> str:
    """The headline as a Markdown table."""
    columns = [
        "series",
        "task",
        "metric",
        "kind",
        "first_value",
        "last_value",
        "emergence_score",
        "straight_line",
        "verdict",
    ]
    header = ["series", "task", "metric", "kind", "first", "last", "emergence score", "straight line", "verdict"]
    shown = [
        {**r, "emergence_score": _score(r["emergence_score"]), "straight_line": _score(r["straight_line"])}
        for r in rows
    ]
    return markdown_table(shown, columns, header)


def write_summary(out: Path, stem: str, markdown: str, payload: dict) -> None:
    """``out/{stem}.md`` and ``out/{stem}.json``, each written atomically."""
    atomic_write_text(out / f"{stem}.md", markdown)
    atomic_write_text(out / f"{stem}.json", json.dumps(payload, indent=2, default=str) + "\n")
