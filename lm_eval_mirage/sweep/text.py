"""How values from files (the sweep file, the state folder, job logs) are shown: one short line, always.

A value from a file may be huge (a string of megabytes, a list nested a thousand deep) or hold control
characters (a line break or a terminal escape sequence in an error line). :func:`show_value` is a bounded
``repr``: its work and its length do not depend on the size of the value. :func:`printable` makes a text
one line that cannot move the terminal's cursor. No import beyond the standard library: job steps use this.
"""

from __future__ import annotations

import re
import reprlib
from typing import Any

__all__ = ["CONTROL_CHARACTERS", "escape_controls", "printable", "show_value"]

#: C0 controls, DEL, C1 controls (U+0085 NEL among them), and the Unicode line and paragraph separators
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


class _BoundedRepr(reprlib.Repr):
    """reprlib with small limits; strings are cut before ``repr`` (the default reprs the whole string first)."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxtuple = self.maxlist = self.maxarray = self.maxdict = self.maxset = self.maxfrozenset = (
            self.maxdeque
        ) = 10
        self.maxstring = self.maxother = self.maxlong = 200

    def repr_str(self, x: str, level: int) -> str:
        return repr(x[: self.maxstring])

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 600:  # about 180 digits: past that, and past 4300 digits repr() refuses
            return f"<integer of {x.bit_length()} bits>"
        return repr(x)


_REPR = _BoundedRepr()


def show_value(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, at a cost that does not grow with the value.

    Example:
        >>> show_value("step1\\ntouch x")
        "'step1\\\\ntouch x'"
        >>> bomb = ["lol"] * 9
        >>> for _ in range(8):
        ...     bomb = [bomb] * 9   # 9**9 strings, shared: what a YAML alias bomb builds
        >>> len(show_value(bomb)) <= 80
        True
    """
    text = _REPR.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def escape_controls(text: str) -> str:
    r"""``text`` with each control character or line separator written as its escape (``\n``, ``\x1b``, ``\u2028``)."""
    return CONTROL_CHARACTERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def printable(text: str, limit: int = 300) -> str:
    r"""``text`` as one line without control characters (written as escapes such as ``\x1b``), cut to ``limit``.

    Example:
        >>> printable("OSError: bad\x1b[2J\nnext")
        'OSError: bad\\x1b[2J\\nnext'
    """
    text = escape_controls(text[: limit * 4])  # an escape is at most 6 characters: enough is kept to fill limit
    return text if len(text) <= limit else text[: limit - 3] + "..."
