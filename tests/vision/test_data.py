"""Tests of lm_eval_mirage.vision.data: the bundled digits, scaled and split deterministically."""

from __future__ import annotations

import numpy as np
import pytest

from lm_eval_mirage.vision.data import DIGITS_LEVELS, DIGITS_PIXELS, load_digits_split


def test_shapes_range_and_grey_levels():
    split = load_digits_split(test_fraction=0.3, seed=0)
    assert split.train.shape == (1258, DIGITS_PIXELS) and split.test.shape == (539, DIGITS_PIXELS)
    assert split.train.dtype == np.float32
    both = np.concatenate([split.train, split.test])
    assert both.min() == 0.0 and both.max() == 1.0
    levels = both * DIGITS_LEVELS
    assert np.array_equal(levels, np.round(levels))  # exactly the 17 grey levels k/16
    assert split.train_labels.shape == (1258,) and set(np.unique(split.test_labels)) == set(range(10))


def test_split_is_a_deterministic_partition():
    from sklearn.datasets import load_digits

    raw = load_digits().data / DIGITS_LEVELS
    a, b = load_digits_split(seed=3), load_digits_split(seed=3)
    assert np.array_equal(a.train, b.train) and np.array_equal(a.test, b.test)
    # Every original image lands on exactly one side (compare as a multiset of rows).
    rows = sorted(map(bytes, np.concatenate([a.train, a.test]).astype(np.float64)))
    assert rows == sorted(map(bytes, raw.astype(np.float32).astype(np.float64)))
    assert not np.array_equal(load_digits_split(seed=4).test, a.test)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_bad_test_fraction(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits_split(test_fraction=fraction)
