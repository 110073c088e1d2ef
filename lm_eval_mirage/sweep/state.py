"""The sweep's state folder (``OUTPUT/.sweep/``) and ``params.json``, read back as hostile input.

The sweep reads its own files back on every run (which tasks are done, what a cut commit left, which jobs
are queued), and anything may have changed them since: a crash of the disk, a hand edit, a copy from
elsewhere, someone who wants the sweep to delete or move files outside its folder. So every file and
every value read from there passes through this module before it is used:

- one JSON reader, :func:`read_state_file`: a regular file (not a folder, a FIFO, or a symbolic link),
  at most :data:`MAX_STATE_BYTES`, valid UTF-8 JSON nested no deeper than Python reads;
- one containment check, :meth:`SweepPaths.checked`: a path under the output folder with no symbolic
  link on the way, and :func:`listed_file` for the file paths that records list (``FOLDER/NAME``, a plain
  model folder and a plain file name: no absolute path, no ``..``);
- the exact format of a configuration hash, :data:`HASH_PATTERN` (it names files and folders);
- a check of each record: a manifest (:func:`read_manifest_file`), a commit journal (:func:`read_journal`),
  the job states of ``state.json`` (:func:`read_job_states`).

What fails is refused with :class:`StateFileError`, one line naming the file and the key, and never acted
on. No import beyond the standard library and :mod:`lm_eval_mirage._io`: job steps use this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from lm_eval_mirage._io import InputFileError, read_json_file
from lm_eval_mirage.sweep.text import printable, show_value

__all__ = [
    "BOOK",
    "EXECUTORS",
    "HASH_LENGTH",
    "HASH_PATTERN",
    "JOB_FIELDS",
    "JOB_RESULTS",
    "MAX_STATE_BYTES",
    "StateFileError",
    "SweepPaths",
    "is_config_hash",
    "is_plain_folder",
    "listed_file",
    "read_job_states",
    "read_journal",
    "read_manifest_file",
    "read_state_file",
]

BOOK = ".sweep"
#: hex digits of SHA-256 in a configuration hash (see lm_eval_mirage.sweep.plan.config_hash)
HASH_LENGTH = 16
HASH_PATTERN = re.compile(f"[0-9a-f]{{{HASH_LENGTH}}}")
#: the largest state file read (state.json of a sweep of 10,000 jobs is a few megabytes)
MAX_STATE_BYTES = 64 << 20
#: a Slurm job id (``123``, array task ``123_4``) or a local job's process id
JOB_ID_PATTERN = re.compile(r"[0-9]{1,20}(?:_[0-9]{1,10})?")
#: what a job record's ``result`` may say
JOB_RESULTS = (
    "waiting",
    "not submitted",
    "submitted",
    "running",
    "done",
    "already done",
    "failed",
    "cancelled",
    "interrupted",
)
#: where jobs run (``--executor``)
EXECUTORS = ("slurm", "local")


class StateFileError(ValueError):
    """A file of the state folder that the sweep did not write as it is (damaged, of the wrong form, or naming
    a path outside the output folder); the message is one line, ``FILE: key: expected ..., got ...``."""


def is_config_hash(text: object) -> bool:
    """Whether ``text`` is a configuration hash: exactly 16 lowercase hex digits.

    Example:
        >>> [is_config_hash(h) for h in ("10d26993415eda44", "../../escaped-dir", "10D26993415EDA44", "abc")]
        [True, False, False, False]
    """
    return isinstance(text, str) and HASH_PATTERN.fullmatch(text) is not None


def is_plain_folder(name: object) -> bool:
    """Whether ``name`` is one folder name that stays inside its parent and is not hidden (``.sweep``).

    Example:
        >>> [is_plain_folder(n) for n in ("EleutherAI__pythia-70m@step1", "..", ".", ".sweep", "a/b", "")]
        [True, False, False, False, False, False]
    """
    return isinstance(name, str) and bool(name) and not name.startswith(".") and not any(c in name for c in "/\\\0")


def _refuse(
    source: Path | str, key: str, accepted: str, value: Any = None, *, got: str | None = None
) -> StateFileError:
    return StateFileError(f"{source}: {key}: expected {accepted}, got {got or show_value(value)}")


def _a(value: Any) -> str:
    """``a list``, ``a str``: what a JSON value of the wrong type is, for a message."""
    return f"a {type(value).__name__}" if value is not None else "null"


@dataclass(frozen=True)
class SweepPaths:
    """Where everything lives under a sweep's output folder; every path it gives is :meth:`checked`."""

    root: Path

    @cached_property
    def _real_root(self) -> Path:
        return Path(self.root).resolve()

    def checked(self, path: Path) -> Path:
        """``path`` (a path under ``root``) when no symbolic link stands between the output folder and it.

        Raises:
            StateFileError: a link on the way (``.sweep`` linked elsewhere, a model folder or file that
                is a link): writes and moves through it could land outside the output folder.
        """
        rel = Path(path).relative_to(self.root)
        try:
            real = Path(path).resolve()
        except (OSError, RuntimeError):  # a loop of links
            real = None
        if real != self._real_root / rel:
            raise StateFileError(
                f"{path}: reached through a symbolic link ({real or 'a loop'}); expected a path inside the output folder {self.root}"
            )
        return Path(path)

    @property
    def book(self) -> Path:
        return self.checked(self.root / BOOK)

    @property
    def done(self) -> Path:
        return self.checked(self.book / "done")

    def manifest(self, hash_: str) -> Path:
        return self.checked(self.done / f"{_hash(hash_)}.json")

    def journal(self, hash_: str) -> Path:
        return self.checked(self.book / "pending" / f"{_hash(hash_)}.json")

    def staging(self, hash_: str) -> Path:
        return self.checked(self.book / "staging" / _hash(hash_))

    def superseded(self, hash_: str) -> Path:
        return self.checked(self.book / "superseded" / _hash(hash_))

    def script(self, key: str) -> Path:
        if not is_plain_folder(key):
            raise StateFileError(f"job folder {show_value(key)} is not a plain folder name; no job script for it")
        return self.checked(self.book / "jobs" / f"{key}.sh")

    @property
    def logs(self) -> Path:
        return self.checked(self.book / "logs")

    @property
    def state(self) -> Path:
        return self.checked(self.book / "state.json")

    @property
    def summary(self) -> Path:
        return self.checked(self.book / "summary.json")

    @property
    def params(self) -> Path:
        return self.checked(self.root / "params.json")


