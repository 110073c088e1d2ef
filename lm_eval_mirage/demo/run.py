"""``lm-eval-mirage demo``: two model families, the real harness, the emergence report, in one call.

Steps (each with a progress bar): prepare the families (shipped checkpoints, or training into the cache),
evaluate every member on its tasks through the harness (results cached), collect and score the results with
:mod:`lm_eval_mirage.analysis`, write the report and a headline table of emergence scores.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_mirage import harness_private
from lm_eval_mirage.demo.cache import cache_dir
from lm_eval_mirage.demo.members import FAMILIES, DemoMember, simulated_members, spread, trained_members

__all__ = [
    "HEADLINE_METRICS",
    "DemoResult",
    "prepare_trained",
    "run_demo",
    "headline_table",
    "headline_markdown",
    "seed_mean_rows",
    "SIMULATION_NOTE",
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
SIMULATION_NOTE = (
    "SIMULATION: these 'models' are the paper's mathematical model run through the harness (backend "
    "mirage-sim): every answer token is right with probability p(N) = exp(-(N/c)**alpha), c = {c:g}, "
    "alpha = {alpha:g}, N = the GPT-3 sizes. No network is involved."
)
TRAINED_NOTE = (
    "Real networks: tiny GPT-2s (2 layers, widths {widths}) trained by lm_eval_mirage.zoo.family with one recipe "
    "(seed {seeds}) to memorise a table of {num_keys} random {digits}-digit codes; evaluated by the harness "
    "(backend {backend}) on the task mirage_demo_recall and its _ll twin. Per-digit recall grows with width, so "
    "exact match of a whole code jumps while the continuous metrics do not. For a family whose jump is real "
    "(every metric jumps), run lm-eval-mirage control (docs/control.md)."
)


@dataclass
class DemoResult:
    """What :func:`run_demo` produced."""

    out: Path
    members: list[DemoMember]
    headline: list[dict]
    timings: dict[str, float]
    report: Any = None
    messages: list[str] = field(default_factory=list)


def prepare_trained(
    *, cache: Path, seeds: Sequence[int], retrain: bool, threads: int, progress: bool, recipe: Any = None
) -> tuple[list[Any], str]:
    """The trained family's members: shipped checkpoints where they serve, else trained into ``cache``.

    Returns ``(members, source)``; ``source`` says where they came from (for the report).
    """
    from lm_eval_mirage.zoo import family

    recipe = recipe or family.RECIPE
    shipped = [] if retrain else family.load_family(family.shipped_checkpoints(), recipe=recipe, seeds=seeds)
    shipped_keys = {(m.width, m.seed) for m in shipped}
    missing_seeds = [s for s in seeds if any((w, s) not in shipped_keys for w in recipe.widths)]
    trained = []
    if missing_seeds:
        root = cache / "families" / recipe.fingerprint
        trained = family.build_family(root, recipe=recipe, seeds=missing_seeds, threads=threads, progress=progress, retrain=retrain)
    members = [m for m in shipped if m.seed not in missing_seeds] + trained
    members.sort(key=lambda m: (m.seed, m.width))
    if not missing_seeds:
        source = f"shipped checkpoints ({family.shipped_checkpoints()})"
    elif not shipped or retrain:
        source = f"trained now ({'--retrain' if retrain else 'no shipped checkpoints'}) into {cache}"
    else:
        source = f"shipped checkpoints for seeds {sorted({m.seed for m in shipped} - set(missing_seeds))}, trained seeds {missing_seeds} into {cache}"
    return members, source


def _backend() -> str:
    """``hf-mirage`` (per-token log-probs from the one forward pass) when the plugin has it, else stock ``hf``."""
    from lm_eval_mirage import models

    return "hf-mirage" if "hf-mirage" in getattr(models, "BACKENDS", {}) else "hf"


def headline_table(scores: Any) -> list[dict]:
    """One row per (series, task, metric) of :data:`HEADLINE_METRICS` from the report's emergence table.

    The two tasks of a pair (``T`` and ``T_ll``) are reported under ``T``.
    """
    rows = []
    if scores is None or len(scores) == 0:
        return rows
    all_split = scores[scores["split"] == "all"]
    for (series, task), g in all_split.groupby(["series", "task"], sort=True):
        base, part = (task[:-3], "ll") if task.endswith("_ll") else (task, "gen")
        for metric, filt, where in HEADLINE_METRICS:
            if where != part:
                continue
            hit = g[(g["metric"] == metric) & (g["filter"] == filt)]
            if hit.empty:
                continue
            r = hit.iloc[0]
            rows.append(
                {
                    "series": series, "family": str(r["family"]), "task": base, "metric": metric, "filter": filt,
                    "kind": str(r["kind"]), "n_models": int(r["n_models"]), "first_value": float(r["first_value"]),
                    "last_value": float(r["last_value"]), "emergence_score": float(r["emergence_score"]),
                    "straight_line": float(r["straight_line"]), "verdict": str(r["verdict"]),
                }
            )  # fmt: skip
    order = {m: i for i, (m, _, _) in enumerate(HEADLINE_METRICS)}
    rows.sort(key=lambda r: (r["series"], r["task"], order[r["metric"]]))
    return rows


def seed_mean_rows(table: Any, series_by_family: dict[str, list[str]]) -> Any:
    """Rows of one extra curve per family: the mean over its seeds at each size (families with 2+ seeds).

    A value is averaged only where every seed has it; ``stderr`` is the standard error over seeds and ``n``
    the problems of all seeds together (the mean of K seeds of n problems moves in steps of 1/(K n), which is
    the resolution the verdict rule needs; NaN where a seed's count is unknown). The new series is ``<family>-mean<K>``; per-problem samples are not averaged, so its
    scores have no bootstrap interval.
    """
    import pandas as pd

    keys = ["x", "task", "metric", "filter", "split", "target_digits", "higher_is_better", "kind"]
    parts = []
    for fam, series in series_by_family.items():
        if len(series) < 2:
            continue
        rows = table[table["series"].isin(series)].copy()
        rows["target_digits"] = rows["target_digits"].fillna(-1.0)  # groupby drops NaN keys
        grouped = rows.groupby(keys, dropna=False)
        stats = grouped["value"].agg(["mean", "std", "count"])
        n_col = rows["n"] if "n" in rows.columns else pd.Series(float("nan"), index=rows.index)
        stats["n_total"] = n_col.groupby([rows[k] for k in keys], dropna=False).sum(min_count=len(series))
        stats = stats.reset_index()
        stats = stats[stats["count"] == len(series)]
        name = f"{fam}-mean{len(series)}"
        parts.append(
            pd.DataFrame(
                {
                    "family": name, "series": name, "model": [f"{name}@{x:.6g}" for x in stats["x"]], "x": stats["x"],
                    "params": stats["x"], "params_source": "given", "task": stats["task"], "metric": stats["metric"],
                    "filter": stats["filter"], "split": stats["split"],
                    "target_digits": stats["target_digits"].where(stats["target_digits"] >= 0),
                    "value": stats["mean"], "stderr": stats["std"] / len(series) ** 0.5, "n": stats["n_total"].astype(float),
                    "higher_is_better": stats["higher_is_better"], "kind": stats["kind"],
                }
            )  # fmt: skip
        )
    return pd.concat(parts, ignore_index=True) if parts else table.iloc[0:0]


def _fmt_score(v: float) -> str:
    return "inf" if math.isinf(v) else "nan" if math.isnan(v) else f"{v:.1f}"


def headline_markdown(rows: Sequence[dict]) -> str:
    """The headline as a Markdown table."""
    lines = [
        "| series | task | metric | kind | first | last | emergence score | straight line | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['series']} | {r['task']} | {r['metric']} | {r['kind']} | {r['first_value']:.4g} | {r['last_value']:.4g} "
            f"| {_fmt_score(r['emergence_score'])} | {_fmt_score(r['straight_line'])} | {r['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def _write_json(path: Path, payload: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def run_demo(
    out: str | os.PathLike = "mirage-demo",
    *,
    retrain: bool = False,
    seeds: int = 1,
    cache: str | os.PathLike | None = None,
    families: Sequence[str] = FAMILIES,
    members: int | None = None,
    limit: int | None = None,
    threads: int = 1,
    plots: bool = True,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> DemoResult:
    """Run the whole demo; see the module docstring and ``docs/demo.md``.

    Args:
        out: report folder.
        retrain: train the real family now (into the cache) instead of using the shipped checkpoints.
        seeds: seeds per family (0..seeds-1); seeds without shipped checkpoints are trained (minutes each).
        cache: cache folder (default :func:`~lm_eval_mirage.demo.cache.cache_dir`).
        families: which families (``simulated``, ``trained``).
        members: evaluate only this many members per family and seed, evenly spread (a quick look).
        limit: problems per task (default: 500 for the simulated tasks, the whole table for recall).
        threads: torch threads for training (recorded in the checkpoints; same threads + seed = same weights).
        plots: draw figures (needs matplotlib).
        progress: progress bars.
        echo: where status lines go.
    """
    import lm_eval_mirage

    check_run_arguments(families, FAMILIES, seeds, limit)
    out, cache_root = Path(out), cache_dir(cache)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    notes: dict[str, str] = {}
    runs: list[DemoMember] = []
    start = time.perf_counter()
    seed_list = list(range(seeds))

    if "simulated" in families:
        from lm_eval_mirage.models.simulated import DEFAULT_ALPHA, DEFAULT_C

        for s in seed_list:
            sim = simulated_members([s], limit=limit)
            runs += spread(sim, members)
            notes[sim[0].series] = SIMULATION_NOTE.format(c=DEFAULT_C, alpha=DEFAULT_ALPHA)
    if "trained" in families:
        from lm_eval_mirage.zoo import family

        t = time.perf_counter()
        checkpoints, source = prepare_trained(cache=cache_root, seeds=seed_list, retrain=retrain, threads=threads, progress=progress)
        timings["prepare_trained_s"] = round(time.perf_counter() - t, 2)
        echo(f"trained family: {len(checkpoints)} checkpoints from {source}")
        backend = _backend()
        for s in seed_list:
            fam = trained_members([m for m in checkpoints if m.seed == s], task_metadata=family.RECIPE.task_metadata(), backend=backend, limit=limit)
            runs += spread(fam, members)
            notes[fam[0].series] = TRAINED_NOTE.format(
                widths=", ".join(str(m.width) for m in checkpoints if m.seed == s), seeds=s, num_keys=family.RECIPE.num_keys,
                digits=family.RECIPE.digits, backend=backend,
            )  # fmt: skip

    t = time.perf_counter()
    folders, reused = evaluate_members(runs, cache_root, progress=progress)
    timings["evaluate_s"] = round(time.perf_counter() - t, 2)
    echo(f"evaluated {len(runs)} models ({reused} reused from the cache {cache_root / 'runs'})")

    t = time.perf_counter()
    from lm_eval_mirage.analysis import load, write_report

    found = load(folders, params={m.name: m.params for m in runs}, families={m.name: m.series for m in runs}, progress=progress)
    table = found.table
    if seeds > 1:
        import pandas as pd

        by_family: dict[str, list[str]] = {}
        for m in runs:
            by_family.setdefault(m.family, [])
            if m.series not in by_family[m.family]:
                by_family[m.family].append(m.series)
        means = seed_mean_rows(table, by_family)
        table = pd.concat([table, means], ignore_index=True)
        for fam, series in by_family.items():
            if len(series) > 1:
                notes[f"{fam}-mean{len(series)}"] = f"Mean over the {len(series)} seeds of the {fam} family at each size."
    report = write_report(
        table, out, samples=found.samples, messages=found.messages, notes=notes,
        title="lm-eval-mirage demo: is the emergence a mirage?", plots=plots, paper_figure=plots, progress=progress,
    )  # fmt: skip
    timings["analyze_s"] = round(time.perf_counter() - t, 2)
    timings["total_s"] = round(time.perf_counter() - start, 2)

    rows = headline_table(report.scores)
    (out / "demo_summary.md").write_text(
        "# Emergence scores, demo headline\n\nHigher = more abrupt; 'straight line' is the score of a curve linear "
        "in log(size) on the same sizes (the yardstick). Full tables, plots and notes: report.md / report.html.\n\n"
        + headline_markdown(rows)
        + "\n"
        + "\n".join(f"- {k}: {v}" for k, v in notes.items())
        + "\n"
    )
    _write_json(
        out / "demo_summary.json",
        {
            "lm_eval_mirage": lm_eval_mirage.__version__, "headline": rows, "timings": timings,
            "members": [{"name": m.name, "series": m.series, "backend": m.backend, "params": m.params, "tasks": list(m.tasks),
                         "limit": m.limit} for m in runs],
            "runs": [str(f) for f in folders], "notes": notes, "messages": list(found.messages),
        },
    )  # fmt: skip
    return DemoResult(out=out, members=runs, headline=rows, timings=timings, report=report, messages=list(found.messages))


def check_run_arguments(families: Sequence[str], allowed: Sequence[str], seeds: Any, limit: Any) -> None:
    """The checks ``run_demo`` and ``run_control`` share: known families, ``seeds`` and ``limit`` >= 1."""
    unknown = sorted(set(families) - set(allowed))
    if unknown or not families:
        raise ValueError(f"families={list(families)!r}: accepted values are {', '.join(allowed)}")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"seeds={seeds!r} must be an integer >= 1")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit={limit!r} must be an integer >= 1")


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
    shortcut = all([harness_private.check("lm_eval.utils:apply_template"), harness_private.check("lm_eval.loggers.utils:add_env_info")])
    with faster_harness() if shortcut else contextlib.nullcontext():
        for m in bar:
            bar.set_postfix_str(m.name)
            spec = run_spec(m.backend, m.model_args, m.tasks, limit=m.limit, metadata=m.metadata, identity=m.identity)
            folder = cache_root / "runs" / m.family / m.name / spec_id(spec)
            path, was_cached = evaluate_or_reuse(m.backend, m.model_args, m.tasks, folder, limit=m.limit, metadata=m.metadata, identity=m.identity)
            folders.append(path)
            reused += was_cached
    return folders, reused
