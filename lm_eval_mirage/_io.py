"""File handling shared by every part of the package (analysis, rescore, sweep, vision).

- Atomic writes: a temporary file in the target folder, flushed to disk, then ``os.replace`` with ordinary
  permissions, so a killed process leaves either the old file or the new one, never a torn one.
- Signals around writes: :func:`defer_signals` holds SIGTERM/SIGINT back until a block of moves is over;
  :func:`raise_on_signals` turns SIGTERM/SIGHUP into :class:`Terminated`, so ``finally`` blocks remove
  temporary files on the way out.
- Reading files that may be hostile: only regular files are opened (a FIFO would block forever, a folder
  is not a file), sizes and nesting are bounded, and every error is one line naming the file
  (:class:`InputFileError`): :func:`read_json_file`, and :func:`read_yaml_file` with a strict mode for
  the package's own file formats (no duplicate keys, no anchors or aliases) and a mode that reads exactly
  what the harness reads.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "InputFileError",
    "StagedDir",
    "Terminated",
    "atomic_dir",
    "atomic_path",
    "atomic_write_text",
    "defer_signals",
    "raise_on_signals",
    "read_json_file",
    "read_regular_file",
    "read_yaml_file",
]


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


# --- signals around writes -------------------------------------------------------------------------------------


@contextmanager
def defer_signals(signals: tuple[int, ...] | None = None) -> Iterator[None]:
    """Hold ``signals`` (default SIGTERM, SIGINT) back until the block is over, then deliver them as before.

    For a block of moves that must happen whole (a cancel must not cut a commit in half). Python-level
    handlers, not a thread signal mask: any thread may receive a signal. Outside the main thread, where no
    handler can be set, the block runs unprotected.
    """
    received: list[int] = []
    previous: dict[int, Any] = {}
    try:
        for sig in signals or (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread: signal handlers cannot be set
        pass
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in received:
            signal.raise_signal(sig)


class Terminated(BaseException):
    """Raised in the main thread by a signal that :func:`raise_on_signals` catches (``signum`` says which).

    A BaseException, like KeyboardInterrupt: ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def raise_on_signals(signals: tuple[int, ...] | None = None) -> Iterator[None]:
    """Turn ``signals`` (default SIGTERM and, where it exists, SIGHUP) into :class:`Terminated` in the block,
    so that ``finally`` blocks and context managers remove temporary files on the way out. Signals whose
    handler cannot be set (not the main thread) keep their defaults."""

    def handler(signum: int, frame: Any) -> None:  # noqa: ARG001
        raise Terminated(signum)

    wanted = signals or tuple(s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)
    previous: dict[int, Any] = {}
    for sig in wanted:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread: leave the defaults
            pass
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- reading files that may be hostile --------------------------------------------------------------------------

#: the largest file :func:`read_yaml_file` reads in strict mode (the package's own YAML files are a few kB)
MAX_STRICT_YAML_BYTES = 1 << 20


class InputFileError(ValueError):
    """A file that cannot be used as input; the message is one line naming the file and what is wrong."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISLNK, "symbolic link"),
    ):
        if test(mode):
            return name
    return "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file"


def read_regular_file(path: str | os.PathLike, *, max_bytes: int | None = None, follow_symlinks: bool = True) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``max_bytes`` bytes.

    Opened without blocking, so a FIFO is refused instead of waiting forever for a writer; with
    ``follow_symlinks=False`` a symbolic link is refused too (where the system has ``O_NOFOLLOW``).

    Raises:
        FileNotFoundError: nothing at ``path``.
        InputFileError: a folder, FIFO, socket, device or (not followed) link; unreadable; too large.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise InputFileError(f"{path}: is a symbolic link; expected a regular file") from None
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputFileError(f"{path}: is a {_kind(mode)}; expected a regular file")
        chunks, size = [], 0
        while max_bytes is None or size <= max_bytes:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if max_bytes is not None and size > max_bytes:
        raise InputFileError(f"{path}: larger than {max_bytes} bytes; expected a small file")
    return b"".join(chunks)


def _utf8(path: str | os.PathLike, data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(
            f"{path}: not UTF-8 text (byte {exc.start} is {data[exc.start : exc.start + 1]!r}); expected {what}"
        ) from None


def read_json_file(path: str | os.PathLike, *, max_bytes: int | None = None, follow_symlinks: bool = True) -> Any:
    """The JSON value in ``path`` (a regular file, see :func:`read_regular_file`).

    Raises:
        FileNotFoundError: nothing at ``path``.
        InputFileError: not a regular file, not UTF-8, not JSON, or nested deeper than Python can read.
    """
    text = _utf8(path, read_regular_file(path, max_bytes=max_bytes, follow_symlinks=follow_symlinks), "JSON")
    try:
        return json.loads(text)
    except RecursionError:
        raise InputFileError(f"{path}: not valid JSON: nested too deeply (more levels than Python can read)") from None
    except ValueError as exc:  # JSONDecodeError, and integers of more digits than int() accepts
        raise InputFileError(f"{path}: not valid JSON: {' '.join(str(exc).split())}") from None


class _Refused(Exception):
    """A construct the strict YAML loader does not accept, at a 1-based line."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


