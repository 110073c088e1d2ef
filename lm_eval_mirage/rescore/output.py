"""Where ``rescore`` writes: atomic files whose temporary names say who wrote them, stale ones cleaned up.

Every file is written to ``.<name>.rescore-<host>-<pid>-<random>.tmp`` in the destination folder, flushed to
disk and renamed into place, so a reader sees the old file or the complete new one. A run stopped by a
signal removes its temporary file on the way out (the CLI turns SIGTERM/SIGHUP into an exception, SIGINT is
one already); one killed by SIGKILL cannot, and the next run writing into that folder removes the file when
its process is gone (same host) or when it has not been written for :data:`STALE_AFTER_S` (another host,
or a file of a version before these names). A destination that cannot be written raises
:class:`OutputError` (the CLI's exit 2).
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
import time
from pathlib import Path

__all__ = ["OutputError", "STALE_AFTER_S", "AtomicLines", "check_writable", "remove_stale_temporaries", "write_text"]

#: A temporary file left by another process is removed when that process is gone (same host), or when it
#: has not been written for this long (another host: its process cannot be asked).
STALE_AFTER_S = 3600.0


class OutputError(OSError):
    """A destination that cannot be written (``--out`` read-only, a file in the way, disk full): stops the run."""


_HOST = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname())[:64] or "host"
_TEMPORARY = re.compile(r"\.(?:results|samples)_.+\.rescore-(?P<host>[A-Za-z0-9._]+)-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp")
# what versions before the host/pid names left (mkstemp's 8 random characters): removed by age only
_LEGACY_TEMPORARY = re.compile(r"\.(?:results|samples)_.+\.rescored\.jsonl?\.[A-Za-z0-9_]{8}\.(?:tmp|json)")


def _temporary(path: Path) -> tuple[int, str]:
    """A temporary file beside ``path`` with the permissions a plain ``open(path, "w")`` would give, named
    ``.<name>.rescore-<host>-<pid>-<random>.tmp`` so that a later run can tell whether its writer is gone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.rescore-{_HOST}-{os.getpid()}-", suffix=".tmp"
        )
    except OSError as exc:
        raise OutputError(f"cannot write in {str(path.parent)!r}: {exc.strerror or exc}") from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the harness's own files follow the umask
    return fd, tmp


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # someone else's live process (or a pid this OS cannot hold: kept, aged out below)
    return True


def remove_stale_temporaries(folder: Path, *, now: float | None = None) -> list[str]:
    """Remove the temporary files earlier ``rescore`` runs left in ``folder`` when killed (``SIGKILL``, a
    power cut): those of this host whose process is gone, and any not written for :data:`STALE_AFTER_S`.
    Returns notes naming what was removed. Nothing else is touched."""
    notes: list[str] = []
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return notes
    for entry in entries:
        m = _TEMPORARY.fullmatch(entry.name)
        legacy = m is None and _LEGACY_TEMPORARY.fullmatch(entry.name) is not None
        if (m is None and not legacy) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
        except OSError:
            continue
        gone = m is not None and m["host"] == _HOST and int(m["pid"]) != os.getpid() and not _pid_alive(int(m["pid"]))
        if gone or age > STALE_AFTER_S:
            try:
                os.unlink(entry.path)
            except OSError:
                continue
            why = f"its process {m['pid']} is gone" if gone else f"not written for {age / 3600:.1f} h"
            notes.append(f"removed {entry.path}, a temporary file of a killed rescore ({why})")
    return notes


class AtomicLines:
    """A text file written line by line to a temporary name and renamed into place on :meth:`commit`."""

    def __init__(self, path: Path):
        self.path = path
        fd, self.tmp = _temporary(path)
        self.fh = os.fdopen(fd, "w", encoding="utf-8")

    def write(self, line: str) -> None:
        self.fh.write(line)

    def commit(self) -> None:
        try:
            self.fh.flush()
            os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.abort()
            raise OutputError(f"cannot write {str(self.path)!r}: {exc.strerror or exc}") from None

    def abort(self) -> None:
        try:
            if not self.fh.closed:
                self.fh.close()
        except OSError:
            pass
        Path(self.tmp).unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    """``text`` to ``path`` atomically (a temporary file renamed into place), :class:`OutputError` if it cannot."""
    out = AtomicLines(path)
    try:
        out.write(text)
    except OSError as exc:
        out.abort()
        raise OutputError(f"cannot write {str(path)!r}: {exc.strerror or exc}") from None
    except BaseException:
        out.abort()
        raise
    out.commit()


def check_writable(folder: Path) -> None:
    """Create ``folder`` and a temporary file in it, or raise :class:`OutputError` saying why not."""
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--out {str(folder)!r} exists and is not a folder")
    fd, tmp = _temporary(folder / "results_.check")
    os.close(fd)
    os.unlink(tmp)
