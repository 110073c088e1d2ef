"""The sweep's output folder: the harness's layout for ``analyze``, plus the bookkeeping that makes it resumable.

::

    OUTPUT/
      <model folder>/results_<date>.json, samples_<task>_<date>.jsonl   the harness's own files, one run per task
      params.json                 model folder -> {name, model, revision, backend, params}
      .sweep/done/<hash>.json     manifest of a finished unit (written last, atomically)
      .sweep/pending/<hash>.json  commit journal (files being moved in; rolled back if a commit was cut)
      .sweep/staging/<hash>/      the harness's --output_path while it runs (results named run_<date>.json)
      .sweep/superseded/<hash>/   files of a unit replaced by a run with another configuration (*.superseded)
      .sweep/jobs/, logs/, state.json, summary.json, sweep.yaml   job scripts, scheduler logs, job states

A unit is done when its manifest exists and every file it lists is still there. The harness writes its files
into the staging folder; only after it exited 0 and its files check out are they moved next to the others
(``os.replace``, same file system) and the manifest written, with SIGTERM/SIGINT held back meanwhile, so a
cancelled job leaves either a whole unit or none in the analysed folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_mirage import harness_outputs as layout
from lm_eval_mirage._io import atomic_write_text

__all__ = [
    "UnitOutputError",
    "SweepPaths",
    "atomic_write_json",
    "atomic_write_text",
    "commit_unit",
    "find_outputs",
    "inside_folder",
    "is_plain_folder",
    "staged_output_path",
    "is_done",
    "read_manifest",
    "rollback_unit",
    "update_params",
]

BOOK = ".sweep"
#: the name the harness gets for its results file while staged (not results*.json, see staged_output_path)
STAGED_STEM = "run"


class UnitOutputError(RuntimeError):
    """The harness exited 0 but did not leave the files a finished unit must have."""


@dataclass(frozen=True)
class SweepPaths:
    """Where everything lives under a sweep's output folder."""

    root: Path

    @property
    def book(self) -> Path:
        return self.root / BOOK

    def manifest(self, hash_: str) -> Path:
        return self.book / "done" / f"{hash_}.json"

    def journal(self, hash_: str) -> Path:
        return self.book / "pending" / f"{hash_}.json"

    def staging(self, hash_: str) -> Path:
        return self.book / "staging" / hash_

    def superseded(self, hash_: str) -> Path:
        return self.book / "superseded" / hash_

    def script(self, key: str) -> Path:
        return self.book / "jobs" / f"{key}.sh"

    @property
    def logs(self) -> Path:
        return self.book / "logs"

    @property
    def state(self) -> Path:
        return self.book / "state.json"

    @property
    def summary(self) -> Path:
        return self.book / "summary.json"

    @property
    def params(self) -> Path:
        return self.root / "params.json"


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as sorted, indented JSON atomically (see :mod:`lm_eval_mirage._io`)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def read_manifest(root: Path, hash_: str) -> dict | None:
    """The manifest of a finished unit, or None."""
    data = _read_json(SweepPaths(root).manifest(hash_))
    return data if isinstance(data, dict) and data.get("hash") == hash_ else None


def is_done(root: Path, hash_: str) -> bool:
    """True when the unit's manifest exists and every file it lists is still in place (deleting one reruns it)."""
    manifest = read_manifest(root, hash_)
    return manifest is not None and all((root / f).is_file() for f in manifest.get("files", []))


def staged_output_path(staging: Path) -> Path:
    """The ``--output_path`` a unit's harness run gets: a ``.json`` name inside the staging folder.

    With a ``.json`` path the harness writes ``run_<date>.json`` and ``samples_<task>_<date>.jsonl`` flat in
    the folder, so nothing in staging is named ``results*.json`` for a reader that searches the whole output
    folder; the commit renames the file to the harness's usual ``results_<date>.json``.
    """
    return staging / f"{STAGED_STEM}.json"


