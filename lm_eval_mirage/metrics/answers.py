"""Numeric answers: parsing a model's output, exact match and digit accuracy.

The parsing rule is the one the plugin's tasks use (and document): the answer is the first integer in the
output, sign kept (``-?\\d+``); an output without digits parses to ``""``.

Inputs are strings or ``None`` (the empty text); anything else is a ``ValueError`` naming the argument.
"""

from __future__ import annotations

import re

from lm_eval_mirage.metrics._checks import text
from lm_eval_mirage.metrics.edit_distance import MAX_TOKENS, normalize_text

__all__ = ["FIRST_INTEGER", "MAX_ANSWER_DIGITS", "parse_answer", "exact_match", "digit_accuracy"]

#: The regular expression of the parsing rule (also used in the task YAMLs' ``parsed`` filter).
FIRST_INTEGER = r"-?\d+"
#: :func:`parse_answer` returns at most this many digits of the first integer (its first ones, sign kept).
#: No task's answer comes close (20 digits), and edit distances count at most ``MAX_TOKENS`` tokens anyway.
MAX_ANSWER_DIGITS = MAX_TOKENS
# ASCII: "٣" (Arabic three) is not a digit here. The bounded repeat caps the returned digits, never where
# the integer may start: the search is one left-to-right scan, O(len(output)), whatever precedes the digits.
_FIRST_INTEGER = re.compile(rf"-?\d{{1,{MAX_ANSWER_DIGITS}}}", flags=re.ASCII)


def parse_answer(output: str | None) -> str:
    """Return the first integer in ``output`` (sign kept) or ``""`` when there is none.

    The integer is found wherever it starts (no prefix of the output is cut off); an integer longer than
    :data:`MAX_ANSWER_DIGITS` digits is returned as its first ``MAX_ANSWER_DIGITS`` digits.

    Example:
        >>> parse_answer(" 124\\nQ: What is")
        '124'
        >>> parse_answer("A: -7 apples")
        '-7'
        >>> parse_answer("no digits")
        ''
        >>> parse_answer(" " * 9000 + "42"), parse_answer("x" * 8191 + "42")
        ('42', '42')
    """
    output = text(output, "output")
    match = _FIRST_INTEGER.search(output)
    return match.group(0) if match else ""


def exact_match(target: str | None, output: str | None) -> float:
    """1.0 if the normalized output equals the normalized target, else 0.0.

    Normalization strips surrounding whitespace only; parse first (:func:`parse_answer`) for the
    parsed-answer variant.

    Example:
        >>> exact_match("124", " 124 ")
        1.0
        >>> exact_match("124", "0124")
        0.0
    """
    return float(normalize_text(text(target, "target")) == normalize_text(text(output, "output")))


def digit_accuracy(target: str | None, output: str | None) -> float:
    """Fraction of right-aligned digit positions that agree, over the longer of the two answers.

    ``DA = #{i < min(|t|, |o|) : t[-1-i] == o[-1-i]} / max(|t|, |o|)`` on the normalized strings, so units
    are compared with units, tens with tens, and a missing or extra leading digit costs one position.
    Two empty strings give 1.0; higher is better; exactly 1.0 iff the strings are equal.

    Example:
        >>> digit_accuracy("124", "134")
        0.6666666666666666
        >>> digit_accuracy("1024", "24")
        0.5
        >>> digit_accuracy("124", "")
        0.0
    """
    t = normalize_text(text(target, "target"))[:MAX_TOKENS]
    o = normalize_text(text(output, "output"))[:MAX_TOKENS]
    longest = max(len(t), len(o))
    if longest == 0:
        return 1.0
    same = sum(1 for x, y in zip(reversed(t), reversed(o)) if x == y)
    return same / longest
