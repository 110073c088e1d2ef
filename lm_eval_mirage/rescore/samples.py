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
needs (``doc_id``, ``target``, ``filtered_resps``, ``filter``) with ``msgspec``, which still checks the
syntax of the whole line (the fields it skips, ``doc`` included, must be valid JSON too). A line it does not
accept is parsed by ``json.loads`` (:func:`parse_sample`), which decides: so the fast path and ``--strict``
(every line by ``json.loads``) skip the same lines and read the same values.

Log-likelihoods (``loglikelihood`` and ``multiple_choice`` samples) are checked where they are read
(:func:`check_loglikelihoods`): a JSON ``true``, a positive number, NaN or ``+inf`` is not a log-likelihood.
"""

from __future__ import annotations

import ast
import json
import math
from typing import Any

import msgspec

from lm_eval_mirage.metrics.likelihood import LOGPROB_TOLERANCE

__all__ = [
    "SampleError",
    "parse_sample",
    "generation_fields",
    "parse_loglikelihood",
    "check_loglikelihoods",
    "parse_bool",
    "parse_target_list",
]


class _GenerationFields(msgspec.Struct):
    """The four fields a generation sample is scored from; msgspec skips (and validates) the rest."""

    doc_id: Any
    target: Any
    filtered_resps: Any
    filter: Any


_FAST = msgspec.json.Decoder(_GenerationFields)


class SampleError(ValueError):
    """A sample that cannot be re-scored; the message says why (reported with file and line)."""


def parse_sample(text: str) -> dict[str, Any]:
    """Parse one line fully; a cut, malformed or unreadable line raises :class:`SampleError`.

    Example:
        >>> parse_sample('{"doc_id": 1}')
        {'doc_id': 1}
        >>> parse_sample('{"doc_id": ' + '[' * 100000)
        Traceback (most recent call last):
        ...
        lm_eval_mirage.rescore.samples.SampleError: JSON nested deeper than the reader allows
    """
    try:
        sample = json.loads(text)
    except json.JSONDecodeError as exc:
        end = len(text.rstrip())
        if exc.pos >= end or exc.msg.startswith("Unterminated string"):  # stops inside: cut by a killed writer
            raise SampleError(f"truncated JSON (the line ends after {end} characters, inside the object)") from None
        raise SampleError(f"malformed JSON ({exc.msg} at character {exc.pos + 1})") from None
    except RecursionError:
        raise SampleError("JSON nested deeper than the reader allows") from None
    except ValueError as exc:  # e.g. an integer of more than sys.get_int_max_str_digits() digits
        raise SampleError(f"unreadable JSON ({str(exc).split(';')[0]})") from None
    if not isinstance(sample, dict):
        raise SampleError(f"a sample must be a JSON object, got {type(sample).__name__}")
    return sample


def generation_fields(text: str) -> tuple[Any, Any, Any, Any] | None:
    """``(doc_id, target, filtered_resps, filter)`` of a line that is valid JSON throughout, or ``None`` when
    this reader declines it (the caller then parses it with :func:`parse_sample`, which decides).

    Values equal ``json.loads``'s (duplicate keys: the last wins in both); numbers msgspec cannot hold
    (NaN literals, integers beyond 64 bits, ``1e400``) and lone surrogates are declined.

    Example:
        >>> generation_fields('{"doc_id": 3, "doc": {}, "target": "7", "filtered_resps": ["7"], "filter": "none"}')
        (3, '7', ['7'], 'none')
        >>> generation_fields('{"doc_id": 3, "doc": {,}, "target": "7", "filtered_resps": ["7"], "filter": "none"}') is None
        True
    """
    try:
        f = _FAST.decode(text)
    except Exception:  # noqa: BLE001 - any refusal (syntax, range, depth, encoding): json.loads decides
        return None
    return f.doc_id, f.target, f.filtered_resps, f.filter


def parse_loglikelihood(value: Any, name: str) -> float:
    """A logged log-likelihood (a JSON number or the harness's stringified float) as a float.

    A log-likelihood is a sum of log-probabilities: a number in ``[-inf, 0]`` (up to ``LOGPROB_TOLERANCE``
    above 0, float32 rounding). A bool (``true`` would read as 1.0), NaN, ``+inf`` or a positive number is
    refused with :class:`SampleError` naming ``name``.

    Example:
        >>> parse_loglikelihood("-1.5", "filtered_resps[0][0]"), parse_loglikelihood(float("-inf"), "x")
        (-1.5, -inf)
        >>> parse_loglikelihood(True, "filtered_resps[0][0]")
        Traceback (most recent call last):
        ...
        lm_eval_mirage.rescore.samples.SampleError: filtered_resps[0][0] must be a log-likelihood (a number <= 0), got True
    """
    x = None
    if (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
        isinstance(value, str) and len(value) <= 64 and "_" not in value
    ):
        try:
            x = float(value)
        except (ValueError, OverflowError):
            x = None
    if x is None or math.isnan(x) or x > LOGPROB_TOLERANCE:
        raise SampleError(f"{name} must be a log-likelihood (a number <= 0), got {_short(value)}")
    return x


def check_loglikelihoods(filtered: Any) -> None:
    """Check every ``(loglikelihood, is_greedy)`` pair of a ``loglikelihood``/``multiple_choice`` sample's
    ``filtered_resps``; the :class:`SampleError` names the first bad one by its key path.

    Example:
        >>> check_loglikelihoods([["-0.5", "False"], [-2.0, False]])
        >>> check_loglikelihoods([["-0.5", "False"], ["3.8", "False"]])
        Traceback (most recent call last):
        ...
        lm_eval_mirage.rescore.samples.SampleError: filtered_resps[1][0] must be a log-likelihood (a number <= 0), got '3.8'
    """
    if not isinstance(filtered, list) or not filtered:
        raise SampleError(
            f"filtered_resps must be a non-empty list of (loglikelihood, is_greedy) pairs, got {_short(filtered)}"
        )
    for i, pair in enumerate(filtered):
        if not isinstance(pair, list) or len(pair) != 2:
            raise SampleError(f"filtered_resps[{i}] must be a (loglikelihood, is_greedy) pair, got {_short(pair)}")
        parse_loglikelihood(pair[0], f"filtered_resps[{i}][0]")
        parse_bool(pair[1], f"filtered_resps[{i}][1]")


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) or len(value) < limit else repr(value[:limit]) + "..."
    return text if len(text) <= limit + 3 else text[:limit] + "..."


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
