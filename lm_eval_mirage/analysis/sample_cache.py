"""The cache of samples files' compact arrays, and the parallel reader that fills and uses it.

One cache entry per samples file (and set of metrics read from it), named by a hash of the file's resolved
path and the metrics: ``<cache>/<32 hex>.npz``, written with :func:`numpy.savez` and read with
``allow_pickle=False`` (arrays and a JSON header; nothing in it can run). An entry is used only when the file's
size, modification time (ns) **and** SHA-256 content hash match the header: a file rewritten in place with its
old size and time, or damaged on disk, is read again. The full-content hash is the choice because it alone
catches changes that keep size and time. SHA-256 because it is the fastest full hash of :mod:`hashlib` where
the processor has SHA instructions (0.68 ms per MB on the 2-core development machine, against 1.34 for
BLAKE2b, 0.66 for SHA-1, 1.63 for MD5), some 50 times less than reading the same bytes into arrays (34 ms
per MB); it is computed while reading. A cache entry that is damaged, of another version, or
whose arrays do not fit its header is ignored (and rewritten). The cache is an optimisation only: a cache
folder that cannot be written costs nothing but the speed.

Default folder: ``$XDG_CACHE_HOME/lm-eval-mirage/analyze`` (``~/.cache/...``), see :func:`default_cache_dir`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from lm_eval_mirage.analysis.sample_arrays import FileSamples, read_samples

__all__ = ["SampleCache", "default_cache_dir", "default_jobs", "read_files"]

_FORMAT = "lm-eval-mirage analyze samples cache 2"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/lm-eval-mirage/analyze``, or ``~/.cache/lm-eval-mirage/analyze``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lm-eval-mirage" / "analyze"


def default_jobs() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class SampleCache:
    """Compact arrays of samples files, keyed by path, size, mtime and content hash (see the module doc)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def _entry(self, path: Path, metrics: tuple[str, ...]) -> Path:
        key = json.dumps([_FORMAT, str(path.resolve()), list(metrics)]).encode("utf-8", "surrogatepass")
        return self.folder / f"{hashlib.blake2b(key, digest_size=16).hexdigest()}.npz"

    def get(self, path: str | os.PathLike, metrics: Sequence[str]) -> FileSamples | None:
        """The cached arrays of ``path``, or None when there are none or the file changed."""
        path, metrics = Path(path), tuple(sorted(set(metrics)))
        entry = self._entry(path, metrics)
        try:
            st = path.stat()
            if not stat.S_ISREG(os.stat(entry, follow_symlinks=False).st_mode):  # a FIFO would block np.load
                return None
            with np.load(entry, allow_pickle=False) as npz:
                header = json.loads(bytes(npz["header"]).decode("utf-8"))
                if (
                    header.get("format") != _FORMAT
                    or header.get("path") != str(path.resolve())
                    or header.get("metrics") != list(metrics)
                    or header.get("size") != st.st_size
                    or header.get("mtime_ns") != st.st_mtime_ns
                ):
                    return None
                found = _from_arrays(header, {k: npz[k] for k in npz.files if k != "header"})
        except (OSError, ValueError, KeyError, TypeError, EOFError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # no entry, or a damaged one: read the file again
        except Exception:  # noqa: BLE001 - zipfile.BadZipFile and the like: a damaged entry is a miss
            return None
        if found is None or content_hash_of(path) != header.get("sha256"):
            return None
        return found

    def put(self, path: str | os.PathLike, found: FileSamples, sha256: str, stat: os.stat_result) -> None:
        """Store the arrays read from ``path`` (whose bytes hashed to ``sha256`` and had ``stat`` before)."""
        path = Path(path)
        header = {
            "format": _FORMAT,
            "path": str(path.resolve()),
            "metrics": list(found.metrics),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": sha256,
            "filters": list(found.filters),
            "notes": [list(n) for n in found.notes],
            "skipped": found.skipped,
            "lines": found.lines,
        }
        arrays = {
            "doc_id": found.doc_id,
            "target_digits": found.target_digits,
            "filter_code": found.filter_code,
            "values": found.values,
        }
        if found.present is not None:
            arrays["present"] = found.present
        raw = json.dumps(header, ensure_ascii=True).encode("ascii")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.folder)
            try:
                with os.fdopen(fd, "wb") as fh:
                    np.savez(fh, header=np.frombuffer(raw, dtype=np.uint8), **arrays)
                os.replace(tmp, self._entry(path, found.metrics))
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError:
            pass  # a cache that cannot be written only costs speed


