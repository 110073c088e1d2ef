"""Read a folder of lm-evaluation-harness outputs into the tidy table (and per-problem samples).

The harness writes ``OUTPUT/<model_name_sanitized>/results_<date>.json`` and, with ``--log_samples``,
``samples_<task>_<date>.jsonl`` beside it. :func:`load` finds every results file under the given paths, places
each model on the scale axis (parameters, training step or FLOPs), keeps the latest run when a model was run
twice on a task, and, where samples files exist, splits every metric by the number of digits of the answer
(the paper's Fig. 3/4). It never loads a model: sizes come from ``params=``, the built-in table
(:mod:`lm_eval_mirage.analysis.families`), the count the harness recorded in the results file, or the
``safetensors`` header of a local model folder; a model whose size is found nowhere is reported, not guessed.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd

from lm_eval_mirage.analysis.families import lookup_model, parse_size
from lm_eval_mirage.analysis.table import SAMPLE_COLUMNS, metric_higher_is_better, tidy

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
        table: the tidy table (:data:`~lm_eval_mirage.analysis.table.TABLE_COLUMNS`).
        samples: per-problem values (:data:`~lm_eval_mirage.analysis.table.SAMPLE_COLUMNS`); empty without samples files.
        models: one row per model: model, model_name, revision, family, series, params, params_source, step,
            tokens, flops, x, lm_eval_version, source.
        messages: what a reader must know (unknown sizes, duplicate runs, differing harness versions...).
    """

    table: pd.DataFrame
    samples: pd.DataFrame
    models: pd.DataFrame
    messages: list[str] = field(default_factory=list)


@dataclass
class _Run:
    path: Path
    date_id: str
    date: float
    data: dict
    model_name: str
    model_args: dict
    revision: str | None
    label: str


