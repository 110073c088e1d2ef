"""``lm-eval-mirage control``: a REAL transition (the modadd family) beside a mirage (the recall family).

Steps: prepare the modadd family of :mod:`lm_eval_mirage.zoo.modadd` (and, when asked, the carry families of
:mod:`lm_eval_mirage.zoo.control`; shipped checkpoints, or training into the cache) and the demo's recall
family (:mod:`lm_eval_mirage.zoo.family`); evaluate every member through
the real harness (:func:`lm_eval_mirage.demo.harness.evaluate_or_reuse`, cached) on its task and the task's
``_ll`` twin; score everything with :mod:`lm_eval_mirage.analysis`; write the report, the headline
verdicts, how often each verdict holds over seeds, and the raw curves (exact match, token edit distance and
per-token log-probability per member), so that a reader can re-judge them.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_mirage.demo.cache import cache_dir
from lm_eval_mirage.demo.members import DemoMember, trained_members

__all__ = [
    "CONTROL_FAMILIES",
    "DEFAULT_FAMILIES",
    "CONTROL_TASKS",
    "MODADD_TASKS",
    "CURVE_METRICS",
    "ControlResult",
    "prepare_control",
    "prepare_modadd",
    "prepare_steps",
    "steps_members",
    "control_members",
    "curve_rows",
    "verdict_counts",
    "run_control",
]

#: ``modadd``: addition mod 31 over width (the real transition, measured over seeds); ``recall``: the demo's
#: mirage; ``carry-steps``: checkpoints of one carry run along training steps and ``carry``: the carry task over
#: depth (both built as real transitions; measured: neither is one, docs/control.md).
CONTROL_FAMILIES = ("modadd", "recall", "carry-steps", "carry")
DEFAULT_FAMILIES = ("modadd", "recall")
CONTROL_TASKS = ("mirage_control_carry", "mirage_control_carry_ll")
MODADD_TASKS = ("mirage_control_modadd", "mirage_control_modadd_ll")
#: (metric, filter, column name) of the raw curves.
CURVE_METRICS = (
    ("exact_match", "parsed", "exact_match"),
    ("token_edit_distance", "parsed", "token_edit_distance"),
    ("digit_accuracy", "parsed", "digit_accuracy"),
    ("per_token_logprob", "none", "per_token_logprob"),
    ("per_token_prob", "none", "per_token_prob"),
)
CARRY_NOTE = (
    "Real networks, the control: tiny GPT-2s of depth {depths} (width {width}, {n_head} heads) trained by "
    "lm_eval_mirage.zoo.control with one recipe (seed {seed}) on {digits}-digit additions built around one carry "
    "chain; evaluated by the harness (backend {backend}) on mirage_control_carry (chains of {min_chain} to "
    "{max_chain} positions, {num_problems} problems never seen in training) and its _ll twin. Every chain digit "
    "depends on one carried bit, so a model that cannot carry fails them together: exact match, token edit "
    "distance and per-token log-probability should move together. Built as a candidate for a real transition; "
    "with this recipe it is not one over depth (docs/control.md)."
)
STEPS_NOTE = (
    "Real networks, the control over TRAINING STEPS: checkpoints at steps {steps} of one tiny GPT-2 (depth {depth}, "
    "width {width}, {n_head} heads, seed {seed}) trained by lm_eval_mirage.zoo.control on {digits}-digit additions "
    "built around one carry chain; x is the training step. Evaluated by the harness (backend {backend}) on "
    "mirage_control_carry (chains of {min_chain} to {max_chain} positions, {num_problems} unseen problems) and its "
    "_ll twin. Every chain digit hangs on one carried bit: when the model learns to carry, exact match, token edit "
    "distance and per-token log-probability move together. Built as a candidate for a real transition; with "
    "this recipe it is not one along training steps either (docs/control.md)."
)
MODADD_NOTE = (
    "Real networks, the real transition: one-layer GPT-2s of width {widths} (4 heads, seed {seed}) trained by "
    "lm_eval_mirage.zoo.modadd with one recipe (AdamW, weight decay {weight_decay}, {steps} steps) on half of the "
    "pairs a, b < {modulus} of addition modulo {modulus}; evaluated by the harness (backend {backend}) on "
    "mirage_control_modadd ({num_problems} pairs never seen in training) and its _ll twin. A wrong answer is a "
    "wrong number, not a nearly right one: a model that has not learned the algorithm only knows the answers' "
    "format, so exact match, token edit distance and per-token log-probability jump at the same width."
)
RECALL_NOTE = (
    "Real networks, the mirage: the demo's recall family (2 layers, widths {widths}, seed {seed}) that memorised "
    "a table of random {digits}-digit codes (lm-eval-mirage demo); per-digit recall grows smoothly with width."
)


@dataclass
class ControlResult:
    """What :func:`run_control` produced."""

    out: Path
    members: list[DemoMember]
    headline: list[dict]
    verdicts: list[dict]
    curves: list[dict]
    timings: dict[str, float]
    report: Any = None
    messages: list[str] = field(default_factory=list)


def _shipped_or_trained(
    load: Callable[..., list[Any]], build: Callable[..., list[Any]], *, name: str, sizes: Sequence[int], size_of: Callable[[Any], int],
    cache: Path, seeds: Sequence[int], retrain: bool, threads: int, progress: bool, recipe: Any,
) -> tuple[list[Any], str]:  # fmt: skip
    """A family's members: the shipped checkpoints where every size of a seed ships, the rest trained (or
    reused) in ``cache/families/{name}-{fingerprint}``; sorted by seed then size."""
    from lm_eval_mirage.zoo.family import shipped_checkpoints

    shipped = [] if retrain else load(shipped_checkpoints(), recipe=recipe, seeds=seeds)
    have = {(size_of(m), m.seed) for m in shipped}
    missing = [s for s in seeds if any((z, s) not in have for z in sizes)]
    trained = []
    if missing:
        root = cache / "families" / f"{name}-{recipe.fingerprint}"
        trained = build(root, recipe=recipe, seeds=missing, threads=threads, progress=progress, retrain=retrain)
    members = sorted([m for m in shipped if m.seed not in missing] + trained, key=lambda m: (m.seed, size_of(m)))
    source = "shipped checkpoints" if not missing else f"seeds {missing} trained {'now (--retrain)' if retrain else 'or reused'} in {cache}"
    return members, source


def prepare_control(*, cache: Path, seeds: Sequence[int], retrain: bool, threads: int, progress: bool, recipe: Any = None) -> tuple[list[Any], str]:
    """The carry family's members: shipped checkpoints where they serve, else trained into ``cache``."""
    from lm_eval_mirage.zoo import control

    recipe = recipe or control.CONTROL_RECIPE
    return _shipped_or_trained(
        control.load_control_family, control.build_control_family, name="carry", sizes=recipe.depths, size_of=lambda m: m.depth,
        cache=cache, seeds=seeds, retrain=retrain, threads=threads, progress=progress, recipe=recipe,
    )  # fmt: skip


