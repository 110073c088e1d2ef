"""The sweep file's schema as pydantic v2 models: what may be written where, checked value by value.

These models describe the file as written (every key optional where the file may leave it out, revision
ranges unexpanded, model overrides unmerged); :func:`lm_eval_mirage.sweep.config.parse_sweep` resolves a
validated file into the frozen dataclasses the rest of the package uses, and checks what involves several
keys (GPUs against parallelism, a backend against its options). Unknown keys are errors (``extra="forbid"``).

Every text that reaches a job script or an sbatch line (paths, names, revisions, tasks, environment,
model arguments, options) is refused when it holds a control character (C0, DEL, C1 including U+0085) or
a Unicode line or paragraph separator (U+2028, U+2029): in a script, a line break turns data into a command.
:func:`describe` turns a :class:`pydantic.ValidationError` into one line naming the key path
(``models[2].revisions[0]: expected ..., got ...``).
"""

from __future__ import annotations

import math
import re
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Discriminator, Tag, ValidationError

from lm_eval_mirage.sweep.text import CONTROL_CHARACTERS, show_value  # one bounded repr for every message

__all__ = [
    "CONTROL_CHARACTERS",
    "HarnessFile",
    "ModelFile",
    "ParallelFile",
    "ResourcesFile",
    "RevisionRange",
    "SweepFile",
    "check_text",
    "describe",
    "show_value",
]

#: harness model backends a sweep can use (``--model``)
BACKENDS = ("hf", "hf-mirage", "vllm", "local-completions")
#: model arguments set by other keys of the sweep file, with the key to use instead
RESERVED_MODEL_ARGS = {
    "pretrained": "path",
    "model": "path",
    "revision": "revisions",
    "parallelize": "parallel.shard",
    "tensor_parallel_size": "parallel.tensor",
    "data_parallel_size": "parallel.data",
}
#: harness options the sweep sets itself; a second value in extra_args would split results from their bookkeeping
RESERVED_OPTIONS = ("--model", "--model_args", "--tasks", "--output_path", "--include_path", "--limit", "--num_fewshot")


def check_text(value: str) -> str:
    """A value fit for a job script: no control character or line break (ValueError naming it otherwise).

    Example:
        >>> check_text("EleutherAI/pythia-70m")
        'EleutherAI/pythia-70m'
        >>> check_text("step1\\ntouch x")
        Traceback (most recent call last):
        ValueError: text without control characters or line breaks ('\\n' at position 5)
    """
    found = CONTROL_CHARACTERS.search(value)
    if found:
        raise ValueError(
            f"text without control characters or line breaks ({found.group()!r} at position {found.start()})"
        )
    return value


def _nonempty(value: str) -> str:
    if not value.strip():
        raise ValueError("a non-empty string")
    return check_text(value)


def _scalar_text(value: Any) -> str:
    """YAML scalars as the harness and the shell see them (``true`` -> ``True``)."""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ValueError("a string, number or boolean")


def _matching(pattern: str, accepted: str):
    def check(value: str) -> str:
        if not re.fullmatch(pattern, value):
            raise ValueError(accepted)
        return value

    return AfterValidator(check)


def _whole(low: int, high: int):
    """A whole number in [low, high]; YAML floats (1e20), booleans and strings are refused."""
    accepted = f"a whole number >= {low} and <= {high}"

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(accepted)
        return value

    return BeforeValidator(check)


Text = Annotated[str, AfterValidator(_nonempty)]
ScalarText = Annotated[str, BeforeValidator(_scalar_text), AfterValidator(check_text)]


def _text_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


TextList = Annotated[list[Text], BeforeValidator(_text_list)]


def _not_reserved_option(arg: str) -> str:
    if arg.split("=", 1)[0] in RESERVED_OPTIONS:
        raise ValueError("an option the sweep does not set itself (use the harness keys)")
    return arg


def _backend(value: Any) -> str:
    if value not in BACKENDS:
        raise ValueError("one of " + ", ".join(BACKENDS))
    return value


