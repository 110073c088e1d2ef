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

Everything read back from the state folder (manifests, journals, ``params.json``) is checked first by
:mod:`lm_eval_mirage.sweep.state`: a file the sweep did not write as it is raises
:class:`~lm_eval_mirage.sweep.state.StateFileError` and nothing listed in it is removed or moved.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lm_eval_mirage import harness_outputs as layout
from lm_eval_mirage._io import atomic_write_text, defer_signals
from lm_eval_mirage.sweep.state import (
    BOOK,
    StateFileError,
    SweepPaths,
    is_plain_folder,
    read_journal,
    read_manifest_file,
    read_state_file,
)

__all__ = [
    "BOOK",
    "StateFileError",
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

#: the name the harness gets for its results file while staged (not results*.json, see staged_output_path)
STAGED_STEM = "run"


class UnitOutputError(RuntimeError):
    """The harness exited 0 but did not leave the files a finished unit must have."""


def atomic_write_json(path: Path, data: Any) -> None:
    """Write ``data`` as sorted, indented JSON atomically (see :mod:`lm_eval_mirage._io`)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_manifest(root: Path, hash_: str) -> dict | None:
    """The manifest of a finished unit, or None when there is none.

    Raises:
        StateFileError: a manifest the sweep did not write as it is (see :mod:`lm_eval_mirage.sweep.state`).
    """
    paths = SweepPaths(root)
    try:
        return read_manifest_file(paths, paths.manifest(hash_))
    except FileNotFoundError:
        return None


def is_done(root: Path, hash_: str) -> bool:
    """True when the unit's manifest exists and every file it lists is still in place (deleting one reruns it).

    Raises:
        StateFileError: the manifest is damaged or foreign (refused, neither done nor to be overwritten).
    """
    manifest = read_manifest(root, hash_)
    return manifest is not None and all((root / f).is_file() for f in manifest["files"])


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
        UnitOutputError: no or several results files, unreadable JSON, the task missing from it, missing
            samples (the harness only warns, and exits 0, when it cannot save its files), or a staged file
            that is not a regular file (a link would be moved into the model folder as a link).
    """
    results = sorted(staging.glob(f"{STAGED_STEM}_*.json"))
    if len(results) != 1:
        raise UnitOutputError(
            f"expected one results file ({STAGED_STEM}_<date>.json) in {staging}, found {len(results)}"
        )
    try:
        data = read_state_file(results[0])
    except StateFileError as exc:
        raise UnitOutputError(str(exc)) from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise UnitOutputError(f"{results[0]} is not a harness results file")
    if task not in data["results"] and task not in (data.get("group_subtasks") or {}):
        raise UnitOutputError(f"{results[0]} has no results for task {task!r} (has {sorted(data['results'])})")
    samples = sorted(staging.glob("samples_*.jsonl"))
    odd = [f for f in samples if f.is_symlink() or not f.is_file()]
    if odd:
        raise UnitOutputError(f"{odd[0]} is not a regular file; expected the harness's samples file")
    if log_samples:
        is_group = task in (data.get("group_subtasks") or {})  # a group's samples are its subtasks'
        wanted = samples if is_group else [s for s in samples if layout.samples_file_task(s) == task]
        if not wanted or any(s.stat().st_size == 0 for s in wanted):
            raise UnitOutputError(f"no samples file for task {task!r} in {staging} (log_samples is on)")
    return results[0], samples


def rollback_unit(root: Path, hash_: str) -> list[str]:
    """Undo a commit that was cut before its manifest was written; returns the files removed.

    Raises:
        StateFileError: a journal or manifest the sweep did not write as it is: nothing is removed.
    """
    paths = SweepPaths(root)
    try:
        files = read_journal(paths, hash_)  # every path checked before any file is touched
    except FileNotFoundError:
        return []
    removed: list[str] = []
    if read_manifest(root, hash_) is None:
        for path in files:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(str(path.relative_to(root)))
    paths.journal(hash_).unlink(missing_ok=True)
    return removed


def _supersede(root: Path, folder: str, task: str, hash_: str, note: Callable[[str], None]) -> list[str]:
    """Move the files of older units of the same (folder, task) out of the analysed folder.

    A manifest that fails its checks is left where it is, with a ``note``: nothing it lists is moved.
    """
    paths = SweepPaths(root)
    moved: list[str] = []
    for manifest_file in sorted(paths.done.glob("*.json")):
        try:
            old = read_manifest_file(paths, manifest_file)
        except FileNotFoundError:
            continue
        except StateFileError as exc:
            note(f"{exc} (left alone: nothing it lists is moved)")
            continue
        if old["folder"] != folder or old["task"] != task or old["hash"] == hash_:
            continue
        target = paths.superseded(old["hash"])
        target.mkdir(parents=True, exist_ok=True)
        for rel in old["files"]:
            with contextlib.suppress(FileNotFoundError):
                # ".superseded": no longer named *.json / *.jsonl for readers that search the whole folder
                os.replace(root / rel, target / f"{Path(rel).name}.superseded")
                moved.append(rel)
        os.replace(manifest_file, target / "manifest.json")
    return moved


def inside_folder(root: Path, folder: str) -> Path:
    """``root/folder`` when ``folder`` is one plain, visible folder name inside ``root``.

    Raises:
        UnitOutputError: ``..``, ``.``, ``.sweep``, a path with ``/``, a folder that is a symbolic link:
            results would land outside the analysed folders (the sweep file is checked for this; this is
            the last line of defence).
    """
    target = root / folder
    try:
        if not is_plain_folder(folder):
            raise StateFileError(folder)
        return SweepPaths(root).checked(target)
    except StateFileError:
        raise UnitOutputError(f"model folder {folder!r} is not a plain folder inside {root}: refused") from None


def commit_unit(
    root: Path,
    *,
    hash_: str,
    folder: str,
    task: str,
    staging: Path,
    log_samples: bool,
    extra: dict | None = None,
    note: Callable[[str], None] | None = None,
) -> dict:
    """Move a finished unit's files from ``staging`` into ``root/folder`` and write its manifest.

    ``note`` gets one line for each manifest of another unit that is refused while superseding.

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
    with defer_signals():  # SIGTERM/SIGINT wait until the commit is whole
        atomic_write_json(paths.journal(hash_), {"hash": hash_, "folder": folder, "files": files})
        superseded = _supersede(root, folder, task, hash_, note or (lambda message: None))
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
    """Merge ``{model folder: record}`` into ``root/params.json`` (entries of models no longer swept stay).

    Raises:
        StateFileError: a ``params.json`` that is not a JSON object (not replaced: it may be a hand edit).
    """
    path = SweepPaths(root).params
    try:
        current = read_state_file(path)
    except FileNotFoundError:
        current = None
    if current is not None and not isinstance(current, dict):
        raise StateFileError(
            f"{path}: the file: expected a JSON object (model folder -> record), got a {type(current).__name__}"
        )
    merged = {**(current or {}), **entries}
    if merged != current:
        atomic_write_json(path, merged)