def prepare_modadd(*, cache: Path, seeds: Sequence[int], retrain: bool, threads: int, progress: bool, recipe: Any = None) -> tuple[list[Any], str]:
    """The modadd family's members: shipped checkpoints where they serve, else trained into ``cache``."""
    from lm_eval_mirage.zoo import modadd

    recipe = recipe or modadd.MODADD_RECIPE
    return _shipped_or_trained(
        modadd.load_modadd_family, modadd.build_modadd_family, name="modadd", sizes=recipe.widths, size_of=lambda m: m.width,
        cache=cache, seeds=seeds, retrain=retrain, threads=threads, progress=progress, recipe=recipe,
    )  # fmt: skip


def prepare_steps(
    *, cache: Path, seeds: Sequence[int], retrain: bool, threads: int, recipe: Any = None, grid: Sequence[int] | None = None
) -> tuple[list[Any], str]:
    """The carry-steps checkpoints: shipped where every step of the grid ships, else trained into ``cache``
    (reused there when every step of ``grid``, default :data:`~lm_eval_mirage.zoo.control.STEP_GRID`, is)."""
    from lm_eval_mirage.zoo import control

    recipe = recipe or control.CONTROL_RECIPE
    grid = set(grid or control.STEP_GRID)

    def complete(found: Sequence[Any], seed: int) -> bool:
        return grid <= {m.metadata["step"] for m in found if m.seed == seed and m.metadata.get("threads") == threads}

    shipped = [] if retrain else control.load_step_checkpoints(control.shipped_control_checkpoints(), recipe=recipe, seeds=seeds)
    missing = [s for s in seeds if not complete(shipped, s)]
    root = cache / "families" / f"carrysteps-{recipe.fingerprint}"
    cached = control.load_step_checkpoints(root, recipe=recipe, seeds=missing)
    for s in missing:
        if retrain or not complete(cached, s):
            control.train_step_checkpoints(root, recipe=recipe, seed=s, threads=threads, grid=sorted(grid))
    trained = control.load_step_checkpoints(root, recipe=recipe, seeds=missing)
    members = [m for m in shipped if m.seed not in missing] + trained
    members = sorted((m for m in members if m.metadata["step"] in grid), key=lambda m: (m.seed, m.metadata["step"]))
    source = "shipped checkpoints" if not missing else f"seeds {missing} trained {'now (--retrain)' if retrain else 'or reused'} in {cache}"
    return members, source


