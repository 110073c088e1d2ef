"""Read a folder of lm-evaluation-harness outputs into the tidy table (and per-problem samples).

Every results file among the given paths is read BY CONTENT, whatever its name and in either layout (today's
``results_<ts>.json`` with ``samples_<task>_<ts>.jsonl`` beside it, or the 2023 layout of EleutherAI's
published files such as ``160m_step143000.json``); the layout itself is :mod:`lm_eval_mirage.harness_outputs`.
:func:`load` places each model on the scale axis (parameters, training step or FLOPs), keeps the latest run
when a model was run twice on a task at the same number of few-shot examples (zero-shot and five-shot runs
of a model are two series, never duplicates; a ``rescore`` copy is the same run as its original), and, where
samples files exist, splits every metric by the number of digits of the answer (the paper's Fig. 3/4). It
never loads a model: sizes come from ``params=``, the built-in table
(:mod:`lm_eval_mirage.analysis.families`), the count the harness recorded in the results file, or the
``safetensors`` headers of a local model folder; a model whose size is found nowhere is reported, not guessed.
Damaged input (a bad samples line, a direction that is not a boolean, a model folder that cannot be sized)
becomes a message naming the file and line, and the rest is read.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from lm_eval_mirage.analysis.families import lookup_model, parse_size
from lm_eval_mirage.analysis.model_folder import params_from_folder
from lm_eval_mirage.analysis.sample_arrays import FileSamples, _number
from lm_eval_mirage.analysis.sample_cache import read_files
from lm_eval_mirage.analysis.sample_store import SampleStore
from lm_eval_mirage.analysis.table import metric_higher_is_better, step_zero_notes, tidy
from lm_eval_mirage.harness_outputs import (
    ResultsFile,
    UnsafeTaskNameError,
    check_task_name,
    find_results_files,
    find_samples_file,
    parse_model_args,
    scan_results,
)

__all__ = [
    "Collection",
    "load",
    "collect",
    "find_results_files",
    "parse_model_args",
    "params_from_folder",
    "DEFAULT_FAMILY",
]

XAxis = Literal["params", "steps", "flops"]
#: Family of a model that is in no known family and not named in ``families=``.
DEFAULT_FAMILY = "models"
_SKIP_KEYS = {"alias", "name", "sample_len", " "}


@dataclass
class Collection:
    """What :func:`load` found.

    Attributes:
        table: the tidy table (:data:`~lm_eval_mirage.analysis.schema.TABLE_COLUMNS`, plus ``num_fewshot``).
        store: per-problem values as compact arrays (:class:`~lm_eval_mirage.analysis.sample_store.SampleStore`),
            what :func:`~lm_eval_mirage.analysis.report.write_report` takes as ``samples``; empty without
            samples files.
        models: one row per model (and number of few-shot examples, when runs differ in it): model, model_name,
            revision, num_fewshot, family, series, params, params_source, step, tokens, flops, x,
            lm_eval_version, source.
        messages: what a reader must know (unknown sizes, duplicate runs, skipped lines, differing versions...).
        skipped: samples lines (or whole files and tasks) left out because they could not be read.
    """

    table: pd.DataFrame
    store: SampleStore
    models: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    skipped: int = 0

    @cached_property
    def samples(self) -> pd.DataFrame:
        """The per-problem values as a long table (:data:`~lm_eval_mirage.analysis.schema.SAMPLE_COLUMNS`), built
        on first use from :attr:`store` (some 100 bytes per row: prefer ``store`` for large sweeps)."""
        return self.store.frame()


def _direction(run: ResultsFile, task: str, metric: str, notes: list[str]) -> bool | None:
    """The file's ``higher_is_better[task][metric]`` when it is a JSON boolean, else the metric name's rule."""
    hib = run.data.get("higher_is_better")
    hib = hib.get(task) if isinstance(hib, dict) else None
    if not isinstance(hib, dict) or metric not in hib:
        return metric_higher_is_better(metric)
    value = hib[metric]
    if isinstance(value, bool):
        return value
    guess = metric_higher_is_better(metric)
    notes.append(
        f"{run.path}: higher_is_better[{task!r}][{metric!r}] = {value!r} is not a JSON boolean; refused, direction "
        f"taken from the metric name ({ {True: 'higher is better', False: 'lower is better'}.get(guess, 'unknown') })"
    )
    return guess


def _result_rows(run: ResultsFile, task: str, notes: list[str]) -> list[dict]:
    res = run.data["results"][task]
    n = run.num_problems(task)
    n = math.nan if n is None else float(n)
    version = (run.data.get("versions") or {}).get(task, "")
    nshot = run.num_fewshot(task)
    rows = []
    for key, value in res.items():
        if key in _SKIP_KEYS or "_stderr" in key.split(",", 1)[0]:
            continue
        metric, _, filt = key.partition(",")
        if isinstance(value, (dict, list)) or (not filt and isinstance(value, str) and math.isnan(_number(value))):
            continue  # a label, not a metric ("metric,filter" keys are metrics even when the value is "N/A")
        stderr_key = f"{metric}_stderr,{filt}" if filt else f"{metric}_stderr"  # both layouts' names
        rows.append(
            {
                "task": task,
                "metric": metric,
                "filter": filt or "none",
                "split": "all",
                "target_digits": math.nan,
                "value": _number(value),
                "stderr": _number(res.get(stderr_key, math.nan)),
                "n": n,
                "higher_is_better": _direction(run, task, metric, notes),
                "task_version": str(version),
                "source": str(run.path),
                "num_fewshot": math.nan if nshot is None else float(nshot),
            }
        )
    return rows


def _split_rows(found: FileSamples, template: dict[tuple[str, str], dict]) -> list[dict]:
    """Mean, standard error and count of each metric per number of answer digits."""
    rows = []
    for metric, filt, idx in sorted(found.groups(), key=lambda g: g[:2]):
        base = template.get((metric, filt))
        if base is None:
            continue
        digits, values = found.target_digits[idx], found.values[found.metrics.index(metric), idx]
        known = ~np.isnan(digits)
        for d in np.unique(digits[known]):
            v = values[known & (digits == d)]
            v = v[~np.isnan(v)]
            n = v.size
            stderr = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
            rows.append(
                {
                    **base,
                    "split": f"digits={int(d)}",
                    "target_digits": float(d),
                    "value": float(v.mean()) if n else math.nan,
                    "stderr": stderr,
                    "n": float(n),
                }
            )
    return rows


def _is_count(value: object) -> bool:
    """A parameter count: a positive, finite JSON number (``true`` is no count of 1)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


