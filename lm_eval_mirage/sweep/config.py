"""The sweep file (``SWEEP.yaml``): parsing and validation into frozen dataclasses.

A sweep lists models (a path or hub name, model arguments, optional revisions and parameter count), tasks
(names or globs), harness options, multi-GPU options and scheduler resources with backend-neutral names.
Model entries may override ``harness``, ``parallel`` and ``resources`` key by key. Every error names the
file, the key path, the value and what is accepted. See ``docs/sweep.md`` for the full format.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "BACKENDS",
    "HarnessOptions",
    "ModelSpec",
    "ParallelOptions",
    "Resources",
    "SweepConfig",
    "SweepConfigError",
    "load_sweep",
    "parse_sweep",
]

#: harness model backends a sweep can use (``--model``); parallel options depend on the family
BACKENDS = ("hf", "hf-mirage", "vllm", "local-completions")
HF_BACKENDS = ("hf", "hf-mirage")
#: model arguments set by other keys of the sweep file, with the key to use instead
RESERVED_MODEL_ARGS = {
    "pretrained": "path",
    "model": "path",
    "revision": "revisions",
    "parallelize": "parallel.shard",
    "tensor_parallel_size": "parallel.tensor",
    "data_parallel_size": "parallel.data",
}

TOP_KEYS = ("name", "output", "tasks", "include_path", "models", "harness", "parallel", "resources", "retries", "env", "setup", "python")
MODEL_KEYS = ("name", "path", "model_args", "revisions", "params", "folder", "harness", "parallel", "resources")
HARNESS_KEYS = ("backend", "num_fewshot", "batch_size", "limit", "log_samples", "device", "gen_kwargs", "extra_args")
PARALLEL_KEYS = ("data", "tensor", "shard")
RESOURCE_KEYS = ("gpus", "cpus", "mem_gb", "time_min", "partition", "account", "array_parallelism", "slurm")
REVISION_RANGE_KEYS = ("format", "start", "stop", "step")


class SweepConfigError(ValueError):
    """A sweep file that cannot be used; the message names the file, the key and what is accepted."""


@dataclass(frozen=True)
class HarnessOptions:
    """Options of the harness command (``lm-eval-mirage run``) for every task of a job."""

    backend: str = "hf"
    num_fewshot: int | None = None
    batch_size: str | None = None
    limit: int | float | None = None
    log_samples: bool = True
    device: str | None = None
    gen_kwargs: str | None = None
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParallelOptions:
    """Multi-GPU scaling inside one job, with the harness's own mechanisms.

    ``data``: model replicas (``accelerate launch --num_processes`` for hf, ``data_parallel_size`` for vLLM);
    ``tensor``: vLLM ``tensor_parallel_size``; ``shard``: hf ``parallelize=True`` (one copy split over GPUs).
    """

    data: int = 1
    tensor: int = 1
    shard: bool = False

    @property
    def gpus_needed(self) -> int:
        return self.data * self.tensor


@dataclass(frozen=True)
class Resources:
    """Scheduler resources of one job; ``slurm`` holds extra sbatch options passed through unchanged."""

    gpus: int = 0
    cpus: int | None = None
    mem_gb: float | None = None
    time_min: int | None = None
    partition: str | None = None
    account: str | None = None
    array_parallelism: int | None = None
    slurm: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """One model of the family; one job per revision (or one job when it has none)."""

    name: str
    path: str
    model_args: tuple[tuple[str, str], ...] = ()
    revisions: tuple[str, ...] = ()
    params: int | None = None
    folder: str | None = None
    harness: HarnessOptions = field(default_factory=HarnessOptions)
    parallel: ParallelOptions = field(default_factory=ParallelOptions)
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep file."""

    name: str
    output: Path
    tasks: tuple[str, ...]
    models: tuple[ModelSpec, ...]
    include_path: Path | None = None
    retries: int = 1
    env: tuple[tuple[str, str], ...] = ()
    setup: tuple[str, ...] = ()
    python: str = sys.executable
    source: Path | None = None


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file; relative paths in it are relative to its folder."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise SweepConfigError(f"sweep file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SweepConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_sweep(data, base_dir=path.resolve().parent, source=path.resolve())


