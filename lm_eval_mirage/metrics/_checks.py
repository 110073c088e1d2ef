"""Input checks shared by the pure metric functions: every bad input is a ``ValueError`` naming the argument.

Metrics take what a results or samples file held, so they meet JSON ``true``, dicts, 5000-digit integers and
ragged lists. The rules, the same for every metric:

- a number is an ``int``, ``float`` or numpy integer / floating scalar; ``bool`` is not a number here (JSON
  ``true`` would silently count as 1.0), and neither is a numeric string;
- an integer too large for float64 is refused, not an ``OverflowError``;
- a text is a ``str`` (numpy strings included) or ``None`` (the empty text);
- error messages show a bounded description of the value, so a huge input never costs a huge message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["describe", "real", "real_array", "text"]

_REALS = (int, float, np.integer, np.floating)
_BOOLS = (bool, np.bool_)


def describe(value: Any, limit: int = 60) -> str:
    """A short, safe description of ``value`` for an error message.

    Example:
        >>> describe(10**5000)
        'an int of 16610 bits'
        >>> describe("x" * 100)
        "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx... (102 chars)"
        >>> describe({"a": 1})
        "{'a': 1}"
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return f"an int of {value.bit_length()} bits"
    if isinstance(value, np.ndarray) and value.size > 8:
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"a {type(value).__name__} of {len(value)} items"
    try:
        text_ = repr(value)
    except Exception:  # noqa: BLE001 - a hostile __repr__ (or a nested huge int) must not replace the real error
        return f"a {type(value).__name__}"
    return text_ if len(text_) <= limit else f"{text_[: limit - 6]}... ({len(text_)} chars)"


def real(value: Any, name: str) -> float:
    """``value`` as a float64, or a ``ValueError`` naming ``name`` (bools, strings, dicts, huge ints).

    NaN and infinities pass through: callers decide which of them are allowed.

    Example:
        >>> real(3, "x"), real(float("-inf"), "x")
        (3.0, -inf)
        >>> real(True, "logliks[0]")
        Traceback (most recent call last):
        ...
        ValueError: logliks[0] must be a number (bool is not), got True
    """
    if type(value) is float:  # the common case, first: a few hundred nanoseconds matter per sample
        return value
    if isinstance(value, _BOOLS):
        raise ValueError(f"{name} must be a number (bool is not), got {value!r}")
    if not isinstance(value, _REALS):
        raise ValueError(f"{name} must be a number, got {type(value).__name__} {describe(value)}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a number representable as a float64, got {describe(value)}") from None


_PLAIN = frozenset({float, int})


def _has_bool(values: Any, depth: int = 0) -> bool:
    if isinstance(values, _BOOLS):
        return True
    if isinstance(values, (list, tuple)) and depth < 32:
        kinds = set(map(type, values))  # one C-level pass; recurse only into nested lists
        if kinds <= _PLAIN:
            return False
        return any(_has_bool(v, depth + 1) for v in values if type(v) not in _PLAIN)
    return False


def real_array(values: Any, name: str, *, allow_bool: bool = False) -> np.ndarray:
    """``values`` (an array or a rectangular nest of lists) as a float64 array, or a ``ValueError`` naming ``name``.

    Example:
        >>> real_array([[1, 2.5]], "x").tolist()
        [[1.0, 2.5]]
        >>> real_array([0.0, True], "logliks")
        Traceback (most recent call last):
        ...
        ValueError: logliks must hold numbers, not bools
        >>> real_array([[1.0], [1.0, 2.0]], "x")
        Traceback (most recent call last):
        ...
        ValueError: x must be a rectangular array of numbers (ragged or nested too deeply)
    """
    if type(values) is np.ndarray and values.dtype == np.float64:
        return values
    if isinstance(values, (str, bytes, Mapping, set, frozenset)) or values is None:
        raise ValueError(
            f"{name} must be an array or a sequence of numbers, got {type(values).__name__} {describe(values)}"
        )
    if not allow_bool and _has_bool(values):
        raise ValueError(f"{name} must hold numbers, not bools")
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError, OverflowError, RecursionError):
        raise ValueError(f"{name} must be a rectangular array of numbers (ragged or nested too deeply)") from None
    kind = arr.dtype.kind
    if kind == "b":
        if not allow_bool:
            raise ValueError(f"{name} must hold numbers, not bools")
        return arr.astype(np.float64)
    if kind in "iu" or (kind == "f" and arr.dtype.itemsize <= 8):
        return arr.astype(np.float64, copy=False)
    if kind == "f":  # float128 beyond float64 becomes inf, which callers refuse as non-finite
        with np.errstate(over="ignore"):
            return arr.astype(np.float64)
    if kind == "O":
        flat = []
        for v in arr.ravel().tolist():
            if allow_bool and isinstance(v, _BOOLS):
                v = int(v)
            flat.append(real(v, f"{name} (an element)"))
        return np.asarray(flat, dtype=np.float64).reshape(arr.shape)
    raise ValueError(f"{name} must hold numbers, got an array of dtype {arr.dtype}")


def text(value: Any, name: str) -> str:
    """``value`` if it is a string, ``""`` for ``None``; anything else is a ``ValueError`` naming ``name``.

    Example:
        >>> text(None, "output"), text(" 12", "output")
        ('', ' 12')
        >>> text(12, "target")
        Traceback (most recent call last):
        ...
        ValueError: target must be a string or None, got int 12
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return str(value)
    raise ValueError(f"{name} must be a string or None, got {type(value).__name__} {describe(value)}")
