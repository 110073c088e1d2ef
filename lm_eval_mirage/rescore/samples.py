"""Streaming reader of the harness's ``samples_<task>_<timestamp>.jsonl`` files.

One JSON object per line, written by ``lm_eval --log_samples`` (``EvaluationTracker.save_results_samples``)
with ``json.dumps`` defaults, keys in this order::

    {"doc_id": 0, "doc": {...}, "target": "109", "arguments": {...}, "resps": [[...]],
     "filtered_resps": [...], "filter": "parsed", "metrics": [...], "doc_hash": ..., "prompt_hash": ...,
     "target_hash": ..., <per-sample metric values>}

``resps`` and ``filtered_resps`` are stringified (``"-1.5"``, ``"False"``). The runner reads lines as bytes and
decodes them one by one, so a torn UTF-8 character costs one line, not the file. Only JSON is parsed, never
YAML or pickle.

Generation samples have a fast path (:func:`generation_fields`) that decodes only the fields re-scoring
needs (``doc_id``, ``target``, ``filtered_resps``, ``filter``) after checking the line's frame: it starts
with ``{"doc_id": ``, ends with ``}`` and a newline (a line cut by a killed job has no newline), holds
exactly one ``"doc_id"`` key (two lines run together are rejected), and the decoded fields sit between the
harness's own neighbouring keys (``target`` before ``arguments``; ``filtered_resps``, ``filter``, ``metrics``
and ``doc_hash`` in a row). Anything else falls back to a full ``json.loads`` of the line. ``strict``
mode parses every line fully.
"""

from __future__ import annotations

import ast
import json
import json.scanner
from typing import Any

__all__ = ["SampleError", "parse_sample", "generation_fields", "parse_bool", "parse_target_list"]

_DECODER = json.JSONDecoder()
# The C scanner behind raw_decode, called directly: (value, end) at an index without leading whitespace.
_scan = json.scanner.make_scanner(_DECODER)
_HEAD = '{"doc_id": '  # 11 characters; the lengths below are written out in generation_fields
_FILTERED = ', "filtered_resps": '  # 20
_FILTER = ', "filter": '  # 12
_METRICS = ', "metrics": '  # 13
_DOC_HASH = ', "doc_hash": '
_TARGET = ', "target": '  # 12
_ARGUMENTS = ', "arguments": '


class SampleError(ValueError):
    """A sample that cannot be re-scored; the message says why (reported with file and line)."""


def parse_sample(text: str) -> dict[str, Any]:
    """Parse one line fully; a cut or malformed line raises :class:`SampleError`."""
    try:
        sample = json.loads(text)
    except json.JSONDecodeError as exc:
        end = len(text.rstrip())
        if exc.pos >= end or exc.msg.startswith("Unterminated string"):  # stops inside: cut by a killed writer
            raise SampleError(f"truncated JSON (the line ends after {end} characters, inside the object)") from None
        raise SampleError(f"malformed JSON ({exc.msg} at character {exc.pos + 1})") from None
    if not isinstance(sample, dict):
        raise SampleError(f"a sample must be a JSON object, got {type(sample).__name__}")
    return sample


def generation_fields(text: str) -> tuple[Any, Any, Any, Any] | None:
    """``(doc_id, target, filtered_resps, filter)`` decoded from a line in the harness's layout, or ``None``
    when the line is not in that exact layout (the caller then parses it fully)."""
    if not text.startswith(_HEAD) or not text.endswith("}\n") or text.count('"doc_id": ') != 1:
        return None
    try:
        comma = text.find(",", 11)
        doc_id = int(text[11:comma]) if 11 < comma < 32 and text[11:comma].isdigit() else _scan(text, 11)[0]
        i = text.rfind(_FILTERED)
        if i < 0:
            return None
        filtered, end = _scan(text, i + 20)
        if not text.startswith(_FILTER, end):
            return None
        filt, end = _scan(text, end + 12)
        if not text.startswith(_METRICS, end):
            return None
        _, end = _scan(text, end + 13)
        if not text.startswith(_DOC_HASH, end):  # a look-alike nested in a per-sample metric value stops here
            return None
        t = text.rfind(_TARGET, 0, i)
        if t < 0:
            return None
        target, end = _scan(text, t + 12)
        if not text.startswith(_ARGUMENTS, end):
            return None
    except (StopIteration, ValueError, IndexError):
        return None
    return doc_id, target, filtered, filt


def parse_bool(value: Any, name: str) -> bool:
    """The harness's stringified bools (``"True"``/``"False"``) or JSON bools; anything else raises.

    Example:
        >>> parse_bool("False", "is_greedy"), parse_bool(True, "is_greedy")
        (False, True)
    """
    if isinstance(value, bool):
        return value
    if value in ("True", "False"):
        return value == "True"
    raise SampleError(f"{name} must be 'True' or 'False', got {value!r}")


def parse_target_list(target: str) -> list[Any] | None:
    """A target logged as ``str(list)`` (a task with several targets) as a list; ``None`` otherwise.

    Uses ``ast.literal_eval`` (literals only, never code).

    Example:
        >>> parse_target_list("['4', 'four']")
        ['4', 'four']
        >>> parse_target_list("[0, 2]")
        [0, 2]
        >>> parse_target_list("124") is None
        True
    """
    s = target.strip()
    if not (s.startswith("[") and s.endswith("]")):
        return None
    try:
        value = ast.literal_eval(s)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, list) and value else None