def sweep_params(paths: Iterable[str | os.PathLike]) -> dict[str, float]:
    """Parameter counts recorded by ``lm-eval-mirage sweep`` in ``params.json`` at the top of its output folder.

    The file maps model folder names to ``{"params": N, ...}``; entries without a count are left out.
    """
    out: dict[str, float] = {}
    for p in map(Path, paths):
        f = p / "params.json"
        if not (p.is_dir() and f.is_file()):
            continue
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{f}: not valid JSON ({exc})") from None
        for key, entry in data.items() if isinstance(data, dict) else ():
            if isinstance(entry, dict) and _is_count(entry.get("params")):
                out[str(key)] = float(entry["params"])
    return out


def _lookup(mapping: Mapping[str, object] | None, run: ResultsFile, label: str) -> tuple[object, str | None]:
    """Value for a model from a user mapping, matched by label, model name, folder name or base name."""
    if not mapping:
        return None, None
    keys = [label, run.label, run.model_name, run.path.parent.name, run.model_name.rstrip("/").rsplit("/", 1)[-1]]
    for k in keys:
        if k in mapping:
            return mapping[k], k
    return None, None


def _shot_suffix(nshot: int | None) -> str:
    return "" if nshot is None else f" ({nshot}-shot)"


def _run_identity(run: ResultsFile) -> tuple[str, str, str]:
    """One harness run, whichever copy: a ``rescore`` copy names the file it was made from."""
    block = run.data.get("rescore")
    source = block.get("source_results") if run.rescored and isinstance(block, dict) else None
    if not isinstance(source, str):
        source = run.path.name.replace(".rescored.json", ".json")
    return run.label, run.date_id, source


def _newest_copy(copies: list[ResultsFile]) -> ResultsFile:
    """The copy of one run to read: a ``rescore`` copy (the original's metrics plus the added ones), the newest."""

    def key(r: ResultsFile) -> tuple:
        block = r.data.get("rescore") if isinstance(r.data.get("rescore"), dict) else {}
        return r.rescored, str(block.get("date", "")), str(r.path)

    return max(copies, key=key)