def parse_sweep(data: Any, *, base_dir: str | Path, source: str | Path | None = None) -> SweepConfig:
    """Validate the parsed YAML of a sweep file (a mapping) into a :class:`SweepConfig`."""
    where = str(source) if source is not None else "sweep"
    v = _Validator(where, Path(base_dir))
    top = v.mapping(data, "", TOP_KEYS)
    for key in ("output", "tasks", "models"):
        if key not in top:
            v.fail(key, None, "a value (required)")
    name = v.string(top.get("name", Path(source).stem if source else "sweep"), "name")
    output = v.path(top["output"], "output")
    tasks = v.string_list(top["tasks"], "tasks")
    include_path = v.path(top["include_path"], "include_path") if top.get("include_path") is not None else None
    retries = v.integer(top.get("retries", 1), "retries", minimum=0)
    env = tuple((str(k), v.scalar_text(val, f"env.{k}")) for k, val in v.mapping(top.get("env") or {}, "env", None).items())
    for k, _ in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k):
            v.fail(f"env.{k}", k, "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
    setup = v.string_list(top.get("setup") or [], "setup", allow_empty=True)
    python = v.string(top.get("python", sys.executable), "python")

    base_harness = v.mapping(top.get("harness") or {}, "harness", HARNESS_KEYS)
    base_parallel = v.mapping(top.get("parallel") or {}, "parallel", PARALLEL_KEYS)
    base_resources = v.mapping(top.get("resources") or {}, "resources", RESOURCE_KEYS)
    models_raw = top["models"]
    if not isinstance(models_raw, list) or not models_raw:
        v.fail("models", models_raw, "a non-empty list of models")
    models = tuple(v.model(m, f"models[{i}]", base_harness, base_parallel, base_resources) for i, m in enumerate(models_raw))
    seen: dict[str, int] = {}
    for i, m in enumerate(models):
        if m.name in seen:
            v.fail(f"models[{i}].name", m.name, f"a name not used before (models[{seen[m.name]}] has it)")
        seen[m.name] = i
    return SweepConfig(
        name=name, output=output, tasks=tasks, models=models, include_path=include_path, retries=retries,
        env=env, setup=setup, python=python, source=Path(source) if source is not None else None,
    )


class _Validator:
    """Typed getters that raise :class:`SweepConfigError` naming the file, key path, value and what is accepted."""

    def __init__(self, where: str, base_dir: Path) -> None:
        self.where = where
        self.base_dir = base_dir

    def fail(self, key: str, value: Any, accepted: str) -> None:
        got = "nothing" if value is None else repr(value)
        raise SweepConfigError(f"{self.where}: {key or 'the file'}: expected {accepted}, got {got}")

    def mapping(self, value: Any, key: str, allowed: Sequence[str] | None) -> dict:
        if not isinstance(value, Mapping):
            self.fail(key, value, "a mapping (key: value)")
        if allowed is not None:
            for k in value:
                if k not in allowed:
                    self.fail(f"{key}.{k}" if key else str(k), k, "one of the keys " + ", ".join(allowed))
        return dict(value)

    def string(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(key, value, "a non-empty string")
        return value

    def scalar_text(self, value: Any, key: str) -> str:
        if isinstance(value, bool):
            return "True" if value else "False"
        if isinstance(value, (str, int, float)):
            return str(value)
        self.fail(key, value, "a string, number or boolean")
        raise AssertionError  # unreachable: fail raises

    def string_list(self, value: Any, key: str, *, allow_empty: bool = False) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or (not items and not allow_empty):
            self.fail(key, value, "a string or a non-empty list of strings")
        for i, item in enumerate(items):
            self.string(item, f"{key}[{i}]")
        return tuple(items)

    def integer(self, value: Any, key: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(key, value, f"a whole number >= {minimum}")
        return value

    def boolean(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            self.fail(key, value, "true or false")
        return value

    def path(self, value: Any, key: str) -> Path:
        p = Path(self.string(value, key)).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def model_path(self, value: Any, key: str) -> str:
        # "./x" and "../x" are folders next to the sweep file; anything else is a hub name or a path as written
        text = self.string(value, key)
        if text.startswith(("./", "../")):
            return str((self.base_dir / text).resolve())
        return str(Path(text).expanduser()) if text.startswith("~") else text

    def harness(self, raw: dict, key: str) -> HarnessOptions:
        opts = HarnessOptions()
        backend = raw.get("backend", opts.backend)
        if backend not in BACKENDS:
            self.fail(f"{key}.backend", backend, "one of " + ", ".join(BACKENDS))
        num_fewshot = None if raw.get("num_fewshot") is None else self.integer(raw["num_fewshot"], f"{key}.num_fewshot", minimum=0)
        batch_size = raw.get("batch_size")
        if batch_size is not None:
            text = str(batch_size)
            if isinstance(batch_size, bool) or not re.fullmatch(r"[1-9][0-9]*|auto(:[1-9][0-9]*)?", text):
                self.fail(f"{key}.batch_size", batch_size, "a whole number >= 1, 'auto' or 'auto:N'")
            batch_size = text
        limit = raw.get("limit")
        if limit is not None:
            ok = (isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1) or (isinstance(limit, float) and 0 < limit <= 1)
            if not ok:
                self.fail(f"{key}.limit", limit, "a whole number of documents >= 1 or a fraction in (0, 1]")
        log_samples = self.boolean(raw.get("log_samples", True), f"{key}.log_samples")
        device = None if raw.get("device") is None else self.string(raw["device"], f"{key}.device")
        gen_kwargs = None if raw.get("gen_kwargs") is None else self.string(raw["gen_kwargs"], f"{key}.gen_kwargs")
        extra = self.string_list(raw.get("extra_args") or [], f"{key}.extra_args", allow_empty=True)
        for i, arg in enumerate(extra):
            # these are set by the sweep itself; a second value would split results from their bookkeeping
            if arg.split("=", 1)[0] in ("--model", "--model_args", "--tasks", "--output_path", "--include_path", "--limit", "--num_fewshot"):
                self.fail(f"{key}.extra_args[{i}]", arg, "an option the sweep does not set itself (use the harness keys)")
        return HarnessOptions(backend, num_fewshot, batch_size, limit, log_samples, device, gen_kwargs, extra)

    def parallel(self, raw: dict, key: str, backend: str) -> ParallelOptions:
        data = self.integer(raw.get("data", 1), f"{key}.data", minimum=1)
        tensor = self.integer(raw.get("tensor", 1), f"{key}.tensor", minimum=1)
        shard = self.boolean(raw.get("shard", False), f"{key}.shard")
        if tensor > 1 and backend != "vllm":
            self.fail(f"{key}.tensor", tensor, f"1 with backend {backend!r} (tensor parallelism is vLLM's; hf uses shard: true)")
        if shard and backend not in HF_BACKENDS:
            self.fail(f"{key}.shard", shard, f"false with backend {backend!r} (parallelize=True is an hf option; vLLM uses tensor)")
        if backend == "local-completions" and data > 1:
            self.fail(f"{key}.data", data, "1 with backend 'local-completions' (the server scales itself)")
        return ParallelOptions(data, tensor, shard)

    def resources(self, raw: dict, key: str) -> Resources:
        def opt_int(name: str, minimum: int) -> int | None:
            return None if raw.get(name) is None else self.integer(raw[name], f"{key}.{name}", minimum=minimum)

        mem = raw.get("mem_gb")
        if mem is not None and (isinstance(mem, bool) or not isinstance(mem, (int, float)) or mem <= 0):
            self.fail(f"{key}.mem_gb", mem, "a number of gigabytes > 0")
        slurm = self.mapping(raw.get("slurm") or {}, f"{key}.slurm", None)
        return Resources(
            gpus=opt_int("gpus", 0) or 0,
            cpus=opt_int("cpus", 1),
            mem_gb=mem,
            time_min=opt_int("time_min", 1),
            partition=None if raw.get("partition") is None else self.string(raw["partition"], f"{key}.partition"),
            account=None if raw.get("account") is None else self.string(raw["account"], f"{key}.account"),
            array_parallelism=opt_int("array_parallelism", 1),
            slurm=tuple(sorted((str(k), self.scalar_text(val, f"{key}.slurm.{k}")) for k, val in slurm.items())),
        )

    def model_args(self, value: Any, key: str) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            pairs = []
            for part in filter(None, (p.strip() for p in value.split(","))):
                if "=" not in part:
                    self.fail(key, value, "'key=value,key=value' or a mapping")
                k, val = part.split("=", 1)
                pairs.append((k.strip(), val.strip()))
        else:
            pairs = [(str(k), self.scalar_text(val, f"{key}.{k}")) for k, val in self.mapping(value, key, None).items()]
        for k, val in pairs:
            if k in RESERVED_MODEL_ARGS:
                self.fail(f"{key}.{k}", k, f"a model argument the sweep does not set itself (use {RESERVED_MODEL_ARGS[k]!r})")
            if "," in val:
                self.fail(f"{key}.{k}", val, "a value without commas (the harness splits model_args on commas)")
        return tuple(pairs)

    def revisions(self, value: Any, key: str) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value if isinstance(value, list) else [value]
        out: list[str] = []
        for i, item in enumerate(items):
            if isinstance(item, Mapping):
                rng = self.mapping(item, f"{key}[{i}]", REVISION_RANGE_KEYS)
                fmt = self.string(rng.get("format", "{}"), f"{key}[{i}].format")
                if "{}" not in fmt:
                    self.fail(f"{key}[{i}].format", fmt, "a template with '{}' for the number, e.g. 'step{}'")
                start = self.integer(rng.get("start"), f"{key}[{i}].start", minimum=0)
                stop = self.integer(rng.get("stop"), f"{key}[{i}].stop", minimum=start)
                step = self.integer(rng.get("step", 1), f"{key}[{i}].step", minimum=1)
                out.extend(fmt.replace("{}", str(n)) for n in range(start, stop + 1, step))  # stop is inclusive
            elif isinstance(item, (str, int)) and not isinstance(item, bool) and str(item).strip():
                out.append(str(item))
            else:
                self.fail(f"{key}[{i}]", item, "a revision name, or {format, start, stop, step} (stop inclusive)")
        dupes = sorted({r for r in out if out.count(r) > 1})
        if dupes:
            self.fail(key, dupes, "revisions listed once each")
        return tuple(out)

    def model(self, raw: Any, key: str, harness: dict, parallel: dict, resources: dict) -> ModelSpec:
        m = self.mapping(raw, key, MODEL_KEYS)
        if "name" not in m and "path" not in m:
            self.fail(f"{key}.name", None, "a model name (and optionally a path)")
        name = self.string(m.get("name", m.get("path")), f"{key}.name")
        path = self.model_path(m.get("path", name), f"{key}.path")
        h = self.harness({**harness, **self.mapping(m.get("harness") or {}, f"{key}.harness", HARNESS_KEYS)}, f"{key}.harness")
        p = self.parallel({**parallel, **self.mapping(m.get("parallel") or {}, f"{key}.parallel", PARALLEL_KEYS)}, f"{key}.parallel", h.backend)
        r = self.resources({**resources, **self.mapping(m.get("resources") or {}, f"{key}.resources", RESOURCE_KEYS)}, f"{key}.resources")
        if p.gpus_needed > 1 and r.gpus < p.gpus_needed:
            self.fail(f"{key}.resources.gpus", r.gpus, f"at least {p.gpus_needed} GPUs for parallel data={p.data} x tensor={p.tensor}")
        if p.shard and r.gpus < 2 * p.data:
            self.fail(f"{key}.resources.gpus", r.gpus, f"at least {2 * p.data} GPUs to shard each of {p.data} replica(s) over 2 or more")
        revisions = self.revisions(m.get("revisions"), f"{key}.revisions")
        if revisions and h.backend == "local-completions" and "{revision}" not in path:
            self.fail(f"{key}.revisions", list(revisions), "no revisions with backend 'local-completions' (unless the path has {revision})")
        if "{revision}" in path and not revisions:
            self.fail(f"{key}.revisions", None, "a list of revisions to fill the '{revision}' in the path")
        params = m.get("params")
        if params is not None:
            if isinstance(params, float) and params.is_integer():
                params = int(params)  # 7.0e7 in YAML
            params = self.integer(params, f"{key}.params", minimum=1)
        folder = None if m.get("folder") is None else self.string(m["folder"], f"{key}.folder")
        if folder is not None and (folder.startswith(".") or "/" in folder or "\\" in folder):
            self.fail(f"{key}.folder", folder, "a plain folder name (no '/', not starting with '.')")
        return ModelSpec(name, path, self.model_args(m.get("model_args"), f"{key}.model_args"), revisions, params, folder, h, p, r)