def parse_model_args(value: str | Mapping | None) -> dict:
    """``model_args`` as a dict, whether the results file stored the string or the parsed form.

    Example:
        >>> parse_model_args("pretrained=EleutherAI/pythia-160m,revision=step1000")
        {'pretrained': 'EleutherAI/pythia-160m', 'revision': 'step1000'}
        >>> parse_model_args({"pretrained": "gpt2"})
        {'pretrained': 'gpt2'}
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    out = {}
    for part in str(value).split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k.strip()] = v.strip()
    return out


def params_from_folder(folder: str | os.PathLike) -> int | None:
    """Count parameters of a local Hugging Face model folder from its ``safetensors`` headers (no weights read).

    Reads ``model.safetensors`` or every shard named by ``model.safetensors.index.json``. Returns ``None`` when
    the folder has neither (the header is 8 bytes of length plus JSON: shapes and offsets).
    """
    root = Path(folder)
    if not root.is_dir():
        return None
    index = root / "model.safetensors.index.json"
    if index.is_file():
        files = sorted({root / f for f in json.loads(index.read_text())["weight_map"].values()})
    elif (root / "model.safetensors").is_file():
        files = [root / "model.safetensors"]
    else:
        return None
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(size))
        total += sum(math.prod(v["shape"]) for k, v in header.items() if k != "__metadata__")
    return total


def find_results_files(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Results files among ``paths``: files as given, folders searched recursively for ``results*.json``.

    Raises:
        FileNotFoundError: a path does not exist.
        ValueError: nothing was found.
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            # Dot-folders hold tools' bookkeeping (a sweep's .sweep/ staging area), never results to analyse.
            found.extend(sorted(f for f in p.rglob("results*.json") if not any(part.startswith(".") for part in f.relative_to(p).parts)))
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"results path {str(p)!r} does not exist")
    if not found:
        raise ValueError(
            f"no results*.json files under {[str(p) for p in paths]}; point at lm_eval --output_path folders"
        )
    return list(dict.fromkeys(found))


def _read_run(path: Path) -> _Run:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise ValueError(f"{path}: not an lm-eval results file (no 'results' object)")
    config = data.get("config") or {}
    model_args = parse_model_args(config.get("model_args"))
    model_name = data.get("model_name") or model_args.get("pretrained") or model_args.get("model") or path.parent.name
    revision = model_args.get("revision") or config.get("model_revision")
    revision = None if revision in (None, "", "main") else str(revision)
    date_id = path.stem[len("results_") :] if path.stem.startswith("results_") else path.stem
    date = data.get("date")
    date = float(date) if isinstance(date, (int, float)) else path.stat().st_mtime
    label = str(model_name) + (f"@{revision}" if revision else "")
    return _Run(path, date_id, date, data, str(model_name), model_args, revision, label)


def _number(value) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _result_rows(run: _Run, task: str) -> list[dict]:
    res = run.data["results"][task]
    hib = (run.data.get("higher_is_better") or {}).get(task) or {}
    n_info = (run.data.get("n-samples") or {}).get(task) or {}
    n = _number(n_info.get("effective", res.get("sample_len", math.nan)))
    version = (run.data.get("versions") or {}).get(task, "")
    rows = []
    for key, value in res.items():
        if key in _SKIP_KEYS or "_stderr" in key.split(",", 1)[0]:
            continue
        metric, _, filt = key.partition(",")
        if isinstance(value, (dict, list)) or (not filt and isinstance(value, str) and math.isnan(_number(value))):
            continue  # a label, not a metric ("metric,filter" keys are metrics even when the value is "N/A")
        stderr_key = f"{metric}_stderr,{filt}" if filt else f"{metric}_stderr"
        rows.append(
            {
                "task": task, "metric": metric, "filter": filt or "none", "split": "all", "target_digits": math.nan,
                "value": _number(value), "stderr": _number(res.get(stderr_key, math.nan)), "n": n,
                "higher_is_better": bool(hib[metric]) if metric in hib else metric_higher_is_better(metric),
                "task_version": str(version), "source": str(run.path),
            }
        )  # fmt: skip
    return rows


def _target_digits(line: dict) -> float:
    doc = line.get("doc") if isinstance(line.get("doc"), dict) else {}
    if "answer_digits" in doc:
        return _number(doc["answer_digits"])
    m = re.fullmatch(r"\s*-?(\d+)\s*", str(line.get("target", "")))
    return float(len(m.group(1))) if m else math.nan


def _read_samples(path: Path, run: _Run, task: str, metrics: set[str]) -> list[dict]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, text in enumerate(fh, 1):
            if not text.strip():
                continue
            try:
                line = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc})") from None
            digits = _target_digits(line)
            for metric in metrics & line.keys():
                value = line[metric]
                if isinstance(value, (bool, int, float)) or value is None:
                    out.append(
                        {"model": run.label, "task": task, "metric": metric, "filter": str(line.get("filter", "none")),
                         "doc_id": line.get("doc_id", lineno - 1), "target_digits": digits, "value": _number(value)}
                    )  # fmt: skip
    return out


def _split_rows(samples: pd.DataFrame, template: dict[tuple[str, str], dict]) -> list[dict]:
    """Mean, standard error and count of each metric per number of answer digits."""
    rows = []
    known = samples[samples["target_digits"].notna()]
    for (metric, filt, digits), g in known.groupby(["metric", "filter", "target_digits"]):
        base = template.get((metric, filt))
        if base is None:
            continue
        values = g["value"].dropna()
        n = len(values)
        stderr = float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        rows.append({**base, "split": f"digits={int(digits)}", "target_digits": float(digits),
                     "value": float(values.mean()) if n else math.nan, "stderr": stderr, "n": float(n)})  # fmt: skip
    return rows


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
        for key, entry in (data.items() if isinstance(data, dict) else ()):
            if isinstance(entry, dict) and isinstance(entry.get("params"), (int, float)) and entry["params"] > 0:
                out[str(key)] = float(entry["params"])
    return out


def _lookup(mapping: Mapping[str, object] | None, run: _Run) -> tuple[object, str | None]:
    """Value for a model from a user mapping, matched by label, model name, folder name or base name."""
    if not mapping:
        return None, None
    keys = [run.label, run.model_name, run.path.parent.name, run.model_name.rstrip("/").rsplit("/", 1)[-1]]
    for k in keys:
        if k in mapping:
            return mapping[k], k
    return None, None


def load(
    paths: Iterable[str | os.PathLike],
    *,
    params: Mapping[str, float | str] | None = None,
    steps: Mapping[str, int] | None = None,
    tokens: Mapping[str, float | str] | None = None,
    families: Mapping[str, str] | str | None = None,
    x: XAxis = "params",
    samples: bool = True,
    progress: bool = True,
) -> Collection:
    """Collect harness results (and samples) of several models into a :class:`Collection`.

    Args:
        paths: results files or folders (searched recursively for ``results*.json``).
        params: model -> number of parameters (``160m``, ``1.4b``, ``7e9`` accepted); keys match the model name
            (hub id or path), ``name@revision``, the output folder name or the last path component.
        steps: model -> training step, for checkpoints not named ``revision=stepN``.
        tokens: model -> training tokens, for ``x="flops"`` (FLOPs = 6 * params * tokens).
        families: model -> family (one curve per family), or one family name for every model.
        x: the scale axis: ``"params"``, ``"steps"`` (one curve per model across checkpoints) or ``"flops"``.
        samples: read ``samples_*.jsonl`` files beside each results file (split by answer digits, bootstrap).
        progress: show a progress bar while reading files.

    Raises:
        FileNotFoundError, ValueError: a path is missing, a file is not a results file, a line is not JSON,
        or ``x`` is not one of the accepted values.
    """
    if x not in ("params", "steps", "flops"):
        raise ValueError(f"x={x!r}: accepted values are 'params', 'steps', 'flops'")
    from tqdm.auto import tqdm

    paths = list(paths)
    files = find_results_files(paths)
    recorded = sweep_params(paths)
    messages: list[str] = []
    runs = [
        _read_run(p) for p in tqdm(files, desc="reading results", unit="file", disable=not progress or len(files) < 20)
    ]

    # Latest run wins for each (model, task); the others are named so that nothing is dropped silently.
    owner: dict[tuple[str, str], _Run] = {}
    seen: dict[tuple[str, str], list[_Run]] = {}
    for run in runs:
        for task in run.data["results"]:
            seen.setdefault((run.label, task), []).append(run)
    for key, candidates in seen.items():
        candidates.sort(key=lambda r: (r.date, str(r.path)))
        owner[key] = candidates[-1]
        if len(candidates) > 1:
            older = ", ".join(str(r.path) for r in candidates[:-1])
            messages.append(
                f"duplicate runs of {key[0]} on {key[1]}: using the latest ({candidates[-1].path}); ignored {older}"
            )

    model_rows: dict[str, dict] = {}
    used_keys: dict[str, set] = {"params": set(), "steps": set(), "tokens": set(), "families": set()}
    for run in {id(r): r for r in owner.values()}.values():
        if run.label in model_rows:
            continue
        known = lookup_model(run.model_name)
        given, key = _lookup(params, run)
        if given is not None:
            n_params, source = parse_size(str(given)), "given"
            used_keys["params"].add(key)
        elif (swept := _lookup(recorded, run)[0]) is not None:
            n_params, source = float(swept), "sweep params.json"
        elif known is not None:
            n_params, source = float(known.params), f"table ({'exact' if known.exact else 'nominal'})"
        elif (
            isinstance((run.data.get("config") or {}).get("model_num_parameters"), (int, float))
            and run.data["config"]["model_num_parameters"] > 0
        ):
            n_params, source = float(run.data["config"]["model_num_parameters"]), "results file"
        elif (counted := params_from_folder(run.model_args.get("pretrained", run.model_name))) is not None:
            n_params, source = float(counted), "local folder"
        else:
            n_params, source = math.nan, "unknown"
        step_given, key = _lookup(steps, run)
        if step_given is not None:
            used_keys["steps"].add(key)
            step = float(step_given)
        elif run.revision and (m := re.fullmatch(r"step(\d+)", run.revision)):
            step = float(m.group(1))
        else:
            step = math.nan
        tok_given, key = _lookup(tokens, run)
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
            fam_given, key = _lookup(families, run)
            if fam_given is not None:
                used_keys["families"].add(key)
            family = str(fam_given) if fam_given is not None else (known.family if known else DEFAULT_FAMILY)
        flops = 6.0 * n_params * n_tokens
        x_value = {"params": n_params, "steps": step, "flops": flops}[x]
        if x == "steps":
            series = run.model_name
        else:
            series = family + (f"@{run.revision}" if run.revision else "")
        model_rows[run.label] = {
            "model": run.label, "model_name": run.model_name, "revision": run.revision or "", "family": family,
            "series": series, "params": n_params, "params_source": source, "step": step, "tokens": n_tokens,
            "flops": flops, "x": x_value, "lm_eval_version": str(run.data.get("lm_eval_version") or "unknown"),
            "source": str(run.path),
        }  # fmt: skip
        if math.isnan(x_value):
            hint = {"params": f"pass --params {run.model_name}=N", "steps": f"pass --steps {run.label}=STEP",
                    "flops": f"pass --tokens {run.model_name}=D (and --params if unknown)"}[x]  # fmt: skip
            what = {"params": "size", "steps": "training step", "flops": "training compute"}[x]
            messages.append(f"{run.label}: {what} unknown, left out of the curves ({hint})")
    for name, mapping in (("params", params), ("steps", steps), ("tokens", tokens)):
        for k in sorted(set(mapping or {}) - used_keys[name]):
            messages.append(f"--{name} {k}: matches no model in the results")
    if isinstance(families, Mapping):
        for k in sorted(set(families) - used_keys["families"]):
            messages.append(f"--family {k}: matches no model in the results")

    rows: list[dict] = []
    sample_rows: list[dict] = []
    jobs = sorted(owner.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    for (label, task), run in tqdm(jobs, desc="collecting", unit="task", disable=not progress or len(jobs) < 50):
        model = model_rows[label]
        task_rows = _result_rows(run, task)
        if samples:
            sample_file = run.path.parent / f"samples_{task}_{run.date_id}.jsonl"
            if sample_file.is_file():
                found = _read_samples(sample_file, run, task, {r["metric"] for r in task_rows})
                sample_rows.extend(found)
                if found:
                    template = {(r["metric"], r["filter"]): r for r in task_rows}
                    task_rows.extend(_split_rows(pd.DataFrame(found, columns=list(SAMPLE_COLUMNS)), template))
        for r in task_rows:
            r.update({k: model[k] for k in ("model", "family", "series", "params", "params_source", "step", "tokens",
                                            "flops", "x", "lm_eval_version")})  # fmt: skip
        rows.extend(task_rows)

    versions = sorted({m["lm_eval_version"] for m in model_rows.values()})
    if len(versions) > 1:
        messages.append(f"results come from different harness versions ({', '.join(versions)}): check that the "
                        "task versions match before comparing models")  # fmt: skip
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
    samples_df = pd.DataFrame(sample_rows, columns=list(SAMPLE_COLUMNS))
    for col in ("model", "task", "metric", "filter"):
        samples_df[col] = samples_df[col].astype("category")
    models_df = pd.DataFrame(list(model_rows.values())).sort_values(
        ["family", "x", "step", "model"], na_position="last"
    )
    return Collection(table, samples_df, models_df.reset_index(drop=True), messages)


def collect(paths: Iterable[str | os.PathLike], **kwargs) -> pd.DataFrame:
    """The tidy table of :func:`load` (same arguments); its messages are in ``table.attrs["messages"]``."""
    found = load(paths, **kwargs)
    found.table.attrs["messages"] = list(found.messages)
    return found.table