def _from_arrays(header: dict, arrays: dict[str, np.ndarray]) -> FileSamples | None:
    """A :class:`FileSamples` from a cache entry, or None when the arrays do not fit the header."""
    metrics, filters = tuple(header["metrics"]), tuple(header["filters"])
    doc, digits, codes, values = (arrays.get(k) for k in ("doc_id", "target_digits", "filter_code", "values"))
    present = arrays.get("present")
    if any(a is None for a in (doc, digits, codes, values)):
        return None
    n = doc.shape[0] if doc.ndim == 1 else -1
    ok = (
        doc.dtype.kind in "iU"
        and digits.dtype == np.float64
        and codes.dtype == np.int32
        and values.dtype == np.float64
        and digits.shape == (n,)
        and codes.shape == (n,)
        and values.shape == (len(metrics), n)
        and (present is None or (present.dtype == np.bool_ and present.shape == values.shape))
        and (n == 0 or (0 <= codes.min() and codes.max() < len(filters)))
        and all(isinstance(f, str) for f in (*metrics, *filters))
        and isinstance(header["skipped"], int)
        and isinstance(header["lines"], int)
    )
    if not ok:
        return None
    notes = tuple((int(a), str(b)) for a, b in header["notes"])
    return FileSamples(doc, digits, codes, filters, metrics, values, present, notes, header["skipped"], header["lines"])


def content_hash_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, hex."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _read_one(path: str, metrics: tuple[str, ...], cache_dir: str | None) -> FileSamples:
    """Read one samples file through the cache (the work of one process)."""
    cache = SampleCache(cache_dir) if cache_dir else None
    if cache is not None and (found := cache.get(path, metrics)) is not None:
        return found
    stat = os.stat(path)
    digest = hashlib.sha256()
    found = read_samples(path, metrics, hasher=digest.update)
    if cache is not None:
        cache.put(path, found, digest.hexdigest(), stat)
    return found


def read_files(
    files: Sequence[tuple[str | os.PathLike, Sequence[str]]],
    *,
    jobs: int | None = None,
    cache: str | os.PathLike | None = None,
    progress: Callable | None = None,
) -> list[FileSamples]:
    """Read ``(samples file, metrics)`` pairs, in that order, with ``jobs`` processes (default: the cores).

    The result does not depend on ``jobs``: each file is read whole by one process. ``progress`` wraps the
    iterator of results (e.g. a tqdm factory taking ``total``).
    """
    if jobs is not None and jobs < 1:
        raise ValueError(f"jobs={jobs}: must be at least 1")
    jobs = default_jobs() if jobs is None else min(jobs, default_jobs())  # more processes than cores only cost
    work = [(str(p), tuple(sorted(set(m))), None if cache is None else str(cache)) for p, m in files]
    wrap = progress or (lambda it, total: it)
    if jobs == 1 or len(work) < 2:
        return list(wrap((_read_one(*w) for w in work), total=len(work)))
    import multiprocessing

    # fork where there is one: workers inherit the imports (a fresh interpreter costs some 0.3 s of CPU each)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    with ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=multiprocessing.get_context(method)) as pool:
        chunk = max(1, min(16, len(work) // (4 * jobs)))
        return list(wrap(pool.map(_read_one, *zip(*work), chunksize=chunk), total=len(work)))