def steps_members(members: Sequence[Any], *, task_metadata: dict[str, Any], backend: str = "hf-mirage", limit: int | None = None) -> list[DemoMember]:
    """One harness run per checkpoint along training (family ``carry-steps``)."""
    return [DemoMember(**{**r.__dict__, "family": "carry-steps"}) for r in control_members(members, task_metadata=task_metadata, backend=backend, limit=limit)]


def control_members(
    members: Sequence[Any], *, task_metadata: dict[str, Any], backend: str = "hf-mirage", limit: int | None = None,
    family: str = "carry", tasks: Sequence[str] = CONTROL_TASKS,
) -> list[DemoMember]:  # fmt: skip
    """One harness run per checkpoint of a control family (carry: :class:`lm_eval_mirage.zoo.control.ControlMember`;
    ``family="modadd", tasks=MODADD_TASKS``: :class:`lm_eval_mirage.zoo.modadd.ModaddMember`)."""
    return [
        DemoMember(
            family=family, seed=m.seed, name=m.name, backend=backend, model_args={"pretrained": str(m.folder), "dtype": "float32"},
            params=float(m.params), tasks=tuple(tasks), limit=limit, metadata=dict(task_metadata),
            identity={"state_sha256": m.metadata.get("state_sha256", "")},
        )  # fmt: skip
        for m in members
    ]


def curve_rows(table: Any, runs: Sequence[DemoMember], size_of: dict[str, str]) -> list[dict]:
    """The raw curves: one row per member with :data:`CURVE_METRICS` (split ``all``), in family/seed/size order.

    ``size_of`` names each member's size (``depth 3``, ``width 8``). A task pair (``T``, ``T_ll``) is one row.
    """
    found = table[table["split"] == "all"]
    rows = []
    for m in runs:
        row: dict[str, Any] = {"family": m.family, "seed": m.seed, "model": m.name, "size": size_of.get(m.name, ""), "params": int(m.params)}
        labels = {m.name, str(m.model_args.get("pretrained", m.name))}  # the harness names HF runs by their folder
        mine = found[found["model"].isin(labels)]
        for metric, filt, column in CURVE_METRICS:
            hit = mine[(mine["metric"] == metric) & (mine["filter"] == filt)]
            row[column] = float(hit["value"].iloc[0]) if len(hit) else math.nan
        rows.append(row)
    return rows


