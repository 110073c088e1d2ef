"""The one place that knows how lm-evaluation-harness lays out its output files, and how to read them.

The harness (``lm_eval.loggers.EvaluationTracker``) writes ``OUTPUT/<model_name_sanitized>/results_<ts>.json``
and, with ``--log_samples``, ``samples_<task>_<ts>.jsonl`` beside it (``<ts>`` is
``datetime.now().isoformat()`` with ``:`` replaced by ``-``). With an ``--output_path`` ending in ``.json`` the
results file is ``<stem>_<ts>.json`` instead, and files copied by hand carry any name (EleutherAI's published
Pythia results are ``160m_step143000.json``), so a results file is recognised BY CONTENT: a JSON object whose
``results`` maps task names to objects of metrics, with a ``versions``, ``config`` or ``configs`` object beside.
Two layouts are read:

* today's (0.4): ``configs``, ``n-shot``, ``higher_is_better``, ``n-samples``, ``model_name``, ``date`` and
  ``"metric,filter"`` keys;
* the 2023 layout (0.3): only ``results`` (``acc``, ``acc_stderr``... without a filter), ``versions`` and
  ``config`` (``model: hf-causal``, ``model_args`` a string, ``num_fewshot`` for the whole run).

``lm-eval-mirage rescore`` writes ``results_<ts>.rescored.json`` (a copy with metrics added) and
``samples_<task>_<ts>.rescored.jsonl``: the same run, not another one. File names, timestamps and model folder
names follow ``lm_eval.utils`` (``get_file_datetime``, ``sanitize_model_name``, ``simple_parse_args_string``),
so they change when the harness does. Task names read from files are data: :func:`samples_path` refuses one
that would name a file outside the run's folder.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "RESCORED_SUFFIX",
    "NotResultsFileError",
    "UnsafeTaskNameError",
    "ResultsFile",
    "date_id",
    "is_rescored",
    "results_file_name",
    "rescored_results_path",
    "samples_file_name",
    "samples_file_task",
    "samples_path",
    "find_samples_file",
    "check_task_name",
    "model_folder_name",
    "parse_model_args",
    "looks_like_results",
    "read_results_file",
    "scan_results",
    "find_results_files",
]

#: Inserted before ``.json``/``.jsonl`` in the names of the files ``rescore`` writes.
RESCORED_SUFFIX = ".rescored"
Layout = Literal["0.4", "2023"]


class NotResultsFileError(ValueError):
    """A file is not a harness results file: ``path``, and ``reason`` (the message is ``"path: reason"``)."""

    def __init__(self, path: str | os.PathLike, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = Path(path), reason


class UnsafeTaskNameError(ValueError):
    """A task name read from a file would make a path outside the run's folder."""


