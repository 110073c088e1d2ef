"""Planning a sweep: tasks expanded from globs, one job per (model, revision), one unit per task.

A unit is the resumable piece of work: one harness run of one task for one (model, revision). Its
configuration hash covers everything that changes its results (model, revision, backend, model arguments,
task, few-shot count, limit, generation options, samples logging, extra harness arguments, task folder) and
nothing that does not (batch size, GPUs, parallelism, scheduler resources, the sweep's name or output).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lm_eval_mirage.sweep.config import (
    HF_BACKENDS,
    ModelSpec,
    SweepConfig,
    SweepConfigError,
    model_folder,
    sanitize_model_name,
)
from lm_eval_mirage.sweep.state import HASH_LENGTH
from lm_eval_mirage.sweep.text import show_value

__all__ = [
    "HASH_VERSION",
    "Job",
    "Unit",
    "config_hash",
    "expand_tasks",
    "harness_command",
    "model_folder",
    "plan_sweep",
    "sanitize_model_name",
]

#: bump when the meaning of the hashed fields changes (every unit then runs again)
HASH_VERSION = 1


@dataclass(frozen=True)
class Unit:
    """One task of one job: done when a manifest with this hash exists in the output folder."""

    task: str
    hash: str


@dataclass(frozen=True)
class Job:
    """One scheduler job: all tasks of one (model, revision)."""

    key: str  # the model folder under the output folder; unique in a sweep
    model: ModelSpec
    revision: str | None
    path: str  # the model path with any {revision} filled in
    units: tuple[Unit, ...]

    @property
    def label(self) -> str:
        return self.model.name if self.revision is None else f"{self.model.name}@{self.revision}"


def config_hash(config: SweepConfig, model: ModelSpec, revision: str | None, task: str) -> str:
    """16 hex digits of SHA-256 over the settings that change a unit's results (see the module docstring)."""
    h = model.harness
    path = model.path.replace("{revision}", revision) if revision is not None else model.path
    record = {
        "v": HASH_VERSION,
        "backend": h.backend,
        "model": path,
        "revision": None if "{revision}" in model.path else revision,
        "model_args": [list(kv) for kv in model.model_args],
        "task": task,
        "num_fewshot": h.num_fewshot,
        "limit": h.limit,
        "gen_kwargs": h.gen_kwargs,
        "log_samples": h.log_samples,
        "extra_args": list(h.extra_args),
        "include_path": None if config.include_path is None else str(config.include_path),
    }
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def plan_sweep(config: SweepConfig, tasks: Sequence[str]) -> list[Job]:
    """The jobs of a sweep over already expanded task names, in file order (models, then revisions)."""
    jobs: list[Job] = []
    seen: dict[str, str] = {}
    for model in config.models:
        for revision in model.revisions or (None,):
            key = model_folder(model, revision)
            label = model.name if revision is None else f"{model.name}@{revision}"
            if key in seen:
                raise SweepConfigError(
                    f"{config.source or 'sweep'}: models: {show_value(seen[key])} and {show_value(label)} would write to the same "
                    f"folder {show_value(key)}; give one of them a `folder:`"
                )
            seen[key] = label
            path = model.path.replace("{revision}", revision) if revision is not None else model.path
            units = tuple(Unit(task, config_hash(config, model, revision, task)) for task in tasks)
            jobs.append(Job(key, model, revision, path, units))
    return jobs


def harness_command(config: SweepConfig, job: Job, task: str, output_path: Path) -> list[str]:
    """The command that runs one task of a job, with the harness's own multi-GPU scaling.

    hf with ``parallel.data > 1`` runs under ``accelerate launch`` (data parallel); ``parallel.shard`` adds
    ``parallelize=True``; vLLM gets ``tensor_parallel_size``/``data_parallel_size`` model arguments.
    """
    model, h, par = job.model, job.model.harness, job.model.parallel
    args = [("model" if h.backend == "local-completions" else "pretrained", job.path)]
    if job.revision is not None and "{revision}" not in model.path:
        args.append(("revision", job.revision))
    args.extend(model.model_args)
    if h.backend in HF_BACKENDS and par.shard:
        args.append(("parallelize", "True"))
    if h.backend == "vllm":
        if par.tensor > 1:
            args.append(("tensor_parallel_size", str(par.tensor)))
        if par.data > 1:
            args.append(("data_parallel_size", str(par.data)))
    if h.backend in HF_BACKENDS and par.data > 1:
        launcher = [
            config.python,
            "-m",
            "accelerate.commands.launch",
            "--multi_gpu",
            "--num_processes",
            str(par.data),
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "lm_eval_mirage.cli.main",
        ]
    else:
        launcher = [config.python, "-m", "lm_eval_mirage.cli.main"]
    cmd = [
        *launcher,
        "run",
        "--model",
        h.backend,
        "--model_args",
        ",".join(f"{k}={v}" for k, v in args),
        "--tasks",
        task,
    ]
    if config.include_path is not None:
        cmd += ["--include_path", str(config.include_path)]
    if h.num_fewshot is not None:
        cmd += ["--num_fewshot", str(h.num_fewshot)]
    if h.limit is not None:
        cmd += ["--limit", str(h.limit)]
    if h.batch_size is not None:
        cmd += ["--batch_size", h.batch_size]
    if h.device is not None:
        cmd += ["--device", h.device]
    if h.gen_kwargs is not None:
        cmd += ["--gen_kwargs", h.gen_kwargs]
    if h.log_samples:
        cmd.append("--log_samples")
    return [*cmd, "--output_path", str(output_path), *h.extra_args]