def _hash(hash_: str) -> str:
    if not is_config_hash(hash_):
        raise ValueError(f"{show_value(hash_)} is not a configuration hash ({HASH_LENGTH} lowercase hex digits)")
    return hash_


def read_state_file(path: Path) -> Any:
    """The JSON value of a state file: a regular file, not a link, at most :data:`MAX_STATE_BYTES`.

    Raises:
        FileNotFoundError: no such file (the caller decides what absent means).
        StateFileError: a folder, FIFO or link in its place; truncated, binary, not JSON, too deep, too large.
    """
    try:
        return read_json_file(path, max_bytes=MAX_STATE_BYTES, follow_symlinks=False)
    except InputFileError as exc:
        raise StateFileError(str(exc)) from None


def listed_file(paths: SweepPaths, value: Any, *, folder: str | None, source: Path, key: str) -> Path:
    """The file ``FOLDER/NAME`` that a record lists, as a path under the output folder, checked.

    ``folder``: the record's model folder (``None``: any plain model folder).

    Raises:
        StateFileError: not text, absolute, with ``..``, in another folder than ``folder``, hidden, or
            reached through a symbolic link.
    """
    parts = value.split("/") if isinstance(value, str) else []
    if len(parts) != 2 or parts[0] != (folder or parts[0]) or not all(is_plain_folder(p) for p in parts):
        raise _refuse(source, key, f"a file in the unit's model folder ({folder or 'FOLDER'}/NAME)", value)
    path = paths.root / parts[0] / parts[1]
    try:
        return paths.checked(path)
    except StateFileError:
        raise _refuse(source, key, "a file inside the output folder, not behind a symbolic link", value) from None


def _listed_files(paths: SweepPaths, data: dict, *, folder: str | None, source: Path) -> list[Path]:
    files = data.get("files")
    if not isinstance(files, list):
        raise _refuse(source, "files", "a list of files", files)
    return [listed_file(paths, f, folder=folder, source=source, key=f"files[{i}]") for i, f in enumerate(files)]


def _record(source: Path, data: Any, hash_: str, *, folder_required: bool) -> tuple[dict, str | None]:
    """A manifest's or journal's JSON object and its model folder, with the hash its file name gives."""
    if not isinstance(data, dict):
        raise _refuse(source, "the file", "a JSON object", got=_a(data))
    if data.get("hash") != hash_:
        raise _refuse(source, "hash", f"{hash_!r} (the file's name)", data.get("hash"))
    folder = data.get("folder")
    if (folder is not None or folder_required) and not is_plain_folder(folder):
        raise _refuse(source, "folder", "a plain model folder name", folder)
    return data, folder


