from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_mirage.metrics.edit_distance import (
    MAX_TOKENS,
    char_tokens,
    normalized_edit_distance,
    token_edit_distance,
    tokenizer_tokens,
)


def levenshtein_oracle(a, b) -> int:
    """Textbook dynamic programme, used only as an independent check."""
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


@pytest.mark.parametrize(
    "target, output, expected",
    [
        ("124", "124", 0),
        ("124", " 124\n", 0),  # surrounding whitespace is not a token
        ("124", "134", 1),  # one substitution
        ("124", "1234", 1),  # one insertion
        ("124", "24", 1),  # one deletion
        ("124", "421", 2),
        ("124", "", 3),
        ("", "", 0),
        ("-12", "12", 1),  # the sign is a token
        ("100", "99", 3),
        ("1328", "abc", 4),
    ],
)
def test_hand_computed(target, output, expected):
    assert token_edit_distance(target, output) == expected


@pytest.mark.parametrize("output", [None, "", "   ", "\n\t", "héllo wörld ✓", "١٢٣", "\x00\x01", "12" * 500_000])
def test_any_output_gives_a_defined_value(output):
    d = token_edit_distance("124", output)
    nd = normalized_edit_distance("124", output)
    assert isinstance(d, int) and d >= 0
    assert 0.0 <= nd <= 1.0


def test_long_outputs_are_cut_at_the_documented_cap():
    huge = "7" * 1_000_000
    # Cut to MAX_TOKENS characters: distance to "7" is MAX_TOKENS - 1, not 999,999.
    assert token_edit_distance("7", huge) == MAX_TOKENS - 1
    assert normalized_edit_distance("7", huge) == pytest.approx((MAX_TOKENS - 1) / MAX_TOKENS)


def test_normalized_hand_values():
    assert normalized_edit_distance("124", "134") == pytest.approx(1 / 3)
    assert normalized_edit_distance("12", "1234") == 0.5
    assert normalized_edit_distance("124", "") == 1.0
    assert normalized_edit_distance("", "") == 0.0


def test_char_tokens():
    assert char_tokens("  -120\n") == ["-", "1", "2", "0"]


text = st.text(alphabet=st.sampled_from("0123456789-ab é"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(text, text)
def test_matches_oracle_symmetric_and_bounded(a, b):
    d = token_edit_distance(a, b)
    ta, tb = char_tokens(a), char_tokens(b)
    assert d == levenshtein_oracle(ta, tb)
    assert d == token_edit_distance(b, a)
    assert d <= max(len(ta), len(tb))
    assert (d == 0) == (ta == tb)


@settings(max_examples=200, deadline=None)
@given(text, text, text)
def test_triangle_inequality(a, b, c):
    assert token_edit_distance(a, c) <= token_edit_distance(a, b) + token_edit_distance(b, c)


def test_model_tokenizer_option(tiny_model):
    from transformers import AutoTokenizer

    tokenize = tokenizer_tokens(str(tiny_model))
    tok = AutoTokenizer.from_pretrained(tiny_model)
    assert tokenize(" 124 ") == tok.encode("124", add_special_tokens=False)
    # The tiny model's tokenizer is one token per character, so distances agree with the default.
    assert token_edit_distance("1234", "1294", tokenize=tokenize) == 1


def test_custom_tokenize_counts_in_its_tokens():
    words = str.split
    assert token_edit_distance("twelve thousand", "twelve hundred", tokenize=words) == 1
    assert normalized_edit_distance("a b c", "a b", tokenize=words) == pytest.approx(1 / 3)