def _has_glob(pattern: str) -> bool:
    return any(c in pattern for c in "*?[")


def expand_tasks(
    config: SweepConfig, *, index: Callable[[bool], dict[str, tuple[str, set[str]]]] | None = None
) -> tuple[str, ...]:
    """Task names for the sweep's patterns, in file order, tags replaced by their member tasks.

    Looks in the plugin's and the sweep's task folders first (fast) and indexes the harness's ~15,000
    built-in tasks only when a pattern matches nothing there. ``index(with_defaults)`` returns
    ``{name: (kind, tags)}`` (kind ``task``, ``group`` or ``tag``); tests pass their own.
    """
    index = index or _harness_index(config)
    found = _match(config.tasks, index(False))
    if isinstance(found, str):
        found = _match(config.tasks, index(True))
    if isinstance(found, str):
        raise SweepConfigError(
            f"{config.source or 'sweep'}: tasks: {show_value(found)} matches no task, group or tag of the plugin, "
            "the harness"
            + (f" or {config.include_path}" if config.include_path else "")
            + " (see `lm-eval-mirage ls tasks`)"
        )
    return found


def _match(patterns: Sequence[str], entries: dict[str, tuple[str, set[str]]]) -> tuple[str, ...] | str:
    """The expanded names, or the first pattern that matches nothing."""
    out: dict[str, None] = {}
    for pattern in patterns:
        names = (
            sorted(fnmatch.filter(entries, pattern))
            if _has_glob(pattern)
            else ([pattern] if pattern in entries else [])
        )
        if not names:
            return pattern
        for name in names:
            kind, _ = entries[name]
            if kind == "tag":  # a tag has no aggregate of its own: its tasks are the units
                out.update(
                    (member, None) for member, (k, tags) in sorted(entries.items()) if name in tags and k != "tag"
                )
            else:
                out[name] = None
    return tuple(out)


def _harness_index(config: SweepConfig) -> Callable[[bool], dict[str, tuple[str, set[str]]]]:
    def index(with_defaults: bool) -> dict[str, tuple[str, set[str]]]:
        from lm_eval_mirage.tasks import tasks_path

        paths = [Path(tasks_path())] + ([config.include_path] if config.include_path else [])
        if not with_defaults:
            return _light_index(paths)  # no lm_eval import (~5 s): enough for the plugin's own tasks
        from lm_eval.tasks import TaskManager

        tm = TaskManager(include_path=[str(p) for p in paths], include_defaults=True)
        out = {}
        for name, entry in tm.task_index.items():
            kind = getattr(entry.kind, "name", str(entry.kind)).lower()
            out[name] = ("tag" if kind == "tag" else "group" if kind == "group" else "task", set(entry.tags or ()))
        return out

    return index


def _light_index(folders: Sequence[Path]) -> dict[str, tuple[str, set[str]]]:
    """Task, group and tag names of the YAML files under ``folders``, read the way the harness indexes them
    (``task:``/``group:`` keys, ``tag:`` lists, ``include:`` followed), without importing it.

    No public harness route indexes a folder without importing lm_eval (~5 s per sweep command), so this
    reads the YAMLs itself. ``tests/sweep/test_plan.py::test_light_index_agrees_with_the_harness_index``
    checks that it gives what ``lm_eval.tasks.TaskManager(include_path=..., include_defaults=False)`` gives,
    on the plugin's task folder and on a folder of edge cases (a group, string and list tags, nested includes,
    templates, ``!function``). Only a pattern that matches nothing here is looked up in the harness's own index.

    The files are read as the harness reads them (aliases and repeated keys as YAML's safe loader takes
    them: the index must agree with the harness), through the package's one YAML reader (regular files
    only, one-line errors); only names and lists of names are taken from them, so no value is ever walked.
    """
    import yaml

    from lm_eval_mirage._io import InputFileError, read_yaml_file

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml when present: 10x faster
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # !function and friends: not needed here

    cache: dict[Path, dict] = {}

    def load(path: Path, seen: frozenset = frozenset()) -> dict:
        if path in cache:
            return dict(cache[path])
        try:
            data = read_yaml_file(path, strict=False, loader=Loader)
        except (OSError, InputFileError):
            return {}
        if not isinstance(data, dict):
            return {}
        includes = data.pop("include", None)
        merged: dict = {}
        for inc in includes if isinstance(includes, list) else [includes] if includes else []:
            if not isinstance(inc, str):
                continue
            inc_path = (path.parent / inc).resolve()
            if inc_path not in seen:
                merged.update(load(inc_path, seen | {path}))
        cache[path] = {**merged, **data}
        return dict(cache[path])

    out: dict[str, tuple[str, set[str]]] = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.yaml")):
            cfg = load(path)
            tags = cfg.get("tag") or []
            tags = (
                {tags}
                if isinstance(tags, str)
                else {t for t in tags if isinstance(t, str)}
                if isinstance(tags, list)
                else set()
            )
            if isinstance(cfg.get("group"), str):
                out[cfg["group"]] = ("group", set())
            elif isinstance(cfg.get("task"), str):
                out[cfg["task"]] = ("task", tags)
            else:
                continue
            for tag in tags:
                out.setdefault(tag, ("tag", set()))
    return out