def verdict_counts(headline: Sequence[dict]) -> list[dict]:
    """How often each verdict holds over the seeds of a family, per metric (seed-mean curves left out).

    Example:
        >>> rows = [{"series": f"carry-seed{s}", "family": f"carry-seed{s}", "metric": "exact_match", "verdict": v}
        ...         for s, v in enumerate(["emergent", "emergent", "smooth"])]
        >>> verdict_counts(rows)
        [{'family': 'carry', 'metric': 'exact_match', 'seeds': 3, 'verdicts': 'emergent 2/3, smooth 1/3'}]
    """
    groups: dict[tuple[str, str], list[str]] = {}
    order: list[tuple[str, str]] = []
    for r in headline:
        family, sep, seed = str(r["series"]).rpartition("-seed")
        if not sep or not seed.isdigit():
            continue
        key = (family, str(r["metric"]))
        if key not in groups:
            order.append(key)
        groups.setdefault(key, []).append(str(r["verdict"]))
    out = []
    for key in order:
        found = groups[key]
        counts = sorted({v: found.count(v) for v in found}.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append({"family": key[0], "metric": key[1], "seeds": len(found), "verdicts": ", ".join(f"{v} {n}/{len(found)}" for v, n in counts)})
    return out


def _markdown(rows: Sequence[dict], columns: Sequence[str]) -> str:
    def cell(v: Any) -> str:
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def run_control(
    out: str | os.PathLike = "mirage-control",
    *,
    retrain: bool = False,
    seeds: int = 1,
    cache: str | os.PathLike | None = None,
    families: Sequence[str] = DEFAULT_FAMILIES,
    limit: int | None = None,
    threads: int = 1,
    plots: bool = True,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> ControlResult:
    """Run the control comparison; see the module docstring and ``docs/control.md``.

    Args:
        out: report folder.
        retrain: train the modadd and carry families now (into the cache) instead of using the shipped checkpoints.
        seeds: seeds 0..seeds-1 of each family; unshipped seeds are trained into the cache (minutes each).
        cache: cache folder (default :func:`~lm_eval_mirage.demo.cache.cache_dir`, shared with the demo).
        families: from :data:`CONTROL_FAMILIES` (default :data:`DEFAULT_FAMILIES`).
        limit: problems per task (default: all).
        threads: torch threads for training (recorded; same threads + seed = same weights).
        plots: draw figures (needs matplotlib).
        progress: progress bars.
        echo: where status lines go.
    """
    import lm_eval_mirage
    from lm_eval_mirage.demo.run import (
        _backend, check_run_arguments, evaluate_members, headline_markdown, headline_table, prepare_trained, seed_mean_rows,
    )  # fmt: skip

    check_run_arguments(families, CONTROL_FAMILIES, seeds, limit)
    out, cache_root = Path(out), cache_dir(cache)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    notes: dict[str, str] = {}
    runs: list[DemoMember] = []
    size_of: dict[str, str] = {}
    seed_list = list(range(seeds))
    backend = _backend()
    start = time.perf_counter()

    step_of: dict[str, int] = {}
    if "modadd" in families:
        from lm_eval_mirage.tasks.modadd_data import modadd_split
        from lm_eval_mirage.zoo import modadd

        recipe = modadd.MODADD_RECIPE
        t = time.perf_counter()
        members, source = prepare_modadd(cache=cache_root, seeds=seed_list, retrain=retrain, threads=threads, progress=progress)
        timings["prepare_modadd_s"] = round(time.perf_counter() - t, 2)
        echo(f"modadd family: {len(members)} checkpoints from {source}")
        _, test_pairs = modadd_split(recipe.modulus, recipe.train_fraction, recipe.data_seed)
        for s in seed_list:
            mine = [m for m in members if m.seed == s]
            runs += control_members(mine, task_metadata=recipe.task_metadata(), backend=backend, limit=limit, family="modadd", tasks=MODADD_TASKS)
            size_of.update({m.name: f"width {m.width}" for m in mine})
            notes[f"modadd-seed{s}"] = MODADD_NOTE.format(
                widths=", ".join(str(m.width) for m in mine), seed=s, weight_decay=recipe.weight_decay, steps=recipe.steps,
                modulus=recipe.modulus, backend=backend, num_problems=min(len(test_pairs), limit or len(test_pairs)),
            )  # fmt: skip
    if "carry-steps" in families:
        from lm_eval_mirage.zoo import control

        recipe = control.CONTROL_RECIPE
        t = time.perf_counter()
        members, source = prepare_steps(cache=cache_root, seeds=seed_list, retrain=retrain, threads=threads)
        timings["prepare_carry_steps_s"] = round(time.perf_counter() - t, 2)
        echo(f"carry-steps family: {len(members)} checkpoints from {source}")
        for s in seed_list:
            mine = [m for m in members if m.seed == s]
            runs += steps_members(mine, task_metadata=recipe.task_metadata(), backend=backend, limit=limit)
            size_of.update({m.name: f"step {m.metadata['step']}" for m in mine})
            step_of.update({m.name: int(m.metadata["step"]) for m in mine})
            notes[f"carry-steps-seed{s}"] = STEPS_NOTE.format(
                steps=", ".join(str(m.metadata["step"]) for m in mine), depth=control.STEPS_DEPTH, width=recipe.width,
                n_head=recipe.n_head, seed=s, digits=recipe.digits, backend=backend, min_chain=recipe.test_min_chain,
                max_chain=recipe.test_max_chain, num_problems=recipe.num_problems,
            )  # fmt: skip
    if "carry" in families:
        from lm_eval_mirage.zoo import control

        recipe = control.CONTROL_RECIPE
        t = time.perf_counter()
        members, source = prepare_control(cache=cache_root, seeds=seed_list, retrain=retrain, threads=threads, progress=progress)
        timings["prepare_carry_s"] = round(time.perf_counter() - t, 2)
        echo(f"carry family: {len(members)} checkpoints from {source}")
        for s in seed_list:
            mine = [m for m in members if m.seed == s]
            runs += control_members(mine, task_metadata=recipe.task_metadata(), backend=backend, limit=limit)
            size_of.update({m.name: f"depth {m.depth}" for m in mine})
            notes[f"carry-seed{s}"] = CARRY_NOTE.format(
                depths=", ".join(str(m.depth) for m in mine), width=recipe.width, n_head=recipe.n_head, seed=s, digits=recipe.digits,
                backend=backend, min_chain=recipe.test_min_chain, max_chain=recipe.test_max_chain, num_problems=recipe.num_problems,
            )  # fmt: skip
    if "recall" in families:
        from lm_eval_mirage.zoo import family

        t = time.perf_counter()
        members, source = prepare_trained(cache=cache_root, seeds=seed_list, retrain=False, threads=threads, progress=progress)
        timings["prepare_recall_s"] = round(time.perf_counter() - t, 2)
        echo(f"recall family: {len(members)} checkpoints from {source}")
        for s in seed_list:
            mine = [m for m in members if m.seed == s]
            recall = trained_members(mine, task_metadata=family.RECIPE.task_metadata(), backend=backend, limit=limit)
            runs += [DemoMember(**{**r.__dict__, "family": "recall"}) for r in recall]
            size_of.update({m.name: f"width {m.width}" for m in mine})
            notes[f"recall-seed{s}"] = RECALL_NOTE.format(widths=", ".join(str(m.width) for m in mine), seed=s, digits=family.RECIPE.digits)

    t = time.perf_counter()
    folders, reused = evaluate_members(runs, cache_root, progress=progress)
    timings["evaluate_s"] = round(time.perf_counter() - t, 2)
    echo(f"evaluated {len(runs)} models ({reused} reused from the cache {cache_root / 'runs'})")

    t = time.perf_counter()
    from lm_eval_mirage.analysis import load, write_report

    found = _load_runs(load, runs, folders, step_of, progress=progress)
    table = found.table
    if seeds > 1:
        import pandas as pd

        by_family: dict[str, list[str]] = {}
        for m in runs:
            by_family.setdefault(m.family, [])
            if m.series not in by_family[m.family]:
                by_family[m.family].append(m.series)
        table = pd.concat([table, seed_mean_rows(table, by_family)], ignore_index=True)
        for fam, series in by_family.items():
            notes[f"{fam}-mean{len(series)}"] = f"Mean over the {len(series)} seeds of the {fam} family at each size."
    report = write_report(
        table, out, samples=found.samples, messages=found.messages, notes=notes,
        title="lm-eval-mirage control: a real transition beside a mirage", plots=plots, progress=progress,
        x_label=_x_label(runs),
    )  # fmt: skip
    timings["analyze_s"] = round(time.perf_counter() - t, 2)
    timings["total_s"] = round(time.perf_counter() - start, 2)

    headline = headline_table(report.scores)
    verdicts = verdict_counts(headline)
    curves = curve_rows(found.table, runs, size_of)
    curve_columns = ["family", "seed", "size", "params", *(c for _, _, c in CURVE_METRICS)]
    summary = (
        "# Control: a real transition beside a mirage\n\n"
        "## Verdicts over seeds\n\n" + _markdown(verdicts, ["family", "metric", "seeds", "verdicts"])
        + "\n## Emergence scores\n\n" + headline_markdown(headline)
        + "\n## Raw curves (split: all problems)\n\n" + _markdown(curves, curve_columns)
        + "\n" + "\n".join(f"- {k}: {v}" for k, v in notes.items()) + "\n"
    )  # fmt: skip
    (out / "control_summary.md").write_text(summary)
    payload = {
        "lm_eval_mirage": lm_eval_mirage.__version__, "headline": headline, "verdicts": verdicts, "curves": curves,
        "timings": timings, "runs": [str(f) for f in folders], "notes": notes, "messages": list(found.messages),
    }  # fmt: skip
    tmp = out / ".control_summary.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    os.replace(tmp, out / "control_summary.json")
    return ControlResult(out=out, members=runs, headline=headline, verdicts=verdicts, curves=curves, timings=timings, report=report, messages=list(found.messages))


def _x_label(runs: Sequence[DemoMember]) -> str:
    """The report's name for the x axis: parameters, training step, or both (one per family)."""
    kinds = {m.family == "carry-steps" for m in runs}
    if kinds == {True}:
        return "training step"
    return "parameters or training step" if True in kinds else "parameters"  # short: figures share the label


def _load_runs(load: Callable[..., Any], runs: Sequence[DemoMember], folders: Sequence[Path], step_of: dict[str, int], *, progress: bool) -> Any:
    """Collect the runs: the carry-steps checkpoints on the training-step axis (one curve per seed), the other
    families on the parameter axis; one :class:`~lm_eval_mirage.analysis.collect.Collection` of both."""
    import pandas as pd

    def part(members: list[tuple[DemoMember, Path]], **kwargs: Any) -> Any:
        ms = [m for m, _ in members]
        return load([f for _, f in members], params={m.name: m.params for m in ms}, families={m.name: m.series for m in ms}, progress=progress, **kwargs)

    by_steps = [(m, f) for m, f in zip(runs, folders) if m.name in step_of]
    by_params = [(m, f) for m, f in zip(runs, folders) if m.name not in step_of]
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
    samples = pd.concat([first.samples.astype({c: str for c in ("model", "task", "metric", "filter")}),
                         second.samples.astype({c: str for c in ("model", "task", "metric", "filter")})], ignore_index=True)  # fmt: skip
    for col in ("model", "task", "metric", "filter"):
        samples[col] = samples[col].astype("category")
    first.samples = samples
    first.messages = [*first.messages, *second.messages]
    return first