def _strip_suffixes(name: str) -> str:
    for ext in (".jsonl", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return name[: -len(RESCORED_SUFFIX)] if name.endswith(RESCORED_SUFFIX) else name


def is_rescored(path: str | os.PathLike) -> bool:
    """True for the files ``rescore`` writes (``*.rescored.json``, ``*.rescored.jsonl``).

    Example:
        >>> is_rescored("m/results_2024-05-01T10-00-00.0.rescored.json"), is_rescored("results_x.json")
        (True, False)
    """
    name = Path(path).name
    return name.endswith(RESCORED_SUFFIX + ".json") or name.endswith(RESCORED_SUFFIX + ".jsonl")


def date_id(path: str | os.PathLike) -> str:
    """The timestamp of a results or samples file name (``lm_eval.utils.get_file_datetime``), ``.rescored`` and
    the extension left out: the key that ties a results file to its samples files.

    Example:
        >>> date_id("results_2024-05-01T10-00-00.5.json"), date_id("results_2024-05-01T10-00-00.5.rescored.json")
        ('2024-05-01T10-00-00.5', '2024-05-01T10-00-00.5')
        >>> date_id("samples_add_2d_2024-05-01T10-00-00.5.jsonl"), date_id("160m_step143000.json")
        ('2024-05-01T10-00-00.5', 'step143000')
    """
    from lm_eval.utils import get_file_datetime

    return get_file_datetime(_strip_suffixes(Path(path).name))


def results_file_name(date: str, *, rescored: bool = False) -> str:
    """``results_<ts>.json`` (``results_<ts>.rescored.json`` for ``rescore``'s copy).

    Example:
        >>> results_file_name("2024-05-01T10-00-00.5"), results_file_name("T", rescored=True)
        ('results_2024-05-01T10-00-00.5.json', 'results_T.rescored.json')
    """
    return f"results_{date}{RESCORED_SUFFIX if rescored else ''}.json"


def rescored_results_path(results_file: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """Where ``rescore`` writes its copy of ``results_file``: the same name with ``.rescored`` before ``.json``,
    in ``folder`` (default: beside the original). It sorts right after the original under the harness's own
    ``get_latest_filename``, and a later real run sorts after both.

    Example:
        >>> rescored_results_path("out/m/160m_step143000.json").as_posix()
        'out/m/160m_step143000.rescored.json'
    """
    original = Path(results_file)
    return (
        Path(folder if folder is not None else original.parent)
        / f"{_strip_suffixes(original.name)}{RESCORED_SUFFIX}.json"
    )


def check_task_name(task: object, source: str | os.PathLike = "") -> str:
    """Return ``task`` if it can be part of a file name in a run folder, else raise.

    Raises:
        UnsafeTaskNameError: not a non-empty string, or it holds a path separator, ``..`` as a whole name,
            a NUL or another control character (the message names ``source`` and the task).

    Example:
        >>> check_task_name("hendrycksTest-abstract_algebra")
        'hendrycksTest-abstract_algebra'
        >>> check_task_name("x/../../escaped", "r.json")
        Traceback (most recent call last):
        ...
        lm_eval_mirage.harness_outputs.UnsafeTaskNameError: r.json: task name 'x/../../escaped' refused: it holds a path separator and would name a file outside the run folder
    """
    where = f"{source}: " if str(source) else ""
    if not isinstance(task, str) or not task:
        raise UnsafeTaskNameError(f"{where}task name {task!r} refused: not a non-empty string")
    if "/" in task or "\\" in task or (os.altsep and os.altsep in task):
        reason = "it holds a path separator"
    elif task in (".", ".."):
        reason = "it is a relative folder name"
    elif any(ord(ch) < 32 or ord(ch) == 127 for ch in task):
        reason = "it holds a NUL or control character"
    else:
        return task
    raise UnsafeTaskNameError(
        f"{where}task name {task!r} refused: {reason} and would name a file outside the run folder"
    )


def samples_file_name(task: str, date: str, *, rescored: bool = False) -> str:
    """``samples_<task>_<ts>.jsonl`` (``.rescored.jsonl`` for ``rescore``'s per-sample values); checks ``task``.

    Example:
        >>> samples_file_name("mirage_arith_add_2d", "T"), samples_file_name("t", "T", rescored=True)
        ('samples_mirage_arith_add_2d_T.jsonl', 'samples_t_T.rescored.jsonl')
    """
    return f"samples_{check_task_name(task)}_{date}{RESCORED_SUFFIX if rescored else ''}.jsonl"


def samples_file_task(path: str | os.PathLike) -> str | None:
    """The task of a samples file name (``lm_eval.utils.get_file_task_name``), or None for other names.

    Example:
        >>> samples_file_task("samples_mirage_arith_add_2d_2024-05-01T10-00-00.5.rescored.jsonl")
        'mirage_arith_add_2d'
        >>> samples_file_task("results_2024.json") is None
        True
    """
    from lm_eval.utils import get_file_task_name

    name = Path(path).name
    if not (name.startswith("samples_") and name.endswith(".jsonl")):
        return None
    return get_file_task_name(_strip_suffixes(name)) or None


def samples_path(
    folder: str | os.PathLike, task: str, date: str, *, rescored: bool = False, source: str | os.PathLike = ""
) -> Path:
    """The samples file of ``task`` for the run ``date`` in ``folder``; never a path outside ``folder``.

    Raises:
        UnsafeTaskNameError: ``task`` would leave the folder (the message names ``source``, the file it came from).
    """
    folder = Path(folder)
    try:
        name = samples_file_name(task, date, rescored=rescored)
    except UnsafeTaskNameError as exc:
        raise UnsafeTaskNameError(f"{source}: {exc}" if str(source) else str(exc)) from None
    path = folder / name
    if path.parent != folder or os.path.dirname(os.path.normpath(path)) != os.path.normpath(folder):
        raise UnsafeTaskNameError(f"{source}: task name {task!r} refused: it would name a file outside {folder}")
    return path


def find_samples_file(run: ResultsFile, task: str, folders: Iterable[str | os.PathLike] = ()) -> Path | None:
    """The samples file that holds ``task``'s per-problem values for ``run``, or None.

    Looked up in the run's folder, then in ``folders`` (the folders of the originals of a ``.rescored`` copy):
    ``samples_<task>_<ts>.rescored.jsonl`` first (the original lines plus the metrics ``rescore`` added), then
    ``samples_<task>_<ts>.jsonl``. The date is the results file's, without ``.rescored``.

    Raises:
        UnsafeTaskNameError: ``task`` would leave the folder.
    """
    for folder in dict.fromkeys([run.path.parent, *map(Path, folders)]):
        for rescored in (True, False):
            candidate = samples_path(folder, task, run.date_id, rescored=rescored, source=run.path)
            if os.path.isfile(candidate):  # False, not OSError, for a name too long to exist (ENAMETOOLONG)
                return candidate
    return None


def model_folder_name(model_name: str) -> str:
    """The harness's folder name for a model (``lm_eval.utils.sanitize_model_name``).

    Example:
        >>> model_folder_name("EleutherAI/pythia-70m")
        'EleutherAI__pythia-70m'
    """
    from lm_eval.utils import sanitize_model_name

    return sanitize_model_name(model_name)


def parse_model_args(value: str | Mapping | None) -> dict[str, Any]:
    """``model_args`` as a dict: old files store the command-line string, new ones the parsed dict.

    Strings go through ``lm_eval.utils.simple_parse_args_string`` (values typed as the harness types them);
    ``pretrained``, ``revision`` and ``model`` stay strings, and parts without ``=`` are left out.

    Example:
        >>> parse_model_args("pretrained=EleutherAI/pythia-v1.1-160m,revision=step143000")
        {'pretrained': 'EleutherAI/pythia-v1.1-160m', 'revision': 'step143000'}
        >>> parse_model_args({"pretrained": "gpt2"}), parse_model_args(None)
        ({'pretrained': 'gpt2'}, {})
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    from lm_eval.utils import simple_parse_args_string

    parts = [part for part in str(value).split(",") if "=" in part]
    parsed = {k.strip(): v for k, v in simple_parse_args_string(",".join(parts)).items()}
    for part in parts:  # names and checkpoints as written ("revision=0100" is not the number 100)
        key, _, text = part.partition("=")
        if key.strip() in ("pretrained", "revision", "model"):
            parsed[key.strip()] = text.strip()
    return parsed


def looks_like_results(data: object) -> bool:
    """True for a harness results file's content: ``results`` maps tasks to objects, with a ``versions``,
    ``config`` or ``configs`` object beside it (both layouts).

    Example:
        >>> looks_like_results({"results": {"piqa": {"acc": 0.6}}, "versions": {"piqa": 0}, "config": {}})
        True
        >>> looks_like_results({"results": [1, 2]}), looks_like_results({"m": {"params": 3}})
        (False, False)
    """
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        return False
    if not all(isinstance(v, dict) for v in data["results"].values()):
        return False
    return any(isinstance(data.get(k), dict) for k in ("versions", "config", "configs"))


@dataclass(frozen=True)
class ResultsFile:
    """One harness results file, read.

    Attributes:
        path: the file.
        data: its JSON object.
        layout: ``"0.4"`` (``configs`` present) or ``"2023"`` (``config.model_args`` string era, no ``configs``).
        model_name: ``model_name``, else ``model_args`` ``pretrained``/``model``, else the folder name.
        model_args: :func:`parse_model_args` of ``config.model_args``.
        revision: the checkpoint (``revision`` or ``config.model_revision``; ``main`` counts as none).
        date_id: the file-name timestamp (:func:`date_id`), shared with its samples files.
        date: ``date`` of the file (seconds), else the file's modification time.
        rescored: written by ``rescore`` (``.rescored`` name or a ``rescore`` block).
    """

    path: Path
    data: dict
    layout: Layout
    model_name: str
    model_args: dict
    revision: str | None
    date_id: str
    date: float
    rescored: bool

    @property
    def tasks(self) -> list[str]:
        return list(self.data["results"])

    @property
    def label(self) -> str:
        """``model_name`` with ``@revision`` when there is one."""
        return self.model_name + (f"@{self.revision}" if self.revision else "")

    def num_fewshot(self, task: str) -> int | None:
        """Few-shot examples of ``task``: ``n-shot[task]`` (0.4), else ``config.num_fewshot``; None if unknown."""
        n_shot = self.data.get("n-shot")
        value = n_shot.get(task) if isinstance(n_shot, dict) else None
        if value is None:
            value = (self.data.get("config") or {}).get("num_fewshot")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            return None
        return int(value)

    def num_problems(self, task: str) -> int | None:
        """Problems scored for ``task``: ``n-samples[task].effective``, else ``sample_len``; None if unknown."""
        info = (self.data.get("n-samples") or {}).get(task)
        value = info.get("effective") if isinstance(info, dict) else None
        if value is None:
            value = (self.data["results"].get(task) or {}).get("sample_len")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return None
        return value


def read_results_file(path: str | os.PathLike) -> ResultsFile:
    """Read a results file of either layout, whatever its name.

    Raises:
        NotResultsFileError: unreadable, not JSON (too deeply nested included), or not a results file's
            content; the message names the file.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise NotResultsFileError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise NotResultsFileError(path, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise NotResultsFileError(path, "JSON nested too deeply to read") from None
    except OSError as exc:
        raise NotResultsFileError(path, f"cannot read ({exc.strerror or exc})") from None
    if not looks_like_results(data):
        raise NotResultsFileError(path, _NOT_RESULTS)
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    model_args = parse_model_args(
        config.get("model_args") if isinstance(config.get("model_args"), (str, Mapping)) else None
    )
    name = data.get("model_name") or model_args.get("pretrained") or model_args.get("model") or path.parent.name
    revision = model_args.get("revision") or config.get("model_revision")
    revision = None if revision in (None, "", "main") else str(revision)
    date = data.get("date")
    date = (
        float(date)
        if isinstance(date, (int, float)) and not isinstance(date, bool) and math.isfinite(date)
        else path.stat().st_mtime
    )
    return ResultsFile(
        path=path,
        data=data,
        layout="0.4" if isinstance(data.get("configs"), dict) else "2023",
        model_name=str(name),
        model_args=model_args,
        revision=revision,
        date_id=date_id(path),
        date=date,
        rescored=is_rescored(path) or isinstance(data.get("rescore"), dict),
    )


_NOT_RESULTS = "not an lm-eval results file (no 'results' object of tasks beside 'versions'/'config')"


def _json_files(root: Path, notes: list[NotResultsFileError]) -> list[Path]:
    """Every ``*.json`` file below ``root`` outside dot-folders, sorted; folders that are symbolic links are
    followed (a family assembled from links is the user's own layout), each real folder once (no loop), with
    an explicit stack (no recursion limit, however deep). A folder that cannot be listed is a note."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            entries = list(os.scandir(folder))
        except OSError as exc:
            notes.append(NotResultsFileError(folder, f"folder cannot be read ({exc.strerror or exc})"))
            continue
        for entry in entries:
            if entry.name.startswith("."):  # tools' bookkeeping (a sweep's .sweep/, temporary files), never results
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    stack.append(Path(entry.path))
                elif entry.name.endswith(".json") and entry.is_file(follow_symlinks=True):
                    found.append(Path(entry.path))
            except OSError:  # a dangling link or a name too long: nothing to read
                continue
    return sorted(found)


def scan_results(
    paths: Iterable[str | os.PathLike], *, rescored: bool = True
) -> tuple[list[ResultsFile], list[NotResultsFileError]]:
    """Read every results file among ``paths``: files as given, folders searched recursively for ``*.json``
    (dot-folders and dot-files skipped) and kept by content.

    Args:
        rescored: also return the files ``rescore`` wrote.

    Returns:
        The results files (sorted by path within each folder, duplicates once) and the ``*.json`` files in the
        folders that could not be read (valid JSON of another kind, e.g. a model's ``config.json``, passes
        silently).

    Raises:
        FileNotFoundError: a path does not exist.
        NotResultsFileError: a file given explicitly is not a results file.
    """
    found: dict[Path, ResultsFile] = {}
    notes: list[NotResultsFileError] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in _json_files(p, notes):
                if f in found:
                    continue
                try:
                    run = read_results_file(f)
                except NotResultsFileError as exc:
                    if exc.reason != _NOT_RESULTS:
                        notes.append(exc)
                    continue
                if rescored or not run.rescored:
                    found[f] = run
        elif p.is_file():
            if p not in found:
                run = read_results_file(p)
                if rescored or not run.rescored:
                    found[p] = run
        else:
            raise FileNotFoundError(f"results path {str(p)!r} does not exist")
    return list(found.values()), notes


def find_results_files(paths: str | os.PathLike | Iterable[str | os.PathLike], *, rescored: bool = False) -> list[Path]:
    """The harness's results files among ``paths`` (see :func:`scan_results`), by content, whatever their
    names; the copies ``rescore`` wrote only with ``rescored=True``."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    return [run.path for run in scan_results(paths, rescored=rescored)[0]]