def _select_runs(
    runs: list[ResultsFile], messages: list[str]
) -> tuple[dict[tuple[str, str], ResultsFile], dict[tuple[str, str, str], list[ResultsFile]], set[int | None], int]:
    """The run to read for each (model label, task), and the copies of each run (where its samples may be).

    Labels say the number of few-shot examples when the runs differ in it. A ``rescore`` copy is the run it was
    made from and wins (it holds the original's metrics and the added ones); of two different runs the latest
    wins, and the others are named in ``messages``. Task names that would leave the run folder are refused.

    Returns:
        (owner, copies by run identity, the n-shot values, tasks skipped).
    """
    skipped = 0
    run_tasks: dict[int, list[str]] = {}
    for run in runs:
        run_tasks[id(run)] = []
        for task in run.tasks:
            try:
                run_tasks[id(run)].append(check_task_name(task, run.path))
            except UnsafeTaskNameError as exc:
                messages.append(f"{exc}; task skipped")
                skipped += 1
    shots_by_model: dict[str, set[int | None]] = {}
    for run in runs:
        shots_by_model.setdefault(run.label, set()).update(run.num_fewshot(t) for t in run_tasks[id(run)])
    # A model run at several few-shot counts (EleutherAI's zero- and five-shot files) is one curve per count;
    # families that each use their own count (the demo's 2-shot simulation, 0-shot trained models) keep plain labels.
    shots = {n for model_shots in shots_by_model.values() for n in model_shots}
    if not any(len(s) > 1 for s in shots_by_model.values()):
        if len(shots) > 1:
            messages.append(
                f"runs differ in their number of few-shot examples ({', '.join(sorted(str(n) for n in shots))}) but no "
                "model was run at two of them: labels stay plain (set --family to keep such models apart)"
            )
        shots = {next(iter(shots))} if shots else set()
    same_run: dict[tuple[str, str, str], list[ResultsFile]] = {}
    for run in runs:
        same_run.setdefault(_run_identity(run), []).append(run)
    seen: dict[tuple[str, str], dict[tuple[str, str, str], list[ResultsFile]]] = {}
    for run in runs:
        for task in run_tasks[id(run)]:
            label = run.label + (_shot_suffix(run.num_fewshot(task)) if len(shots) > 1 else "")
            seen.setdefault((label, task), {}).setdefault(_run_identity(run), []).append(run)
    owner: dict[tuple[str, str], ResultsFile] = {}
    for key, by_run in seen.items():
        candidates = sorted((_newest_copy(c) for c in by_run.values()), key=lambda r: (r.date, str(r.path)))
        owner[key] = candidates[-1]
        if len(candidates) > 1:
            older = ", ".join(str(r.path) for r in candidates[:-1])
            messages.append(
                f"duplicate runs of {key[0]} on {key[1]}: using the latest ({candidates[-1].path}); ignored {older}"
            )
    return owner, same_run, shots, skipped