def _file_hash(file: Path) -> str:
    stem = file.name[: -len(".json")] if file.name.endswith(".json") else ""
    if not is_config_hash(stem):
        raise _refuse(
            file, "the file name", f"<configuration hash>.json ({HASH_LENGTH} lowercase hex digits)", file.name
        )
    return stem


def read_manifest_file(paths: SweepPaths, file: Path) -> dict:
    """A finished unit's manifest (``.sweep/done/<hash>.json``), checked: named by its hash, which it repeats;
    a plain model folder; a task name; files ``FOLDER/NAME`` in that folder; its results file among them.

    Returns:
        The manifest, with ``files`` as given (paths relative to the output folder).

    Raises:
        FileNotFoundError: no such file.
        StateFileError: anything else than what :func:`lm_eval_mirage.sweep.store.commit_unit` writes.
    """
    hash_ = _file_hash(file)
    data, folder = _record(file, read_state_file(file), hash_, folder_required=True)
    if not isinstance(data.get("task"), str) or not data["task"]:
        raise _refuse(file, "task", "a task name", data.get("task"))
    _listed_files(paths, data, folder=folder, source=file)
    if data.get("results") not in data["files"]:
        raise _refuse(file, "results", "one of its files", data.get("results"))
    return data


def read_journal(paths: SweepPaths, hash_: str) -> list[Path]:
    """The files a cut commit of ``hash_`` may have moved in (``.sweep/pending/<hash>.json``), checked.

    Raises:
        FileNotFoundError: no journal (no commit was cut).
        StateFileError: a journal the sweep did not write: nothing in it may be removed.
    """
    file = paths.journal(hash_)
    data, folder = _record(file, read_state_file(file), hash_, folder_required=False)  # older journals: no folder
    return _listed_files(paths, data, folder=folder, source=file)


def _job_value(paths: SweepPaths, name: str, value: Any) -> tuple[bool, Any]:
    """(ok, value as used) for one field of a job's entry in state.json."""
    if value is None:
        return True, None
    if name == "job_id":
        return isinstance(value, str) and JOB_ID_PATTERN.fullmatch(value) is not None, value
    if name == "attempts":
        return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10_000, value
    if name == "executor":
        return value in EXECUTORS, value
    if name == "result":
        return value in JOB_RESULTS, value
    if name in ("stdout", "stderr"):  # log paths: only ever read inside .sweep/logs
        try:
            inside = (
                isinstance(value, str)
                and "\0" not in value
                and Path(value).resolve().is_relative_to(paths.logs.resolve())
            )
        except (OSError, RuntimeError, ValueError):
            inside = False
        return inside, value
    return isinstance(value, str), printable(value) if isinstance(value, str) else value  # state, error, note: shown


_JOB_ACCEPTED = {
    "job_id": "a job id (digits, or digits_digits for an array task)",
    "attempts": "a whole number from 0 to 10000",
    "executor": "one of " + ", ".join(EXECUTORS),
    "result": "one of " + ", ".join(JOB_RESULTS),
    "stdout": "a log file inside .sweep/logs",
    "stderr": "a log file inside .sweep/logs",
}
JOB_FIELDS = ("job_id", "attempts", "result", "state", "stdout", "stderr", "error", "note", "executor")


def read_job_states(paths: SweepPaths, note: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """``{job folder: {field: value}}`` from ``.sweep/state.json`` (only the fields in :data:`JOB_FIELDS`).

    An entry with a field of the wrong type or form is left out, with one ``note`` naming the file and the
    key; texts shown to the user (``state``, ``error``, ``note``) come back as one printable line.

    Raises:
        StateFileError: the file cannot be read as a whole (see :func:`read_state_file`); no file is ``{}``.
    """
    source = paths.state
    try:
        data = read_state_file(source)
    except FileNotFoundError:
        return {}
    if not isinstance(data, dict):
        raise _refuse(source, "the file", "a JSON object", got=_a(data))
    jobs = data.get("jobs", {})
    if not isinstance(jobs, dict):
        raise _refuse(source, "jobs", "an object (job folder -> record)", got=_a(jobs))
    out: dict[str, dict[str, Any]] = {}
    for key, entry in jobs.items():
        where = f"jobs[{show_value(key)}]"
        if not isinstance(entry, dict):
            note(f"{_refuse(source, where, 'an object', got=_a(entry))} (entry ignored)")
            continue
        record: dict[str, Any] = {}
        for name in JOB_FIELDS:
            ok, value = _job_value(paths, name, entry.get(name))
            if not ok:
                note(
                    f"{_refuse(source, f'{where}.{name}', _JOB_ACCEPTED.get(name, 'text'), entry.get(name))} (entry ignored)"
                )
                break
            record[name] = value
        else:
            out[key] = record
    return out
