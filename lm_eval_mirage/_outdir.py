"""Output folders the package owns: the one rule for what a command's ``--out`` may replace.

A command that replaces its ``--out`` whole (``analyze``) writes into a staging folder beside it and swaps it
in at the end (:class:`lm_eval_mirage._io.StagedDir`). Before this module, any folder holding a ``report.md``
counted as "an earlier report" and was replaced, so a user's folder with a ``report.md`` of their own (and a
thesis beside it) was lost. Now:

- every published folder holds :data:`MANIFEST`, naming the command that wrote it and every file it wrote;
- ``--out`` may be replaced only when it does not exist, is empty, or holds that manifest (of the same
  command) and no file or folder the manifest does not list; anything else is refused with the reason;
- each staging folder holds :data:`STAGING_MARKER` (host and process id); a later run removes staging folders
  of the same target whose process is gone (a ``kill -9`` leaves one behind), and never any other folder.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

from lm_eval_mirage._io import StagedDir, atomic_write_text

__all__ = ["MANIFEST", "STAGING_MARKER", "check_replaceable", "publish", "stage"]

MANIFEST = ".lm-eval-mirage-output.json"
STAGING_MARKER = ".lm-eval-mirage-staging.json"
_FORMAT = "lm-eval-mirage output folder 1"
_MAX_MANIFEST_BYTES = 16 * 2**20


def _read_manifest(out: Path) -> dict | None:
    path = out / MANIFEST
    if not path.is_file() or path.is_symlink() or path.stat().st_size > _MAX_MANIFEST_BYTES:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("files"), list):
        return None
    if not all(isinstance(f, str) for f in data["files"]) or not isinstance(data.get("command"), str):
        return None
    return data


def _listing(folder: Path) -> set[str]:
    """Every file and folder below ``folder`` as POSIX paths relative to it (links are not followed)."""
    found: set[str] = set()
    for root, dirs, files in os.walk(folder, followlinks=False):
        rel = Path(root).relative_to(folder)
        for name in dirs + files:
            found.add((rel / name).as_posix())
    return found


def check_replaceable(out: str | os.PathLike, command: str, *, inputs: list[str] | tuple[str, ...] = ()) -> None:
    """Raise ``ValueError`` naming the reason unless ``out`` may be replaced whole by ``command``'s output.

    Raises:
        ValueError: ``out`` is a file, holds the inputs being read, or is a non-empty folder that this command
            did not write (no manifest, another command's manifest, or files the manifest does not list).
    """
    out = Path(out)
    target = out.resolve()
    for item in inputs:
        path = Path(item).resolve()
        if path == target or target in path.parents:
            raise ValueError(f"--out {out}: holds the results being read ({item}); choose another folder")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise ValueError(f"--out {out}: exists and is not a folder; choose another folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    manifest = _read_manifest(out)
    if manifest is None:
        raise ValueError(
            f"--out {out}: a non-empty folder that lm-eval-mirage {command} did not write (no {MANIFEST}); "
            "it would be replaced whole, so choose a new or empty folder"
        )
    if manifest["command"] != command:
        raise ValueError(
            f"--out {out}: written by lm-eval-mirage {manifest['command']}, not {command}; choose another folder"
        )
    listed = set(manifest["files"]) | {MANIFEST}
    listed |= {p.rsplit("/", i)[0] for p in manifest["files"] for i in range(1, p.count("/") + 1)}
    extra = sorted(_listing(out) - listed)
    if extra:
        shown = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
        raise ValueError(
            f"--out {out}: holds files that lm-eval-mirage {command} did not write ({shown}); "
            "they would be lost, so move them or choose another folder"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _remove_stale_staging(out: Path) -> None:
    """Remove staging folders of ``out`` left by a process that is gone (same host); nothing else."""
    host = socket.gethostname()
    for folder in out.parent.glob(f".{out.name}-*"):
        marker = folder / STAGING_MARKER
        if folder.is_symlink() or not folder.is_dir() or marker.is_symlink() or not marker.is_file():
            continue
        try:
            data = json.loads(marker.read_text(encoding="utf-8"))
            pid, owner = int(data["pid"]), str(data["host"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
            continue
        if owner == host and pid != os.getpid() and not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def stage(out: str | os.PathLike) -> StagedDir:
    """A staging folder for ``out`` (after removing stale ones of earlier, killed runs)."""
    out = Path(out)
    if out.parent.is_dir():
        _remove_stale_staging(out)
    staged = StagedDir(out)
    marker = {"pid": os.getpid(), "host": socket.gethostname()}
    (staged.path / STAGING_MARKER).write_text(json.dumps(marker), encoding="utf-8")
    return staged


def publish(staged: StagedDir, command: str) -> Path:
    """Write the manifest of everything in ``staged`` and swap it in at its target; return the target."""
    (staged.path / STAGING_MARKER).unlink(missing_ok=True)
    files = sorted(p for p in _listing(staged.path) if (staged.path / p).is_file() or (staged.path / p).is_symlink())
    manifest = {"format": _FORMAT, "command": command, "files": files}
    atomic_write_text(staged.path / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    return staged.commit()