def find_outputs(staging: Path, task: str, *, log_samples: bool) -> tuple[Path, list[Path]]:
    """The results file and samples files the harness left in ``staging``, checked for ``task``.

    Raises:
        UnitOutputError: no or several results files, unreadable JSON, the task missing from it, or missing
            samples (the harness only warns, and exits 0, when it cannot save its files).
    """
    results = sorted(staging.glob(f"{STAGED_STEM}_*.json"))
    if len(results) != 1:
        raise UnitOutputError(f"expected one results file ({STAGED_STEM}_<date>.json) in {staging}, found {len(results)}")
    data = _read_json(results[0])
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise UnitOutputError(f"{results[0]} is not a harness results file")
    if task not in data["results"] and task not in (data.get("group_subtasks") or {}):
        raise UnitOutputError(f"{results[0]} has no results for task {task!r} (has {sorted(data['results'])})")
    samples = sorted(staging.glob("samples_*.jsonl"))
    if log_samples:
        is_group = task in (data.get("group_subtasks") or {})  # a group's samples are its subtasks'
        wanted = samples if is_group else [s for s in samples if layout.samples_file_task(s) == task]
        if not wanted or any(s.stat().st_size == 0 for s in wanted):
            raise UnitOutputError(f"no samples file for task {task!r} in {staging} (log_samples is on)")
    return results[0], samples


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Defer SIGTERM/SIGINT until the block is over (then they act as before), so a cancel cannot cut a
    commit in half. Python-level handlers, not a thread signal mask: any thread may receive a signal."""
    received: list[int] = []
    try:
        old = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: signal handlers cannot be set
        yield
        return
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        for sig in received:
            signal.raise_signal(sig)


def rollback_unit(root: Path, hash_: str) -> list[str]:
    """Undo a commit that was cut before its manifest was written; returns the files removed."""
    paths = SweepPaths(root)
    journal = _read_json(paths.journal(hash_))
    removed: list[str] = []
    if isinstance(journal, dict) and read_manifest(root, hash_) is None:
        for rel in journal.get("files", []):
            with contextlib.suppress(FileNotFoundError):
                (root / rel).unlink()
                removed.append(rel)
    with contextlib.suppress(FileNotFoundError):
        paths.journal(hash_).unlink()
    return removed


def _supersede(root: Path, folder: str, task: str, hash_: str) -> list[str]:
    """Move the files of older units of the same (folder, task) out of the analysed folder."""
    paths = SweepPaths(root)
    moved: list[str] = []
    for manifest_file in sorted((paths.book / "done").glob("*.json")):
        old = _read_json(manifest_file)
        if not isinstance(old, dict) or old.get("folder") != folder or old.get("task") != task or old.get("hash") == hash_:
            continue
        target = paths.superseded(str(old["hash"]))
        target.mkdir(parents=True, exist_ok=True)
        for rel in old.get("files", []):
            with contextlib.suppress(FileNotFoundError):
                # ".superseded": no longer named *.json / *.jsonl for readers that search the whole folder
                os.replace(root / rel, target / f"{Path(rel).name}.superseded")
                moved.append(rel)
        os.replace(manifest_file, target / "manifest.json")
    return moved


def is_plain_folder(name: str) -> bool:
    """Whether ``name`` is one folder name that stays inside its parent and is not hidden (``.sweep``).

    Example:
        >>> [is_plain_folder(n) for n in ("EleutherAI__pythia-70m@step1", "..", ".", ".sweep", "a/b", "")]
        [True, False, False, False, False, False]
    """
    return bool(name) and not name.startswith(".") and "/" not in name and "\\" not in name and "\0" not in name


def inside_folder(root: Path, folder: str) -> Path:
    """``root/folder`` when ``folder`` is one plain, visible folder name inside ``root``.

    Raises:
        UnitOutputError: ``..``, ``.``, ``.sweep``, a path with ``/``: results would land outside the
            analysed folders (the sweep file is checked for this; this is the last line of defence).
    """
    target = root / folder
    if not is_plain_folder(folder) or target.resolve().parent != root.resolve():
        raise UnitOutputError(f"model folder {folder!r} is not a plain folder inside {root}: refused")
    return target


def commit_unit(root: Path, *, hash_: str, folder: str, task: str, staging: Path, log_samples: bool, extra: dict | None = None) -> dict:
    """Move a finished unit's files from ``staging`` into ``root/folder`` and write its manifest.

    Returns:
        The manifest (also written to ``.sweep/done/<hash>.json``).
    """
    paths = SweepPaths(root)
    dest_dir = inside_folder(root, folder)
    results, samples = find_outputs(staging, task, log_samples=log_samples)
    results_name = layout.results_file_name(layout.date_id(results))  # run_<date>.json -> results_<date>.json
    # results last: a reader sees a run once its results file is there
    moves = [*((src, dest_dir / src.name) for src in samples), (results, dest_dir / results_name)]
    files = [str(dst.relative_to(root)) for _, dst in moves]
    manifest = {
        "hash": hash_,
        "task": task,
        "folder": folder,
        "files": files,
        "results": str((dest_dir / results_name).relative_to(root)),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    }
    with _signals_held():
        atomic_write_json(paths.journal(hash_), {"hash": hash_, "files": files})
        superseded = _supersede(root, folder, task, hash_)
        if superseded:
            manifest["superseded"] = superseded
        dest_dir.mkdir(parents=True, exist_ok=True)
        for src, dst in moves:
            os.replace(src, dst)
        atomic_write_json(paths.manifest(hash_), manifest)
        paths.journal(hash_).unlink()
    shutil.rmtree(staging, ignore_errors=True)
    return manifest


def update_params(root: Path, entries: dict[str, dict]) -> None:
    """Merge ``{model folder: record}`` into ``root/params.json`` (entries of models no longer swept stay)."""
    path = SweepPaths(root).params
    current = _read_json(path)
    merged = dict(current) if isinstance(current, dict) else {}
    merged.update(entries)
    if merged != current:
        atomic_write_json(path, merged)