def load(
    paths: Iterable[str | os.PathLike],
    *,
    params: Mapping[str, float | str] | None = None,
    steps: Mapping[str, int] | None = None,
    tokens: Mapping[str, float | str] | None = None,
    families: Mapping[str, str] | str | None = None,
    x: XAxis = "params",
    samples: bool = True,
    progress: bool | None = None,
    jobs: int | None = 1,
    cache: str | os.PathLike | None = None,
) -> Collection:
    """Collect harness results (and samples) of several models into a :class:`Collection`.

    Args:
        paths: results files or folders (every ``*.json`` below that holds harness results, by content).
        params: model -> number of parameters (``160m``, ``1.4b``, ``7e9`` accepted); keys match the model name
            (hub id or path), ``name@revision``, the output folder name or the last path component.
        steps: model -> training step, for checkpoints not named ``revision=stepN``.
        tokens: model -> training tokens, for ``x="flops"`` (FLOPs = 6 * params * tokens).
        families: model -> family (one curve per family), or one family name for every model.
        x: the scale axis: ``"params"``, ``"steps"`` (one curve per model across checkpoints) or ``"flops"``.
        samples: read ``samples_*.jsonl`` files beside each results file (split by answer digits, bootstrap).
        progress: progress bar while reading samples files: ``True`` always, ``None`` on a terminal only,
            ``False`` never.
        jobs: processes reading samples files in parallel (``None``: one per core); the result is the same
            for any number.
        cache: folder of the samples cache (:class:`~lm_eval_mirage.analysis.sample_cache.SampleCache`;
            e.g. :func:`~lm_eval_mirage.analysis.sample_cache.default_cache_dir`); ``None``: no cache.

    When the runs differ in their number of few-shot examples (``n-shot``, or ``config.num_fewshot`` in the
    2023 layout), every model label and series says it (``... (5-shot)``): each is its own curve.

    Raises:
        FileNotFoundError, ValueError: a path is missing, a file given is not a results file, no results file
        was found, or ``x`` is not one of the accepted values.
    """
    if x not in ("params", "steps", "flops"):
        raise ValueError(f"x={x!r}: accepted values are 'params', 'steps', 'flops'")
    from tqdm.auto import tqdm

    paths = list(paths)
    runs, unreadable = scan_results(paths)
    messages = [f"{exc}; skipped" for exc in unreadable]
    if not runs:
        raise ValueError(
            f"no lm-eval results files under {[str(p) for p in paths]}; point at lm_eval --output_path folders "
            "(any *.json holding a 'results' object of tasks is read)"
        )
    recorded = sweep_params(paths)
    skipped_total = 0

    owner, same_run, shots, skipped_total = _select_runs(runs, messages)
    by_shots = len(shots) > 1

    model_rows: dict[str, dict] = {}
    used_keys: dict[str, set] = {"params": set(), "steps": set(), "tokens": set(), "families": set()}
    for (label, task), run in owner.items():
        if label in model_rows:
            continue
        nshot = run.num_fewshot(task)
        known = lookup_model(run.model_name)
        given, key = _lookup(params, run, label)
        if given is not None:
            n_params, source = parse_size(str(given)), "given"
            used_keys["params"].add(key)
        elif (swept := _lookup(recorded, run, label)[0]) is not None:
            n_params, source = float(swept), "sweep params.json"
        elif known is not None:
            n_params, source = float(known.params), f"table ({'exact' if known.exact else 'nominal'})"
        elif _is_count((run.data.get("config") or {}).get("model_num_parameters")):
            n_params, source = float(run.data["config"]["model_num_parameters"]), "results file"
        elif (counted := _count_local(run, messages)) is not None:
            n_params, source = float(counted), "local folder"
        else:
            n_params, source = math.nan, "unknown"
        step_given, key = _lookup(steps, run, label)
        if step_given is not None:
            used_keys["steps"].add(key)
            step = float(step_given)
        elif run.revision and (m := re.fullmatch(r"step(\d+)", run.revision)):
            step = float(m.group(1))
        else:
            step = math.nan
        tok_given, key = _lookup(tokens, run, label)
        if tok_given is not None:
            used_keys["tokens"].add(key)
            n_tokens = parse_size(str(tok_given))
        elif known is not None and not math.isnan(step) and known.tokens_per_step:
            n_tokens = step * known.tokens_per_step
        elif known is not None and math.isnan(step) and known.train_tokens:
            n_tokens = float(known.train_tokens)
        else:
            n_tokens = math.nan
        if isinstance(families, str):
            family = families
        else:
            fam_given, key = _lookup(families, run, label)
            if fam_given is not None:
                used_keys["families"].add(key)
            family = str(fam_given) if fam_given is not None else (known.family if known else DEFAULT_FAMILY)
        flops = 6.0 * n_params * n_tokens
        x_value = {"params": n_params, "steps": step, "flops": flops}[x]
        if x == "steps":
            series = run.model_name
        else:
            series = family + (f"@{run.revision}" if run.revision else "")
        series += _shot_suffix(nshot) if by_shots else ""
        model_rows[label] = {
            "model": label,
            "model_name": run.model_name,
            "revision": run.revision or "",
            "num_fewshot": math.nan if nshot is None else float(nshot),
            "family": family,
            "series": series,
            "params": n_params,
            "params_source": source,
            "step": step,
            "tokens": n_tokens,
            "flops": flops,
            "x": x_value,
            "lm_eval_version": str(run.data.get("lm_eval_version") or "unknown"),
            "source": str(run.path),
        }
        if math.isnan(x_value):
            hint = {
                "params": f"pass --params {run.model_name}=N",
                "steps": f"pass --steps {label}=STEP",
                "flops": f"pass --tokens {run.model_name}=D (and --params if unknown)",
            }[x]
            what = {"params": "size", "steps": "training step", "flops": "training compute"}[x]
            messages.append(f"{label}: {what} unknown, left out of the curves ({hint})")
    for name, mapping in (("params", params), ("steps", steps), ("tokens", tokens)):
        for k in sorted(set(mapping or {}) - used_keys[name]):
            messages.append(f"--{name} {k}: matches no model in the results")
    if isinstance(families, Mapping):
        for k in sorted(set(families) - used_keys["families"]):
            messages.append(f"--family {k}: matches no model in the results")

    rows: list[dict] = []
    store = SampleStore()
    pending = []  # per (model, task): its rows, notes and samples file, in the order of the messages
    for (label, task), run in sorted(owner.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        notes: list[str] = []
        task_rows = _result_rows(run, task, notes)
        if run.num_problems(task) == 0:
            notes.append(f"{run.path}: {task} scored zero problems; its values are left out")
            skipped_total += 1
            pending.append((label, task, None, notes, None))
            continue
        sample_file = None
        if samples:
            sample_file = find_samples_file(run, task, [r.path.parent for r in same_run[_run_identity(run)]])
        pending.append((label, task, task_rows, notes, sample_file))
    files = [(f, {r["metric"] for r in task_rows}) for _, _, task_rows, _, f in pending if f is not None]

    def bar(it, total):
        return tqdm(
            it, total=total, desc="reading samples", unit="file", disable=None if progress is None else not progress
        )

    read = iter(read_files(files, jobs=jobs, cache=cache, progress=bar))
    for label, task, task_rows, notes, sample_file in pending:
        messages.extend(notes)
        if task_rows is None:
            continue
        if sample_file is not None:
            found = next(read)
            messages.extend(found.messages(sample_file, task))
            skipped_total += found.skipped
            if any(True for _ in found.groups()):
                store.add(label, task, found)
                template = {(r["metric"], r["filter"]): r for r in task_rows}
                task_rows.extend(_split_rows(found, template))
        model = model_rows[label]
        for r in task_rows:
            r.update(
                {
                    k: model[k]
                    for k in (
                        "model",
                        "family",
                        "series",
                        "params",
                        "params_source",
                        "step",
                        "tokens",
                        "flops",
                        "x",
                        "lm_eval_version",
                    )
                }
            )
        rows.extend(task_rows)

    versions = sorted({m["lm_eval_version"] for m in model_rows.values()})
    if len(versions) > 1:
        messages.append(
            f"results come from different harness versions ({', '.join(versions)}): check that the "
            "task versions match before comparing models"
        )
    table = tidy(pd.DataFrame(rows)) if rows else tidy(pd.DataFrame(columns=["model", "x", "task", "metric", "value"]))
    table = table.sort_values(
        ["series", "task", "metric", "filter", "target_digits", "x", "model"], na_position="first", kind="stable"
    )
    table = table.reset_index(drop=True)
    for task, g in table.groupby("task"):
        task_versions = sorted(set(g["task_version"]))
        if len(task_versions) > 1:
            messages.append(
                f"task {task} was run at different task versions ({', '.join(task_versions)}) across models"
            )
    if len(model_rows) == 1:
        messages.append(f"only one model ({next(iter(model_rows))}): emergence needs at least three models on a curve")
    messages.extend(step_zero_notes(table))  # step 0 shifted onto the log axis changes the straight-line yardstick
    models_df = pd.DataFrame(list(model_rows.values())).sort_values(
        ["family", "x", "step", "model"], na_position="last"
    )
    return Collection(table, store, models_df.reset_index(drop=True), messages, skipped_total)


def _count_local(run: ResultsFile, messages: list[str]) -> int | None:
    """Parameters of the run's local model folder, if ``pretrained`` names one; damage becomes a message."""
    folder = run.model_args.get("pretrained", run.model_name)
    if not isinstance(folder, (str, os.PathLike)) or not str(folder) or "\x00" in str(folder):
        return None
    try:
        return params_from_folder(folder)
    except (OSError, ValueError) as exc:
        messages.append(f"{run.label}: size unknown: {exc}")
        return None


def collect(paths: Iterable[str | os.PathLike], **kwargs) -> pd.DataFrame:
    """The tidy table of :func:`load` (same arguments); its messages are in ``table.attrs["messages"]``."""
    found = load(paths, **kwargs)
    found.table.attrs["messages"] = list(found.messages)
    return found.table
