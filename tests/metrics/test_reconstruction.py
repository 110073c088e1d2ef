"""Tests of lm_eval_mirage.metrics.reconstruction: hand tables, a pure-Python oracle, properties, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_mirage.metrics.reconstruction import (
    mean_squared_error,
    per_image_squared_error,
    pixel_accuracy,
    pixels_correct,
    reconstruction_c,
    subset_accuracy,
)


# ---- independent oracles: plain Python loops over nested lists, no numpy --------------------------------
def oracle_errors(x: list[list[float]], x_hat: list[list[float]]) -> list[float]:
    return [sum((a - b) ** 2 for a, b in zip(row, row_hat, strict=True)) for row, row_hat in zip(x, x_hat, strict=True)]


def oracle_reconstruction_c(x, x_hat, c):
    errors = oracle_errors(x, x_hat)
    return sum(1 for e in errors if e < c) / len(errors)


def oracle_subset_accuracy(x, x_hat, tol):
    return sum(
        1
        for row, row_hat in zip(x, x_hat, strict=True)
        if all(abs(a - b) < tol for a, b in zip(row, row_hat, strict=True))
    ) / len(x)


# ---- hand-computed table ---------------------------------------------------------------------------------
# Three 2x2 "images" (K = 4 pixels). Squared errors per image: 0.0, 0.5 (two pixels off by 0.5), 1.0.
X = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.5, 0.5], [0.5, 0.5]], [[1.0, 1.0], [0.0, 0.0]]])
X_HAT = np.array([[[0.0, 1.0], [1.0, 0.0]], [[0.0, 1.0], [0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]]])


def test_hand_table_errors_and_mse():
    assert per_image_squared_error(X, X_HAT).tolist() == [0.0, 0.5, 1.0]
    # (0 + 0.5 + 1.0) / (3 images * 4 pixels)
    assert mean_squared_error(X, X_HAT) == pytest.approx(1.5 / 12)


@pytest.mark.parametrize(
    ("c", "expected"),
    [(1e-9, 1 / 3), (0.5, 1 / 3), (0.5000001, 2 / 3), (1.0, 2 / 3), (1.01, 1.0), (100.0, 1.0)],
)
def test_hand_table_reconstruction_c(c, expected):
    assert reconstruction_c(X, X_HAT, c) == pytest.approx(expected)


@pytest.mark.parametrize(("tol", "pixel", "subset"), [(0.1, 6 / 12, 1 / 3), (0.5, 6 / 12, 1 / 3), (0.51, 1.0, 1.0)])
def test_hand_table_pixel_and_subset_accuracy(tol, pixel, subset):
    assert pixel_accuracy(X, X_HAT, tol=tol) == pytest.approx(pixel)
    assert subset_accuracy(pixels_correct(X, X_HAT, tol=tol)) == pytest.approx(subset)


def test_flat_and_shaped_images_agree():
    flat = X.reshape(3, -1)
    assert reconstruction_c(flat, X_HAT.reshape(3, -1), 0.75) == reconstruction_c(X, X_HAT, 0.75)
    assert mean_squared_error(flat, X_HAT.reshape(3, -1)) == mean_squared_error(X, X_HAT)


def test_perfect_and_worst_reconstruction():
    x = np.random.default_rng(0).integers(0, 17, size=(10, 64)) / 16  # grey levels: x + 1 - x is exactly 1
    assert mean_squared_error(x, x) == 0.0
    assert reconstruction_c(x, x, 1e-12) == 1.0
    assert subset_accuracy(pixels_correct(x, x, tol=1e-12)) == 1.0
    assert reconstruction_c(x, x + 1.0, 64.0) == 0.0  # error exactly 64 = c: strict <
    assert mean_squared_error(x, x + 1.0) == pytest.approx(1.0)


def test_subset_accuracy_accepts_zero_one_and_matches_all_of_k():
    table = [[1, 1, 1, 1], [1, 0, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]]
    assert subset_accuracy(table) == 0.5
    assert subset_accuracy(np.array(table, dtype=bool)) == 0.5
    assert subset_accuracy([[True]]) == 1.0


def test_subset_accuracy_is_p_to_the_k_for_independent_parts():
    # The mirage in one line: per-part accuracy p is smooth, all-of-K is about p**K.
    rng = np.random.default_rng(1)
    p, k = 0.9, 20
    correct = rng.random((200_000, k)) < p
    assert subset_accuracy(correct) == pytest.approx(p**k, abs=0.005)
    assert float(correct.mean()) == pytest.approx(p, abs=0.005)


# ---- properties against the oracle -------------------------------------------------------------------
pixel = st.floats(min_value=0.0, max_value=1.0, allow_nan=False, allow_infinity=False)


@st.composite
def image_pairs(draw):
    n = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    rows = st.lists(st.lists(pixel, min_size=k, max_size=k), min_size=n, max_size=n)
    return draw(rows), draw(rows)


@settings(max_examples=150, deadline=None)
@given(image_pairs(), st.floats(min_value=1e-6, max_value=6.0))
def test_reconstruction_c_matches_oracle(pair, c):
    x, x_hat = pair
    errors = oracle_errors(x, x_hat)
    if any(math.isclose(e, c, rel_tol=1e-9, abs_tol=1e-12) for e in errors):
        return  # on the boundary, summation order may decide; the hand table pins the strict < instead
    assert reconstruction_c(x, x_hat, c) == pytest.approx(oracle_reconstruction_c(x, x_hat, c))


@settings(max_examples=150, deadline=None)
@given(image_pairs(), st.floats(min_value=1e-6, max_value=1.0))
def test_subset_accuracy_matches_oracle_and_bounds(pair, tol):
    x, x_hat = pair
    diffs = [abs(a - b) for row, row_hat in zip(x, x_hat, strict=True) for a, b in zip(row, row_hat, strict=True)]
    if any(math.isclose(d, tol, rel_tol=1e-9) for d in diffs):
        return
    subset = subset_accuracy(pixels_correct(x, x_hat, tol=tol))
    assert subset == pytest.approx(oracle_subset_accuracy(x, x_hat, tol))
    # all-of-K can never beat the per-pixel rate
    assert 0.0 <= subset <= pixel_accuracy(x, x_hat, tol=tol) + 1e-12


@settings(max_examples=100, deadline=None)
@given(image_pairs(), st.floats(min_value=1e-6, max_value=3.0), st.floats(min_value=1e-6, max_value=3.0))
def test_reconstruction_c_monotone_in_c_and_mse_consistent(pair, c1, c2):
    x, x_hat = pair
    low, high = sorted((c1, c2))
    assert reconstruction_c(x, x_hat, low) <= reconstruction_c(x, x_hat, high)
    k = len(x[0])
    assert mean_squared_error(x, x_hat) == pytest.approx(sum(oracle_errors(x, x_hat)) / (len(x) * k), abs=1e-12)
    assert mean_squared_error(x, x_hat) == pytest.approx(mean_squared_error(x_hat, x))  # symmetric


# ---- bad input: clear errors naming the parameter ----------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "x_hat", "match"),
    [
        (np.zeros((2, 4)), np.zeros((2, 5)), "x has shape"),
        (np.zeros((0, 4)), np.zeros((0, 4)), "N >= 1"),
        (np.float64(1.0), np.float64(1.0), "N >= 1"),
        (np.array([[0.0, np.nan]]), np.zeros((1, 2)), "x contains NaN"),
        (np.zeros((1, 2)), np.array([[np.inf, 0.0]]), "x_hat contains NaN or infinite"),
    ],
)
def test_bad_arrays_raise(x, x_hat, match):
    for fn in (mean_squared_error, per_image_squared_error, lambda a, b: reconstruction_c(a, b, 1.0)):
        with pytest.raises(ValueError, match=match):
            fn(x, x_hat)


@pytest.mark.parametrize("c", [0.0, -1.0, float("nan"), float("inf"), True, "0.5", 10**400, {"c": 1}])
def test_bad_threshold_raises(c):
    with pytest.raises(ValueError, match="c must be a .*number"):
        reconstruction_c(X, X_HAT, c)
    with pytest.raises(ValueError, match="tol must be a .*number"):
        pixels_correct(X, X_HAT, tol=c)


@pytest.mark.parametrize(
    "x, match",
    [
        ([[True, False]], "x must hold numbers, not bools"),
        ([["a", "b"]], "x must hold numbers"),
        ([[{"a": 1}, 0.0]], "x"),
        ([[10**400, 0.0]], "x .*float64"),
        ([[1.0], [1.0, 2.0]], "x must be a rectangular"),
    ],
)
def test_non_numeric_images_are_value_errors_naming_the_argument(x, match):
    with pytest.raises(ValueError, match=match):
        mean_squared_error(x, [[0.0, 0.0]])


@pytest.mark.parametrize("empty", [[[]], np.zeros((3, 0)), np.zeros((2, 0, 4))])
def test_images_without_pixels_are_refused_not_nan(empty):
    # found by the fuzz: mean over zero pixels was NaN
    for fn in (mean_squared_error, lambda a, b: pixel_accuracy(a, b, tol=0.1), per_image_squared_error):
        with pytest.raises(
            ValueError, match=r"x must be an array of shape \(N, \.\.\.\) with N >= 1 images of >= 1 pixel"
        ):
            fn(empty, empty)


def test_squared_error_beyond_float64_is_refused_not_inf():
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="x, x_hat: the squared error overflows float64"):
        mean_squared_error([[1e200, 0.0]], [[-1e200, 0.0]])
    with np.errstate(over="ignore"):
        assert pixel_accuracy([[1e308]], [[-1e308]], tol=0.5) == 0.0


@pytest.mark.parametrize("correct", [[True, False], [[]], np.zeros((0, 3)), [[0, 2]], [[0.5, 1.0]]])
def test_bad_subset_input_raises(correct):
    with pytest.raises(ValueError, match="correct must"):
        subset_accuracy(correct)
