from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lm_eval_mirage.metrics.answers import FIRST_INTEGER, MAX_ANSWER_DIGITS, digit_accuracy, exact_match, parse_answer


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
        # the first integer is found wherever it starts (data from the outside reliability test)
        (" " * 9000 + "42", "42"),
        ("x" * 8191 + "42", "42"),
        ("x" * 100_000 + "5", "5"),
        ("-" * 50_000 + "7", "-7"),
    ],
)
def test_parse_answer(output, expected):
    assert parse_answer(output) == expected


def test_parse_answer_caps_the_digits_returned_not_where_they_start():
    assert parse_answer("9" * 5000) == "9" * MAX_ANSWER_DIGITS
    assert parse_answer("a " * 10_000 + "-" + "1" * 3000 + " 2") == "-" + "1" * MAX_ANSWER_DIGITS
    # the task YAML's filter (no cap) agrees on every answer within the cap
    for out in ("x" * 8191 + "42", " " * 9000 + "-42 7", "1" * MAX_ANSWER_DIGITS):
        assert parse_answer(out) == re.search(FIRST_INTEGER, out).group(0)


@pytest.mark.parametrize("bad", [{"a": 1}, 42, ["42"], b"42", True])
def test_non_text_is_a_value_error_naming_the_argument(bad):
    with pytest.raises(ValueError, match="output must be a string or None"):
        parse_answer(bad)
    with pytest.raises(ValueError, match="target must be a string or None"):
        exact_match(bad, "1")
    with pytest.raises(ValueError, match="output must be a string or None"):
        digit_accuracy("1", bad)


def test_regex_matches_the_task_filter():
    # The YAML's `parsed` filter uses the same pattern; keep them in step.
    assert FIRST_INTEGER == r"-?\d+"
    assert re.findall(FIRST_INTEGER, "a -3 b 4") == ["-3", "4"]


@pytest.mark.parametrize(
    "target, output, expected",
    [
        ("124", "124", 1.0),
        ("124", " 124 ", 1.0),
        ("124", "0124", 0.0),
        ("124", "", 0.0),
        ("", "", 1.0),
        ("124", None, 0.0),
    ],
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