def _batch_size(value: Any) -> str:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, str))
        or not re.fullmatch(r"[1-9][0-9]{0,5}|auto(:[1-9][0-9]{0,5})?", str(value))
    ):
        raise ValueError("a whole number >= 1, 'auto' or 'auto:N'")
    return str(value)


def _limit(value: Any) -> int | float:
    whole = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 10**12
    if not (whole or (isinstance(value, float) and 0 < value <= 1)):
        raise ValueError("a whole number of documents >= 1 or a fraction in (0, 1]")
    return value


def _gigabytes(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= 100_000
    ):
        raise ValueError("a number of gigabytes > 0 and <= 100000")
    return value


def _integral(value: Any) -> Any:
    return (
        int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 2**63 else value
    )  # 7.0e7 in YAML


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HarnessFile(_File):
    """``harness:`` (top level or per model): options of every harness run."""

    backend: Annotated[str, BeforeValidator(_backend)] | None = None
    num_fewshot: Annotated[int, _whole(0, 10_000)] | None = None
    batch_size: Annotated[str, BeforeValidator(_batch_size)] | None = None
    limit: Annotated[int | float, BeforeValidator(_limit)] | None = None
    log_samples: bool | None = None
    device: Text | None = None
    gen_kwargs: Text | None = None
    extra_args: list[Annotated[Text, AfterValidator(_not_reserved_option)]] | None = None


class ParallelFile(_File):
    """``parallel:``: multi-GPU scaling inside one job."""

    data: Annotated[int, _whole(1, 1024)] | None = None
    tensor: Annotated[int, _whole(1, 1024)] | None = None
    shard: bool | None = None


class ResourcesFile(_File):
    """``resources:``: scheduler resources of a job, backend-neutral names (``slurm:`` passed to sbatch)."""

    gpus: Annotated[int, _whole(0, 1024)] | None = None
    cpus: Annotated[int, _whole(1, 100_000)] | None = None
    mem_gb: Annotated[float, BeforeValidator(_gigabytes)] | None = None
    time_min: Annotated[int, _whole(1, 366 * 24 * 60)] | None = None  # a year at most
    partition: Text | None = None
    account: Text | None = None
    array_parallelism: Annotated[int, _whole(1, 100_000)] | None = None
    slurm: (
        dict[
            Annotated[str, _matching(r"[A-Za-z][A-Za-z0-9_-]*", "an sbatch option name (letters, digits, '-', '_')")],
            ScalarText,
        ]
        | None
    ) = None


def _template(value: str) -> str:
    if "{}" not in value:
        raise ValueError("a template with '{}' for the number, e.g. 'step{}'")
    return value


class RevisionRange(_File):
    """``{format, start, stop, step}`` in ``revisions:``: stop inclusive."""

    format: Annotated[Text, AfterValidator(_template)] = "{}"
    start: Annotated[int, _whole(0, 10**12)]
    stop: Annotated[int, _whole(0, 10**12)]
    step: Annotated[int, _whole(1, 10**12)] = 1


