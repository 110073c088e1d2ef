"""``lm-eval-mirage demo``: two model families, the real harness, the emergence report, in one call.

Steps (each with a progress bar): prepare the families (shipped checkpoints, or training into the cache:
:mod:`.prepare`), evaluate every member on its tasks through the harness (results cached), collect and score
the results with :mod:`lm_eval_mirage.analysis`, write the report and a headline table of emergence scores
(:mod:`.pipeline`, shared with ``lm-eval-mirage control``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_mirage.demo.cache import cache_dir
from lm_eval_mirage.demo.members import FAMILIES, DemoMember, simulated_members, spread, trained_members
from lm_eval_mirage.demo.pipeline import (
    check_run_arguments,
    default_backend,
    evaluate_and_report,
    headline_markdown,
    headline_table,
    write_summary,
)

__all__ = ["DemoResult", "run_demo", "SIMULATION_NOTE", "TRAINED_NOTE"]
SIMULATION_NOTE = (
    "SIMULATION: these 'models' are the paper's mathematical model run through the harness (backend "
    "mirage-sim): every answer token is right with probability p(N) = exp(-(N/c)**alpha), c = {c:g}, "
    "alpha = {alpha:g}, N = the GPT-3 sizes. No network is involved."
)
TRAINED_NOTE = (
    "Real networks: tiny GPT-2s (2 layers, widths {widths}) trained by lm_eval_mirage.zoo.recall with one recipe "
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


def _simulated_runs(
    seeds: Sequence[int], members: int | None, limit: int | None, notes: dict[str, str]
) -> list[DemoMember]:
    """The simulated family's runs (``members`` of them per seed, evenly spread), a note per seed."""
    from lm_eval_mirage.models.simulated import DEFAULT_ALPHA, DEFAULT_C

    runs: list[DemoMember] = []
    for s in seeds:
        sim = simulated_members([s], limit=limit)
        runs += spread(sim, members)
        notes[sim[0].series] = SIMULATION_NOTE.format(c=DEFAULT_C, alpha=DEFAULT_ALPHA)
    return runs


def _trained_runs(
    seeds: Sequence[int],
    *,
    members: int | None,
    limit: int | None,
    notes: dict[str, str],
    timings: dict[str, float],
    echo: Callable[[str], None],
    **prepare: Any,
) -> list[DemoMember]:
    """The trained (recall) family's runs: its checkpoints prepared and verified, a note per seed."""
    from lm_eval_mirage.demo.prepare import prepare_recall
    from lm_eval_mirage.zoo.recall import RECIPE

    t = time.perf_counter()
    checkpoints, source = prepare_recall(seeds=seeds, **prepare)
    timings["prepare_trained_s"] = round(time.perf_counter() - t, 2)
    echo(f"trained family: {len(checkpoints)} checkpoints from {source}")
    backend = default_backend()
    runs: list[DemoMember] = []
    for s in seeds:
        mine = [m for m in checkpoints if m.seed == s]
        family = trained_members(mine, task_metadata=RECIPE.task_metadata(), backend=backend, limit=limit)
        runs += spread(family, members)
        widths = ", ".join(str(m.width) for m in mine)
        notes[family[0].series] = TRAINED_NOTE.format(
            widths=widths, seeds=s, num_keys=RECIPE.num_keys, digits=RECIPE.digits, backend=backend
        )
    return runs


def _summary_markdown(rows: Sequence[dict], notes: dict[str, str]) -> str:
    return (
        "# Emergence scores, demo headline\n\nHigher = more abrupt; 'straight line' is the score of a curve linear "
        "in log(size) on the same sizes (the yardstick). Full tables, plots and notes: report.md / report.html.\n\n"
        + headline_markdown(rows)
        + "\n"
        + "\n".join(f"- {k}: {v}" for k, v in notes.items())
        + "\n"
    )


def _summary_payload(
    runs: Sequence[DemoMember],
    rows: list[dict],
    timings: dict[str, float],
    folders: Sequence[Path],
    notes: dict[str, str],
    messages: Sequence[str],
) -> dict[str, Any]:
    """The content of ``demo_summary.json``."""
    import lm_eval_mirage

    keys = ("name", "series", "backend", "params", "tasks", "limit")
    members = [{k: list(getattr(m, k)) if k == "tasks" else getattr(m, k) for k in keys} for m in runs]
    return {
        "lm_eval_mirage": lm_eval_mirage.__version__,
        "headline": rows,
        "timings": timings,
        "members": members,
        "runs": [str(f) for f in folders],
        "notes": notes,
        "messages": list(messages),
    }


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

    Raises:
        ValueError: a bad argument, or a damaged checkpoint
            (:class:`~lm_eval_mirage.zoo.checkpoints.CheckpointError`, before anything is evaluated).
    """
    check_run_arguments(families, FAMILIES, seeds, limit)
    out, cache_root = Path(out), cache_dir(cache)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    notes: dict[str, str] = {}
    runs: list[DemoMember] = []
    start = time.perf_counter()
    seed_list = list(range(seeds))
    if "simulated" in families:
        runs += _simulated_runs(seed_list, members, limit, notes)
    if "trained" in families:
        prepare = {"cache": cache_root, "retrain": retrain, "threads": threads, "progress": progress}
        runs += _trained_runs(
            seed_list, members=members, limit=limit, notes=notes, timings=timings, echo=echo, **prepare
        )

    title = "lm-eval-mirage demo: is the emergence a mirage?"
    report_options = {"title": title, "plots": plots, "paper_figure": plots}
    folders, found, report = evaluate_and_report(
        runs, out, cache_root=cache_root, notes=notes, timings=timings, echo=echo, progress=progress, **report_options
    )
    timings["total_s"] = round(time.perf_counter() - start, 2)

    rows = headline_table(report.scores)
    payload = _summary_payload(runs, rows, timings, folders, notes, found.messages)
    write_summary(out, "demo_summary", _summary_markdown(rows, notes), payload)
    return DemoResult(
        out=out, members=runs, headline=rows, timings=timings, report=report, messages=list(found.messages)
    )