def _short(value: Any, limit: int = 60) -> str:
    """``repr`` of a YAML key, cut (keys are scalars here: their repr is as long as the file, no longer)."""
    text = repr(value) if isinstance(value, (str, int, float, bool, type(None))) else f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _strict_loader() -> type:
    """PyYAML's pure-Python safe loader, refusing anchors, aliases and duplicate keys.

    Aliases: a few hundred bytes of nested aliases expand to gigabytes for any code that walks the value
    (validation, an error message); without them a value is never larger than the file. Duplicate keys:
    YAML says they are an error; PyYAML keeps the last one silently (``output:`` given twice would move a
    whole sweep). The pure-Python parser, not libyaml's, because it reports where an alias is.
    """
    import yaml

    class StrictLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                name = f"{'*' if isinstance(event, yaml.AliasEvent) else '&'}{event.anchor}"
                raise _Refused(
                    event.start_mark.line + 1,
                    f"YAML anchors and aliases ({_short(name)}) are not accepted; write the value out",
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            if isinstance(node, yaml.MappingNode):
                first: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        line = first.setdefault(key, key_node.start_mark.line + 1)
                    except TypeError:  # an unhashable key: the constructor below reports it
                        continue
                    if line != key_node.start_mark.line + 1:
                        raise _Refused(
                            key_node.start_mark.line + 1,
                            f"key {_short(key)} given twice (first at line {line}); give each key once",
                        )
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def read_yaml_file(
    path: str | os.PathLike, *, strict: bool = True, loader: type | None = None, max_bytes: int | None = None
) -> Any:
    """The YAML value in ``path`` (a regular file, see :func:`read_regular_file`), read safely (no tags that
    build Python objects).

    ``strict=True`` (the package's own formats, such as sweep files): anchors, aliases and duplicate keys
    are refused, and the file may hold at most ``max_bytes`` (default :data:`MAX_STRICT_YAML_BYTES`).
    ``strict=False`` reads what the harness reads from the same file, with ``loader`` (default
    ``yaml.SafeLoader``, the harness's ``yaml.safe_load``): a caller must then not walk values it did not
    check, as aliases can make a small file a huge value.

    Raises:
        FileNotFoundError: nothing at ``path``.
        InputFileError: one line, ``FILE: ...``: not a regular file, too large, not UTF-8, not valid YAML
            (nesting too deep included), or, strictly, an anchor, alias or duplicate key (with its line).
    """
    import yaml

    if strict and loader is not None:
        raise ValueError("read_yaml_file: a loader is for strict=False only")
    limit = max_bytes if max_bytes is not None or not strict else MAX_STRICT_YAML_BYTES
    text = _utf8(path, read_regular_file(path, max_bytes=limit), "YAML")
    try:
        return yaml.load(text, Loader=_strict_loader() if strict else loader or yaml.SafeLoader)  # noqa: S506 - safe loaders only
    except _Refused as exc:
        raise InputFileError(f"{path}: line {exc.line}: {exc.message}") from None
    except RecursionError:
        raise InputFileError(f"{path}: not valid YAML: nested too deeply") from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer of more digits than int() accepts
        raise InputFileError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
