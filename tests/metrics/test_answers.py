from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lm_eval_mirage.metrics.answers import FIRST_INTEGER, digit_accuracy, exact_match, parse_answer


@pytest.mark.parametrize(
    "output, expected",
    [
        (" 124", "124"),
        (" 124\nQ: What is 1 plus 2?", "124"),
        ("-7", "-7"),
        ("A: -7 apples", "-7"),
        ("007", "007"),
        ("12.5", "12"),
        ("1,234", "1"),
        ("no digits", ""),
        ("", ""),
        (None, ""),
        ("١٢٣", ""),  # non-ASCII digits are not parsed as numbers
        ("x" * 100_000 + "5", ""),  # beyond the scan cap
    ],
)
def test_parse_answer(output, expected):
    assert parse_answer(output) == expected


def test_regex_matches_the_task_filter():
    # The YAML's `parsed` filter uses the same pattern; keep them in step.
    assert FIRST_INTEGER == r"-?\d+"
    assert re.findall(FIRST_INTEGER, "a -3 b 4") == ["-3", "4"]


@pytest.mark.parametrize(
    "target, output, expected",
    [("124", "124", 1.0), ("124", " 124 ", 1.0), ("124", "0124", 0.0), ("124", "", 0.0), ("", "", 1.0), ("124", None, 0.0)],
)
def test_exact_match(target, output, expected):
    assert exact_match(target, output) == expected


@pytest.mark.parametrize(
    "target, output, expected",
    [
        ("124", "124", 1.0),
        ("124", "134", 2 / 3),
        ("124", "24", 2 / 3),  # right-aligned: units and tens agree, hundreds missing
        ("24", "124", 2 / 3),  # an extra leading digit costs a position too
        ("1024", "24", 0.5),
        ("124", "421", 1 / 3),
        ("124", "", 0.0),
        ("", "", 1.0),
        ("-12", "12", 2 / 3),
    ],
)
def test_digit_accuracy(target, output, expected):
    assert digit_accuracy(target, output) == pytest.approx(expected)


digits = st.text(alphabet="0123456789", max_size=25)


@given(digits, digits)
def test_digit_accuracy_bounds_and_identity(t, o):
    da = digit_accuracy(t, o)
    assert 0.0 <= da <= 1.0
    assert (da == 1.0) == (t == o)
    assert da == digit_accuracy(o, t)