def _revision_name(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        raise ValueError("a revision name, or {format, start, stop, step} (stop inclusive)")
    return str(value)


def _no_comma(value: str) -> str:
    if "," in value:
        raise ValueError("a value without commas (the harness splits model_args on commas)")
    return value


Revision = Annotated[
    Annotated[RevisionRange, Tag("range")]
    | Annotated[
        Annotated[str, BeforeValidator(_revision_name), AfterValidator(check_text), AfterValidator(_no_comma)],
        Tag("name"),
    ],
    Discriminator(lambda v: "range" if isinstance(v, Mapping) else "name"),
]


def _model_args(value: Any) -> Any:
    """``"k=v,k=v"`` into a mapping (duplicates refused); a mapping as it is."""
    if not isinstance(value, str):
        return value
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        key, eq, val = part.partition("=")
        if not eq or key.strip() in out:
            raise ValueError("'key=value,key=value' (each key once) or a mapping")
        out[key.strip()] = val.strip()
    return out


def _arg_name(key: str) -> str:
    if key in RESERVED_MODEL_ARGS:
        raise ValueError(f"a model argument the sweep does not set itself (use {RESERVED_MODEL_ARGS[key]!r})")
    if "=" in key or "," in key:
        raise ValueError("a model argument name without '=' or ','")
    return key


class ModelFile(_File):
    """One entry of ``models:``; ``harness``, ``parallel`` and ``resources`` override the top level key by key."""

    name: Text | None = None
    path: Text | None = None
    model_args: (
        Annotated[
            dict[Annotated[Text, AfterValidator(_arg_name)], Annotated[ScalarText, AfterValidator(_no_comma)]],
            BeforeValidator(_model_args),
        ]
        | None
    ) = None
    revisions: Annotated[list[Revision], BeforeValidator(lambda v: v if isinstance(v, list) else [v])] | None = None
    params: Annotated[int, _whole(1, 10**15), BeforeValidator(_integral)] | None = (
        None  # before-validators run last first
    )
    folder: (
        Annotated[Text, _matching(r"[^./\\][^/\\]*", "a plain folder name (no '/', not starting with '.')")] | None
    ) = None
    harness: HarnessFile | None = None
    parallel: ParallelFile | None = None
    resources: ResourcesFile | None = None


def _nonempty_list(value: list) -> list:
    if not value:
        raise ValueError("a non-empty list")
    return value


class SweepFile(_File):
    """The whole sweep file; ``output``, ``tasks`` and ``models`` are required."""

    name: Text | None = None
    output: Text
    tasks: Annotated[TextList, AfterValidator(_nonempty_list)]
    include_path: Text | None = None
    models: Annotated[list[ModelFile], AfterValidator(_nonempty_list)]
    harness: HarnessFile | None = None
    parallel: ParallelFile | None = None
    resources: ResourcesFile | None = None
    retries: Annotated[int, _whole(0, 100)] = 1
    env: (
        dict[
            Annotated[
                str, _matching(r"[A-Za-z_][A-Za-z0-9_]*", "an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
            ],
            ScalarText,
        ]
        | None
    ) = None
    setup: TextList | None = None
    python: Text | None = None


# --- one line per error --------------------------------------------------------------------------------------

#: pydantic's own error types, as "expected ..." phrases (our validators raise the phrase itself)
_ACCEPTED = {
    "missing": "a value (required)",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "int_type": "a whole number",
    "float_type": "a number",
}


def _keys_only(loc: tuple) -> tuple:
    """``loc`` without pydantic's ``[key]`` marker and the union tags of ``revisions`` items."""
    out: list = []
    for part in loc:
        tag = part in ("range", "name") and len(out) >= 2 and isinstance(out[-1], int) and out[-2] == "revisions"
        if part != "[key]" and not tag:
            out.append(part)
    return tuple(out)


def _path(loc: tuple) -> str:
    """``('models', 2, 'revisions', 0)`` -> ``models[2].revisions[0]``; odd keys quoted (the line stays one line)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and re.fullmatch(r"[A-Za-z0-9_.:@+-]+", part):
            out += f".{part}" if out else part
        else:
            out += f"[{show_value(part)}]"
    return out


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The schema class that holds the key ``loc[-1]`` (for the list of keys it accepts)."""
    cls: Any = SweepFile
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        cls = None if field is None else _first_model(field.annotation)
        if cls is None:
            return None
    return cls


def _first_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _first_model(arg)
        if found is not None:
            return found
    return None


def describe(exc: ValidationError) -> str:
    """The first error of ``exc`` as ``key.path: expected ..., got ...`` (plus how many more there are)."""
    errors = exc.errors(include_url=False)
    err = errors[0]
    loc = _keys_only(tuple(err["loc"]))
    kind = err["type"]
    if kind == "value_error":
        accepted = str(err["ctx"]["error"])
    elif kind == "extra_forbidden":
        holder = _model_at(loc)
        accepted = "one of the keys " + ", ".join(holder.model_fields) if holder else "a known key"
        err = {**err, "input": loc[-1]}
    else:
        accepted = _ACCEPTED.get(kind, err["msg"][0].lower() + err["msg"][1:])
    got = "nothing" if kind == "missing" or err.get("input") is None else show_value(err["input"])
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{_path(loc) or 'the file'}: expected {accepted}, got {got}{more}"
