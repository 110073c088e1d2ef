"""Per-problem values of samples files as compact numpy arrays: the analysis at sweep scale.

A samples file (``samples_<task>_<ts>.jsonl``, one JSON object per problem and filter) is streamed once into a
:class:`FileSamples`: per kept line its ``doc_id``, the answer's number of digits and the filter (a code), and
per metric the values (float64, NaN for a JSON ``null``) — some 30 to 60 bytes per line instead of a pandas row
per line and metric. Nothing else of a line is kept.

Reading is fast and exact: a line is decoded by ``msgspec`` into a struct of just the fields the analysis
reads (``doc_id``, ``doc.answer_digits``, ``target``, ``filter`` and the metrics the results file names;
msgspec still checks the syntax of the whole line); a line the fast path declines (``NaN``/``Infinity``
literals, numbers out of range, lone surrogates, a ``doc`` that is not an object, malformed JSON...) is parsed
by ``json.loads``, which decides. So every line is read as ``json.loads`` reads it, and skipped exactly when
``json.loads`` refuses it.

Files are read in parallel processes (:func:`read_files`, ``jobs``) and their arrays cached
(:class:`SampleCache`) so that a second analysis of unchanged folders parses nothing. The module imports no
pandas (workers start light); :class:`~lm_eval_mirage.analysis.sample_store.SampleStore` holds the arrays of a
whole collection.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
import numpy as np
from msgspec.structs import astuple

__all__ = ["FileSamples", "read_samples", "line_values", "MAX_NOTES_PER_FILE"]

#: Problems named per samples file in the notes (all are counted).
MAX_NOTES_PER_FILE = 5
_INT64 = (-(2**63), 2**63 - 1)
_DIGITS = re.compile(r"\s*-?(\d+)\s*")
_RESERVED = ("doc_id", "doc", "target", "filter")


@dataclass
class FileSamples:
    """The per-problem values of one samples file.

    Attributes:
        doc_id: per kept line (a JSON object), its ``doc_id`` (the line's index when absent); int64, or
            unicode strings (``json.dumps`` of each id) when some id is not an integer.
        target_digits: per kept line, the answer's number of digits (NaN when unknown).
        filter_code: per kept line, the index of its filter in ``filters``.
        filters: the filter names (``str`` of the line's ``filter``, ``"none"`` when absent).
        metrics: the metric names, rows of ``values``.
        values: (metrics x lines) float64; NaN where the value is ``null`` or absent.
        present: (metrics x lines) bool, whether the line holds a number (or ``null``) for the metric;
            ``None`` when every line does.
        notes: ``(line number or 0 for the whole file, reason)``, formatted with the path by :meth:`messages`.
        skipped: lines left out because they could not be read.
        lines: non-blank lines in the file.
    """

    doc_id: np.ndarray
    target_digits: np.ndarray
    filter_code: np.ndarray
    filters: tuple[str, ...]
    metrics: tuple[str, ...]
    values: np.ndarray
    present: np.ndarray | None
    notes: tuple[tuple[int, str], ...] = ()
    skipped: int = 0
    lines: int = 0

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        arrays = (self.doc_id, self.target_digits, self.filter_code, self.values, self.present)
        return sum(a.nbytes for a in arrays if a is not None)

    def messages(self, path: str | os.PathLike, task: str) -> list[str]:
        """The notes as messages naming ``path`` (and the line)."""
        out = [f"{path}:{lineno}: {text}" if lineno else f"{path}: {text}" for lineno, text in self.notes]
        if self.lines == 0:
            out.append(f"{path}: no samples (zero problems); {task} has no per-problem values")
        return out

    def groups(self) -> Iterable[tuple[str, str, np.ndarray]]:
        """``(metric, filter, line indices)`` of every metric and filter with at least one value, in line order."""
        for m, metric in enumerate(self.metrics):
            has = self.present[m] if self.present is not None else np.ones(self.values.shape[1], dtype=bool)
            for f, filt in enumerate(self.filters):
                idx = np.flatnonzero(has & (self.filter_code == f))
                if idx.size:
                    yield metric, filt, idx


def _number(value: Any) -> float:
    """A JSON value as a float: NaN when it is not a number (``null`` included); an integer beyond the float
    range is +-inf.

    Example:
        >>> _number(True), _number(None), _number("2"), _number(10**400)
        (1.0, nan, 2.0, inf)
    """
    if isinstance(value, (bool, int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond float range
            return math.inf if value > 0 else -math.inf
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return math.nan


def _target_digits(answer_digits: Any, target: Any) -> float:
    """The answer's number of digits: ``doc.answer_digits`` (when not ``_MISSING``), else the digits of an
    integer ``target``; NaN if unknown. Raises ValueError for an ``answer_digits`` that is not a count
    (Infinity, -3, 2.5, "x").

    Example:
        >>> _target_digits(3, "x"), _target_digits(_MISSING, " -42 "), _target_digits(_MISSING, "4.2")
        (3.0, 2.0, nan)
    """
    if answer_digits is not _MISSING:
        if type(answer_digits) is int and 0 <= answer_digits < 2**53:
            return float(answer_digits)
        digits = _number(answer_digits)
        if isinstance(answer_digits, bool) or not math.isfinite(digits) or digits < 0 or digits != int(digits):
            raise ValueError(f"doc.answer_digits {answer_digits!r} is not a number of digits")
        return digits
    m = _DIGITS.fullmatch(str(target)[:1000])
    return float(len(m.group(1))) if m else math.nan


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: An absent field (``null`` is None).
_MISSING = _Missing()
_UNSET = msgspec.UNSET


class _Doc(msgspec.Struct):
    answer_digits: Any = msgspec.UNSET


@lru_cache(maxsize=64)
def _fast_decoder(metrics: tuple[str, ...]) -> msgspec.json.Decoder | None:
    """A decoder of only the fields the analysis reads (fields ``f0...`` renamed to the JSON keys).

    Metric values must be numbers or ``null`` (a JSON ``true``, a string... make the line go to ``json.loads``).
    """
    if set(metrics) & set(_RESERVED):
        return None  # a metric named like a field the reader needs: the strict path reads it
    names = [*_RESERVED, *metrics]
    types = [Any, _Doc, Any, Any] + [float | None] * len(metrics)
    fields = [(f"f{i}", t, msgspec.UNSET) for i, t in enumerate(types)]
    struct = msgspec.defstruct("SampleFields", fields, rename={f"f{i}": n for i, n in enumerate(names)})
    return msgspec.json.Decoder(struct)


def _strict(text: str, metrics: tuple[str, ...]) -> tuple | str:
    """:func:`line_values` by ``json.loads``, which decides what a line is."""
    try:
        line = json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc})"
    except RecursionError:
        return "JSON nested too deeply to read"
    except ValueError as exc:  # e.g. an integer of more than sys.get_int_max_str_digits() digits
        return f"not valid JSON ({str(exc).split(';')[0]})"
    if not isinstance(line, dict):
        return f"not a JSON object (a {type(line).__name__})"
    doc = line.get("doc")
    digits = doc.get("answer_digits", _MISSING) if isinstance(doc, dict) else _MISSING
    values, present = [], []
    for m in metrics:
        v = line.get(m, _MISSING)
        ok = isinstance(v, (bool, int, float)) or v is None
        values.append(_number(v) if ok else math.nan)
        present.append(ok)
    return (
        line.get("doc_id", _MISSING),
        digits,
        line.get("target", _MISSING),
        line.get("filter", _MISSING),
        values,
        present,
    )


def line_values(raw: bytes, metrics: tuple[str, ...], *, strict: bool = False) -> tuple | str:
    """The fields of one samples line, ``(doc_id, answer_digits, target, filter, values, present)``, or the
    reason it cannot be read (a string). Absent fields are a private marker; ``values`` are floats (NaN for
    ``null`` and for what is not a number), ``present`` says which metrics the line holds as a number or
    ``null`` (``None``: all of them). ``strict`` reads with ``json.loads`` only.

    Example:
        >>> line_values(b'{"doc_id": 3, "exact_match": 1, "filter": "parsed"}', ("exact_match",))[3:]
        ('parsed', [1.0], None)
        >>> line_values(b'{"exact_match": "1", "doc": {"answer_digits": 2}}', ("exact_match",), strict=True)[1:]
        (2, <missing>, <missing>, [nan], [False])
        >>> line_values(b'[1, 2]', ("exact_match",))
        'not a JSON object (a list)'
    """
    try:
        text = raw.decode("utf-8")  # msgspec does not check the UTF-8 of the strings it skips
    except UnicodeDecodeError as exc:
        return f"not UTF-8 ({exc.reason} at byte {exc.start})"
    decoder = None if strict else _fast_decoder(metrics)
    if decoder is not None:
        try:
            doc_id, doc, target, filt, *values = astuple(decoder.decode(raw))
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, ValueError):
            pass  # json.loads decides
        else:
            present = None
            if _UNSET in values:
                present = [v is not _UNSET for v in values]
                values = [math.nan if v is _UNSET else v for v in values]
            if None in values:
                values = [math.nan if v is None else v for v in values]
            digits = _MISSING if doc is _UNSET or doc.answer_digits is _UNSET else doc.answer_digits
            return (
                _MISSING if doc_id is _UNSET else doc_id,
                digits,
                _MISSING if target is _UNSET else target,
                _MISSING if filt is _UNSET else filt,
                values,
                present,
            )
    return _strict(text, metrics)


def _doc_ids(ids: list) -> np.ndarray:
    """int64 when every id is an integer in range, else the ids' JSON texts."""
    if set(map(type, ids)) <= {int}:
        try:
            return np.array(ids, dtype=np.int64)
        except OverflowError:
            pass
    return np.array([json.dumps(i) for i in ids], dtype=str)


def read_samples(
    path: str | os.PathLike,
    metrics: Sequence[str],
    *,
    strict: bool = False,
    hasher: Callable[[bytes], None] | None = None,
) -> FileSamples:
    """Stream one samples file into a :class:`FileSamples` of ``metrics``.

    A line that is not UTF-8, not JSON (too deeply nested included) or not an object is skipped and named in
    the notes; a bad ``doc.answer_digits`` leaves the line out of the split by digits only. ``hasher`` is fed
    every byte of the file (for the cache key). ``strict``: every line by ``json.loads`` (same result, slower).
    """
    metrics = tuple(sorted(set(metrics)))
    notes: list[tuple[int, str]] = []
    skipped = lines = 0
    ids: list = []
    digits: list[float] = []
    codes: list[int] = []
    filters: dict[str, int] = {}
    rows: list[list[float]] = []
    partial: dict[int, list[bool]] = {}  # kept line -> which metrics it holds, where not all
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):
            if hasher is not None:
                hasher(raw)
            if not raw.strip():
                continue
            lines += 1
            found = line_values(raw, metrics, strict=strict)
            if type(found) is str:
                skipped += 1
                if skipped <= MAX_NOTES_PER_FILE:
                    notes.append((lineno, f"{found}; line skipped"))
                continue
            doc_id, answer_digits, target, filt, values, present = found
            try:
                d = _target_digits(answer_digits, "" if target is _MISSING else target)
            except ValueError as exc:
                d = math.nan
                notes.append((lineno, f"{exc}; the line is left out of the split by answer digits"))
            if present is not None and not all(present):
                partial[len(ids)] = present
            ids.append(lineno - 1 if doc_id is _MISSING else doc_id)
            digits.append(d)
            name = "none" if filt is _MISSING else filt if type(filt) is str else str(filt)
            codes.append(filters.setdefault(name, len(filters)))
            rows.append(values)
    if skipped > MAX_NOTES_PER_FILE:
        notes.append((0, f"{skipped} lines skipped in all (the first {MAX_NOTES_PER_FILE} are named above)"))
    values = np.array(rows, dtype=np.float64).reshape(len(ids), len(metrics)).T.copy()
    mask = None
    if partial:
        mask = np.ones(values.shape, dtype=bool)
        for i, present in partial.items():
            mask[:, i] = present
    return FileSamples(
        doc_id=_doc_ids(ids),
        target_digits=np.array(digits, dtype=np.float64),
        filter_code=np.array(codes, dtype=np.int32),
        filters=tuple(filters),
        metrics=metrics,
        values=values,
        present=mask,
        notes=tuple(notes),
        skipped=skipped,
        lines=lines,
    )
