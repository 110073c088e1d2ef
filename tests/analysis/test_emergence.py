"""Emergence score, linearity, bootstrap interval and verdict: hand tables, an independent oracle, properties."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_mirage.analysis.emergence import (
    bootstrap_emergence_ci,
    emergence_score,
    emergence_verdict,
    linearity_score,
    straight_line_score,
)
from lm_eval_mirage.analysis.scaling import PAPER_ALPHA, PAPER_C, PAPER_N, predict


def oracle_es(y: list[float]) -> float:
    """SCIENCE.md's formula written out with the standard library (y already in scale order)."""
    i_max = max(range(len(y)), key=lambda i: (y[i], -i))  # first index of the maximum
    i_min = min(range(len(y)), key=lambda i: (y[i], i))  # first index of the minimum
    sign = 1 if i_max - i_min > 0 else -1
    med = statistics.median([(y[i] - y[i - 1]) ** 2 for i in range(1, len(y))])
    return sign * (max(y) - min(y)) / math.sqrt(med)


# (y, expected) computed by hand
HAND = [
    ([0.0, 0.25, 0.5, 0.75], 3.0),  # straight line: range 0.75 / step 0.25
    ([0.0, 0.5], 1.0),  # two models: always +-1
    ([0.5, 0.0], -1.0),
    ([0.0, 0.0, 0.0, 0.9], math.inf),  # steps 0, 0, 0.9: median 0
    ([0.9, 0.0, 0.0, 0.0], -math.inf),
    ([0.2, 0.2, 0.2], 0.0),  # flat
    ([0.0, 0.01, 0.02, 0.9], 90.0),  # steps .01 .01 .88 -> median .01**2
    ([0.0, 0.1, 0.3, 0.4], 0.4 / 0.1),  # steps .1 .2 .1 -> median .1**2
    ([0.0, 0.0, 0.1, 0.5], 0.5 / 0.1),  # steps 0 .1 .4 -> median .1**2
]


@pytest.mark.parametrize("y, expected", HAND)
def test_hand_table(y, expected):
    assert emergence_score(y) == pytest.approx(expected)


def test_fewer_than_two_models_is_nan():
    assert math.isnan(emergence_score([0.3]))
    assert math.isnan(emergence_score([]))


def test_x_orders_the_models():
    # Given out of order: sorted by x the curve is 0, 0, 0, 1 (a jump), not 1, 0, 0, 0.
    assert emergence_score([0.0, 1.0, 0.0, 0.0], x=[3e8, 4e10, 1e8, 1e9]) == math.inf


def test_lower_is_better_is_negated():
    ted = [5.0, 4.0, 3.0, 2.0]
    assert emergence_score(ted, higher_is_better=False) == pytest.approx(3.0)
    assert emergence_score(ted) == pytest.approx(-3.0)


def test_nan_policies():
    y = [0.0, float("nan"), 0.5, 1.0]
    assert math.isnan(emergence_score(y))
    assert emergence_score(y, nan_policy="omit") == emergence_score([0.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="positions \\[1\\]"):
        emergence_score(y, nan_policy="raise")
    with pytest.raises(ValueError, match="nan_policy"):
        emergence_score(y, nan_policy="drop")


def test_length_mismatch_names_both_sizes():
    with pytest.raises(ValueError, match="x has 2 values but y has 3"):
        emergence_score([1, 2, 3], x=[1, 2])


values = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=12)


@settings(max_examples=150, deadline=None)
@given(values)
def test_matches_oracle(y):
    expected = (
        oracle_es(y) if len(set(y)) > 1 and statistics.median([(b - a) ** 2 for a, b in zip(y, y[1:])]) > 0 else None
    )
    got = emergence_score(y)
    if expected is None:
        assert got == 0.0 or math.isinf(got)
    else:
        assert got == pytest.approx(expected, rel=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(-1000, 1000), min_size=3, max_size=10, unique=True), st.floats(0.01, 100), st.floats(-50, 50)
)
def test_properties(ints, scale, shift):
    y = [float(v) for v in ints]
    es = emergence_score(y)
    # invariant to a positive affine change of units
    assert emergence_score([scale * v + shift for v in y]) == pytest.approx(es, rel=1e-6)
    # reversing the order of the models flips the sign (distinct values: no ties in argmax/argmin)
    assert emergence_score(y[::-1]) == pytest.approx(-es, rel=1e-9)
    # a loss is the negated gain
    assert emergence_score([-v for v in y], higher_is_better=False) == pytest.approx(es, rel=1e-9)


