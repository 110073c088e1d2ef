"""Atomic file writes shared by every part of the package that writes files (analysis, rescore, sweep,
vision): a temporary file in the target folder, flushed to disk, then ``os.replace`` with ordinary
permissions, so a killed process leaves either the old file or the new one, never a torn one."""

from __future__ import annotations

import errno
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["StagedDir", "atomic_dir", "atomic_path", "atomic_write_text"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (mode 0666 minus the umask).

    A reader never sees a half-written file, and a failure leaves any previous file untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:  # the data must be on disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2(RENAME_EXCHANGE)``); False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # no libc symbol (musl, old glibc)
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):  # file system without it
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(tmp: Path, target: Path) -> None:
    """Put the folder ``tmp`` at ``target``; an old ``target`` is moved aside first and deleted last.

    Where the system can exchange two paths in one step, ``target`` is never missing; elsewhere it is
    missing only between two renames in one folder. A failure puts the old folder back.
    """
    if not target.exists():
        os.replace(tmp, target)
        return
    if _exchange(tmp, target):  # tmp now holds the old folder
        shutil.rmtree(tmp, ignore_errors=True)
        return
    aside = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
    os.replace(target, aside / "old")
    try:
        os.replace(tmp, target)
    except BaseException:
        os.replace(aside / "old", target)
        shutil.rmtree(aside, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)


class StagedDir:
    """A temporary folder beside ``path`` that :meth:`commit` puts at ``path`` whole (mode 0755), or that
    :meth:`abort` removes, leaving any previous ``path`` untouched (for callers that cannot use a ``with``
    block; :func:`atomic_dir` is the same as a context manager).

    Raises:
        NotADirectoryError: ``path`` exists and is not a folder.
        OSError: the folder beside ``path`` cannot be created (read-only parent...).
    """

    def __init__(self, path: str | os.PathLike):
        self.target = Path(path)
        if self.target.exists() and not self.target.is_dir():
            raise NotADirectoryError(f"{self.target} exists and is not a folder; refusing to replace it")
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}-", dir=self.target.parent))
        self.path.chmod(0o755)  # mkdtemp makes it private; what is published is an ordinary readable folder

    def commit(self) -> Path:
        """Publish the folder at ``path`` (see :func:`_swap_in`) and return ``path``."""
        try:
            _swap_in(self.path, self.target)
        except BaseException:
            self.abort()
            raise
        return self.target

    def abort(self) -> None:
        """Remove the temporary folder."""
        shutil.rmtree(self.path, ignore_errors=True)


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; on success it replaces ``path`` whole (mode 0755).

    A reader sees the old folder or the complete new one, never a half-deleted one (see :func:`_swap_in`);
    a failure removes the temporary folder and leaves any previous ``path`` untouched.
    """
    staged = StagedDir(path)
    try:
        yield staged.path
    except BaseException:
        staged.abort()
        raise
    staged.commit()
