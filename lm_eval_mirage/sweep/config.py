"""The sweep file (``SWEEP.yaml``): validated (pydantic, :mod:`lm_eval_mirage.sweep.schema`) and resolved
into frozen dataclasses.

A sweep lists models (a path or hub name, model arguments, optional revisions and parameter count), tasks
(names or globs), harness options, multi-GPU options and scheduler resources with backend-neutral names.
Model entries may override ``harness``, ``parallel`` and ``resources`` key by key. Every error is one line
that names the file, the key path, the value and what is accepted. See ``docs/sweep.md`` for the format.

The schema checks each value; here the overrides are merged, revision ranges expanded, paths resolved,
and the rules that involve several keys are checked (GPUs against parallelism, options against the backend,
unique names and revisions, every job's folder a plain folder inside the output folder).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lm_eval_mirage._io import InputFileError, read_yaml_file
from lm_eval_mirage.harness_outputs import model_folder_name as sanitize_model_name  # the harness's own rule
from lm_eval_mirage.sweep.schema import BACKENDS, RESERVED_MODEL_ARGS, ModelFile, SweepFile, describe, show_value
from lm_eval_mirage.sweep.state import is_plain_folder

__all__ = [
    "BACKENDS",
    "HarnessOptions",
    "ModelSpec",
    "ParallelOptions",
    "RESERVED_MODEL_ARGS",
    "Resources",
    "SweepConfig",
    "SweepConfigError",
    "load_sweep",
    "model_folder",
    "parse_sweep",
]

HF_BACKENDS = ("hf", "hf-mirage")
#: at most this many revisions per model (a range of a billion steps is a typo, not a sweep)
MAX_REVISIONS = 100_000


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


def model_folder(model: ModelSpec, revision: str | None) -> str:
    """Folder of a (model, revision) under the output folder: the harness's own name, plus ``@revision``.

    The harness names the folder after ``pretrained=`` alone, so revisions of one model would share it;
    the sweep keeps them apart (a path with ``{revision}`` is already distinct).

    Example:
        >>> model_folder(ModelSpec("pythia-70m", "EleutherAI/pythia-70m"), "step1000")
        'EleutherAI__pythia-70m@step1000'
    """
    if model.folder is not None:
        base = model.folder
    else:
        base = sanitize_model_name(model.path.replace("{revision}", revision or ""))
    if revision is None or "{revision}" in model.path:
        return base
    return f"{base}@{sanitize_model_name(revision)}"


def load_sweep(path: str | Path) -> SweepConfig:
    """Read and validate a sweep file; relative paths in it are relative to its folder.

    The file is read strictly (:func:`lm_eval_mirage._io.read_yaml_file`): a duplicate key is an error (the
    last one would win silently), and so are YAML anchors and aliases (a few hundred bytes of them expand
    to gigabytes; models override ``harness``, ``parallel`` and ``resources`` key by key instead).
    """
    path = Path(path)
    if not path.is_file():
        raise SweepConfigError(f"sweep file {str(path)!r} does not exist")
    try:
        data = read_yaml_file(path, strict=True)
    except InputFileError as exc:
        raise SweepConfigError(str(exc)) from None
    return parse_sweep(data, base_dir=path.resolve().parent, source=path.resolve())


def parse_sweep(data: Any, *, base_dir: str | Path, source: str | Path | None = None) -> SweepConfig:
    """Validate the parsed YAML of a sweep file (a mapping) into a :class:`SweepConfig`.

    Raises:
        SweepConfigError: one line, ``FILE: key.path: expected ..., got ...``.
    """
    where = str(source) if source is not None else "sweep"
    try:
        raw = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise SweepConfigError(f"{where}: {describe(exc)}") from None
    return _Resolver(where, Path(base_dir)).sweep(raw, source)


class _Resolver:
    """From a validated file to the dataclasses: merge overrides, expand revisions, resolve paths, cross-key rules."""

    def __init__(self, where: str, base_dir: Path) -> None:
        self.where, self.base_dir = where, base_dir

    def fail(self, key: str, value: Any, accepted: str) -> None:
        got = "nothing" if value is None else show_value(value)
        raise SweepConfigError(f"{self.where}: {key}: expected {accepted}, got {got}")

    def path(self, text: str) -> Path:
        p = Path(text).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def sweep(self, raw: SweepFile, source: str | Path | None) -> SweepConfig:
        models = tuple(self.model(m, f"models[{i}]", raw) for i, m in enumerate(raw.models))
        seen: dict[str, int] = {}
        for i, m in enumerate(models):
            if m.name in seen:
                self.fail(f"models[{i}].name", m.name, f"a name not used before (models[{seen[m.name]}] has it)")
            seen[m.name] = i
        config = SweepConfig(
            name=raw.name or (Path(source).stem if source is not None else "sweep"),
            output=self.path(raw.output),
            tasks=tuple(raw.tasks),
            models=models,
            include_path=None if raw.include_path is None else self.path(raw.include_path),
            retries=raw.retries,
            env=tuple((raw.env or {}).items()),
            setup=tuple(raw.setup or ()),
            python=raw.python or sys.executable,
            source=Path(source) if source is not None else None,
        )
        self.folders_inside(config)
        return config

    def folders_inside(self, config: SweepConfig) -> None:
        """Every job's folder is one plain folder inside the output folder (a path ``..`` would give ``..``)."""
        for i, m in enumerate(config.models):
            # without {revision} in the path only the base can fail ("@<sanitised revision>" is plain): one check
            for revision in m.revisions if "{revision}" in m.path else m.revisions[:1] or (None,):
                folder = model_folder(m, revision)
                if not is_plain_folder(folder):
                    key = f"models[{i}].folder" if m.folder is not None else f"models[{i}].path"
                    self.fail(
                        key,
                        m.folder or m.path,
                        f"a model whose folder is a plain folder inside the output folder (it would be {show_value(folder)}; "
                        "give the model a `folder:`)",
                    )

    def model(self, raw: ModelFile, key: str, top: SweepFile) -> ModelSpec:
        if raw.name is None and raw.path is None:
            self.fail(f"{key}.name", None, "a model name (and optionally a path)")
        name = raw.name or raw.path
        path = raw.path or name
        # "./x" and "../x" are folders next to the sweep file; anything else is a hub name or a path as written
        if path.startswith(("./", "../")):
            path = str((self.base_dir / path).resolve())
        elif path.startswith("~"):
            path = str(Path(path).expanduser())
        h = HarnessOptions(**_merged(top.harness, raw.harness, tuple_keys=("extra_args",)))
        p = ParallelOptions(**_merged(top.parallel, raw.parallel))
        r = _merged(top.resources, raw.resources)
        r = Resources(**{**r, "slurm": tuple(sorted((r.get("slurm") or {}).items()))})
        self.check_parallel(p, r, h.backend, key)
        revisions = self.revisions(raw, key)
        if revisions and h.backend == "local-completions" and "{revision}" not in path:
            self.fail(
                f"{key}.revisions",
                list(revisions),
                "no revisions with backend 'local-completions' (unless the path has {revision})",
            )
        if "{revision}" in path and not revisions:
            self.fail(f"{key}.revisions", None, "a list of revisions to fill the '{revision}' in the path")
        model_args = tuple((raw.model_args or {}).items())
        return ModelSpec(name, path, model_args, revisions, raw.params, raw.folder, h, p, r)

    def check_parallel(self, p: ParallelOptions, r: Resources, backend: str, key: str) -> None:
        if p.tensor > 1 and backend != "vllm":
            self.fail(
                f"{key}.parallel.tensor",
                p.tensor,
                f"1 with backend {backend!r} (tensor parallelism is vLLM's; hf uses shard: true)",
            )
        if p.shard and backend not in HF_BACKENDS:
            self.fail(
                f"{key}.parallel.shard",
                p.shard,
                f"false with backend {backend!r} (parallelize=True is an hf option; vLLM uses tensor)",
            )
        if backend == "local-completions" and p.data > 1:
            self.fail(f"{key}.parallel.data", p.data, "1 with backend 'local-completions' (the server scales itself)")
        if p.gpus_needed > 1 and r.gpus < p.gpus_needed:
            self.fail(
                f"{key}.resources.gpus",
                r.gpus,
                f"at least {p.gpus_needed} GPUs for parallel data={p.data} x tensor={p.tensor}",
            )
        if p.shard and r.gpus < 2 * p.data:
            self.fail(
                f"{key}.resources.gpus",
                r.gpus,
                f"at least {2 * p.data} GPUs to shard each of {p.data} replica(s) over 2 or more",
            )

    def revisions(self, raw: ModelFile, key: str) -> tuple[str, ...]:
        out: list[str] = []
        for i, item in enumerate(raw.revisions or ()):
            if isinstance(item, str):
                out.append(item)
                continue
            if item.stop < item.start:
                self.fail(f"{key}.revisions[{i}].stop", item.stop, f"a whole number >= {item.start} (start)")
            if (item.stop - item.start) // item.step + len(out) >= MAX_REVISIONS:
                self.fail(f"{key}.revisions[{i}]", item.model_dump(), f"at most {MAX_REVISIONS} revisions in all")
            out.extend(
                item.format.replace("{}", str(n)) for n in range(item.start, item.stop + 1, item.step)
            )  # stop is inclusive
        dupes = sorted({r for r in out if out.count(r) > 1}) if len(set(out)) < len(out) else []
        if dupes:
            self.fail(f"{key}.revisions", dupes, "revisions listed once each")
        return tuple(out)


def _merged(top: Any, model: Any, tuple_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """The keys the file sets, the model's over the top level's; ``null`` means the default."""
    merged = {
        **(top.model_dump(exclude_unset=True) if top else {}),
        **(model.model_dump(exclude_unset=True) if model else {}),
    }
    return {k: tuple(v) if k in tuple_keys else v for k, v in merged.items() if v is not None}