def test_straight_line_score():
    assert straight_line_score([1e8, 1e9, 1e10, 1e11, 1e12]) == pytest.approx(4.0)
    # log steps 1, 1, 2 -> median 1, range 4
    assert straight_line_score([1e8, 1e9, 1e10, 1e12]) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="positive"):
        straight_line_score([0, 1, 10])


def test_linearity_hand_values_and_oracle():
    x = [1e8, 1e9, 1e10, 1e11]
    assert linearity_score([1.0, 2.0, 3.0, 4.0], x) == pytest.approx(1.0)
    assert linearity_score([0.0, 0.0, 0.0, 1.0], x) == pytest.approx(0.6)  # r = 0.7746 by hand, r^2 = 0.6
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.random(6)
        xs = 10 ** np.sort(rng.uniform(7, 12, 6))
        r = np.corrcoef(np.log10(xs), y)[0, 1]  # independent oracle: R^2 of simple regression = r^2
        assert linearity_score(y, xs) == pytest.approx(r**2, abs=1e-9)
    assert linearity_score([0.5, 0.5, 0.5], x[:3]) == 1.0
    assert math.isnan(linearity_score([0.5], [1e8]))


def test_bootstrap_interval_is_reproducible_and_covers_the_estimate():
    rng = np.random.default_rng(0)
    probs = [0.05, 0.1, 0.2, 0.4, 0.8]
    samples = [(rng.random(400) < p).astype(float) for p in probs]
    point = emergence_score([s.mean() for s in samples])
    low, high = bootstrap_emergence_ci(samples, n_boot=300, seed=3)
    assert (low, high) == bootstrap_emergence_ci(samples, n_boot=300, seed=3)
    assert low <= point <= high
    assert low < high


def test_bootstrap_jump_keeps_infinite_bounds():
    samples = [np.zeros(50), np.zeros(50), np.zeros(50), np.r_[np.ones(40), np.zeros(10)]]
    assert bootstrap_emergence_ci(samples, n_boot=50) == (math.inf, math.inf)


def test_bootstrap_unpaired_and_errors():
    samples = [np.zeros(10), np.full(20, 0.5), np.ones(30)]
    low, high = bootstrap_emergence_ci(samples, n_boot=50)  # unequal sizes: resampled independently
    assert low == pytest.approx(2.0) and high == pytest.approx(2.0)  # constant values: no variation
    with pytest.raises(ValueError, match="same number of problems"):
        bootstrap_emergence_ci(samples, paired=True)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_emergence_ci(samples, n_boot=5)
    with pytest.raises(ValueError, match="level"):
        bootstrap_emergence_ci(samples, level=1.5)
    with pytest.raises(ValueError, match="positions \\[1\\]"):
        bootstrap_emergence_ci([np.zeros(3), [], np.ones(3)])
    assert all(math.isnan(v) for v in bootstrap_emergence_ci([np.ones(3)]))


@pytest.mark.parametrize(
    "score, ci, expected",
    [
        (3.0, None, "smooth"),
        (4.5, None, "emergent"),  # threshold 1.5 * 3
        (math.inf, None, "emergent"),
        (-5.0, None, "inverse emergent"),
        (0.0, None, "flat (within noise)"),
        (7.0, (2.0, 9.0), "uncertain"),
        (7.0, (5.0, 9.0), "emergent"),
        (-7.0, (-9.0, -2.0), "uncertain"),
        (float("nan"), None, "too few models"),
    ],
)
def test_verdict_table(score, ci, expected):
    assert emergence_verdict(score, [1e8, 1e9, 1e10, 1e11], ci=ci) == expected


def test_verdict_needs_three_models():
    assert emergence_verdict(math.inf, [1e8, 1e9]) == "too few models"


def test_paper_closed_form_verdicts():
    """The claim in DEFAULT_THRESHOLD_FACTOR's comment: on the paper's four sizes, exact match of 4- and
    5-token targets looks emergent, shorter targets and token edit distance do not."""
    N = np.array(PAPER_N)
    line = straight_line_score(N)
    ratios = {}
    for L in range(1, 6):
        pr = predict(N, PAPER_C, PAPER_ALPHA, L)
        ratios[L] = emergence_score(pr.exact_match, N) / line
        ted = emergence_score(pr.token_edit_distance, N, higher_is_better=False)
        assert emergence_verdict(ted, N) == "smooth"
        assert ted / line == pytest.approx(0.735, abs=1e-3)  # the same for every L: TED is linear in p
    assert [round(ratios[L], 2) for L in (4, 5)] == [1.63, 2.45]
    verdicts = {L: emergence_verdict(ratios[L] * line, N) for L in ratios}
    assert verdicts == {1: "smooth", 2: "smooth", 3: "smooth", 4: "emergent", 5: "emergent"}
