"""Tests of lm_eval_mirage.metrics.choice: hand tables, independent oracles (the harness, scikit-learn, a
reference ECE written from the uncertainty-calibration definition), edge cases and properties."""

from __future__ import annotations

import bisect
import math

import calibration  # uncertainty-calibration, HELM's ECE package (the `test` extra): a missing one must fail
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_mirage.metrics import choice
from lm_eval_mirage.metrics.choice import (
    binary_brier_score,
    brier_score,
    choice_accuracy,
    choice_probs,
    correct_choice_logprob,
    correct_choice_prob,
    expected_calibration_error,
    expected_calibration_error_equal_mass,
    expected_calibration_error_equal_width,
    max_choice_prob,
)

LOG = math.log
NEG = -math.inf

# ---------------------------------------------------------------- hand tables


@pytest.mark.parametrize(
    "gold, logliks, probs, p_correct, bs, bbs",
    [
        (0, [LOG(0.5), LOG(0.25), LOG(0.25)], [0.5, 0.25, 0.25], 0.5, 0.375, 0.25),
        (2, [LOG(0.5), LOG(0.25), LOG(0.25)], [0.5, 0.25, 0.25], 0.25, 0.25 + 0.0625 + 0.5625, 0.5625),
        # unnormalized vocabulary-level values renormalize: 0.3 and 0.1 -> 0.75 / 0.25
        (1, [LOG(0.3), LOG(0.1)], [0.75, 0.25], 0.25, 0.5625 * 2, 0.5625),
        (0, [0.0, NEG], [1.0, 0.0], 1.0, 0.0, 0.0),
        (1, [0.0, NEG], [1.0, 0.0], 0.0, 2.0, 1.0),
        (0, [-7.5], [1.0], 1.0, 0.0, 0.0),  # one choice
        (3, [-2.0] * 4, [0.25] * 4, 0.25, 0.75, 0.5625),  # all tied
    ],
)
def test_hand_table(gold, logliks, probs, p_correct, bs, bbs):
    assert choice_probs(logliks).tolist() == pytest.approx(probs, abs=1e-15)
    assert correct_choice_prob(gold, logliks) == pytest.approx(p_correct, abs=1e-15)
    assert brier_score(gold, logliks) == pytest.approx(bs, abs=1e-15)
    assert binary_brier_score(gold, logliks) == pytest.approx(bbs, abs=1e-15)
    assert correct_choice_logprob(gold, logliks) == logliks[gold]


def test_very_negative_and_infinite_logliks_stay_finite():
    # exp(-1e4) underflows to 0 in float64; renormalizing must not give 0/0
    assert choice_probs([-1e4, -1e4 - LOG(3)]).tolist() == pytest.approx([0.75, 0.25], abs=1e-12)
    assert choice_probs([-1e4, -2e4]).tolist() == [1.0, 0.0]
    assert choice_probs([NEG, NEG, NEG]).tolist() == pytest.approx([1 / 3] * 3)
    assert brier_score(0, [NEG, NEG]) == pytest.approx(0.5)
    assert correct_choice_prob(2, [-1e4, NEG, -1e4]) == pytest.approx(0.5)
    assert correct_choice_logprob(0, [-1e4, -3.0]) == -1e4
    assert correct_choice_logprob([0, 1], [NEG, NEG]) == NEG
    assert correct_choice_logprob([0, 1], [-1e4, -1e4]) == pytest.approx(-1e4 + LOG(2), abs=1e-9)
    for fn in (brier_score, binary_brier_score, correct_choice_prob):
        assert math.isfinite(fn(1, [-1e4, NEG, -3e4]))


def test_ties_predict_the_first_maximum_like_the_harness():
    assert choice_accuracy(0, [-1.0, -1.0]) == 1.0
    assert choice_accuracy(1, [-1.0, -1.0]) == 0.0
    assert max_choice_prob([-1.0, -1.0]) == 0.5


def test_multiple_gold_merges_the_correct_choices():
    lls = [LOG(0.1), LOG(0.2), LOG(0.3), LOG(0.4)]
    assert correct_choice_prob([1, 3], lls) == pytest.approx(0.6)
    assert binary_brier_score([1, 3], lls) == pytest.approx(0.16)
    # one merged class of 0.6 plus the others: (1 - 0.6)^2 + 0.1^2 + 0.3^2
    assert brier_score([1, 3], lls) == pytest.approx(0.16 + 0.01 + 0.09)
    assert brier_score([3, 1, 3], lls) == brier_score([1, 3], lls)  # duplicates and order do not matter
    assert correct_choice_logprob([1, 3], lls) == pytest.approx(LOG(0.6))
    assert choice_accuracy([0, 3], lls) == 1.0 and choice_accuracy([0, 1], lls) == 0.0
    # a one-element list is the single-gold case, bit for bit
    assert brier_score([2], lls) == brier_score(2, lls)
    assert correct_choice_prob(np.array([2]), lls) == correct_choice_prob(2, lls)


@pytest.mark.parametrize(
    "call",
    [
        lambda: choice_probs([]),
        lambda: choice_probs([[0.0, -1.0]]),
        lambda: choice_probs([0.0, float("nan")]),
        lambda: choice_probs([0.0, math.inf]),
        lambda: brier_score(2, [0.0, -1.0]),
        lambda: brier_score(-1, [0.0, -1.0]),
        lambda: brier_score(True, [0.0, -1.0]),
        lambda: brier_score(1.0, [0.0, -1.0]),
        lambda: brier_score([], [0.0, -1.0]),
        lambda: correct_choice_prob("0", [0.0, -1.0]),
        lambda: expected_calibration_error([], []),
        lambda: expected_calibration_error([0.5, 0.6], [1]),
        lambda: expected_calibration_error([1.5], [1]),
        lambda: expected_calibration_error([0.5], [2]),
        lambda: expected_calibration_error([0.5], [1], n_bins=0),
    ],
)
def test_bad_input_raises_value_error_naming_the_parameter(call):
    with pytest.raises(ValueError, match=r"logliks|gold|confidences|correct|n_bins"):
        call()


# ---------------------------------------------------------------- oracles


def _random_samples(seed: int, n: int, k: int):
    rng = np.random.default_rng(seed)
    lls = -np.abs(rng.normal(-5.0, 3.0, size=(n, k))) - 1.0  # log-likelihoods are <= 0
    gold = rng.integers(0, k, size=n)
    return [int(g) for g in gold], [row.tolist() for row in lls]


def test_choice_probs_and_brier_are_bit_identical_to_the_harness():
    from lm_eval.api.metrics import brier_score as harness_brier_aggregation
    from lm_eval.utils import softmax as harness_softmax

    gold, lls = _random_samples(0, 200, 4)
    for g, row in zip(gold, lls):
        assert choice_probs(row).tolist() == harness_softmax(row).tolist()
        # the harness's aggregation on one sample is that sample's term
        assert brier_score(g, row) == harness_brier_aggregation([(g, harness_softmax(row))])
    items = [(g, harness_softmax(row)) for g, row in zip(gold, lls)]
    ours = float(np.mean([brier_score(g, row) for g, row in zip(gold, lls)]))
    assert ours == harness_brier_aggregation(items)


def test_brier_scores_match_scikit_learn():
    from sklearn.metrics import brier_score_loss

    gold, lls = _random_samples(1, 300, 5)
    probs = np.array([choice_probs(row) for row in lls])
    multi = np.mean([brier_score(g, row) for g, row in zip(gold, lls)])
    assert multi == pytest.approx(brier_score_loss(gold, probs, labels=list(range(5)), scale_by_half=False), rel=1e-12)
    p_correct = [correct_choice_prob(g, row) for g, row in zip(gold, lls)]
    binary = np.mean([binary_brier_score(g, row) for g, row in zip(gold, lls)])
    assert binary == pytest.approx(brier_score_loss(np.ones(len(gold)), p_correct, pos_label=1), rel=1e-12)


def _reference_ece_em(conf, correct, n_bins):
    """Written from the definition of uncertainty-calibration 0.1.4 ``get_ece_em`` (top-label, p=1, plug-in):
    plain Python, bisect instead of numpy.searchsorted."""
    srt = sorted(conf)
    parts_n = min(n_bins, len(srt))
    size, extra = divmod(len(srt), parts_n)
    parts, start = [], 0
    for i in range(parts_n):
        stop = start + size + (1 if i < extra else 0)
        parts.append(srt[start:stop])
        start = stop
    bounds = sorted({(parts[i][-1] + parts[i + 1][0]) / 2 for i in range(parts_n - 1)} | {1.0})
    bins: dict[int, list[tuple[float, float]]] = {}
    for c, y in zip(conf, correct):
        bins.setdefault(bisect.bisect_left(bounds, c), []).append((c, y))
    total = 0.0
    for members in bins.values():
        mc = sum(c for c, _ in members) / len(members)
        my = sum(y for _, y in members) / len(members)
        total += len(members) / len(conf) * abs(mc - my)
    return total


@pytest.mark.parametrize(
    "conf, correct, n_bins, expected",
    [
        # hand-computed; the first rows are the cases of the uncertainty-calibration test-suite
        ([0.1, 0.7, 0.5, 0.9], [0, 1, 0, 1], 2, 0.25),
        ([0.1, 0.7, 0.5, 0.9], [0, 1, 0, 1], 4, 0.25),
        ([0.6, 0.7, 0.8, 0.9], [0, 0, 1, 1], 2, 0.4),
        ([0.1, 0.7, 0.5, 0.9], [0, 1, 1, 1], 2, 0.2),
        ([0.9, 0.9, 0.2, 0.4], [1, 0, 0, 1], 10, 0.25 * 0.2 + 0.25 * 0.6 + 0.5 * 0.4),  # ties share a bin
        ([0.8], [1], 10, 0.2),
        ([0.3, 0.3, 0.3], [0, 0, 0], 10, 0.3),
        ([1.0, 1.0, 0.5, 0.5], [1, 1, 1, 0], 10, 0.0),  # calibrated
    ],
)
def test_ece_hand_table(conf, correct, n_bins, expected):
    assert expected_calibration_error(conf, correct, n_bins=n_bins) == pytest.approx(expected, abs=1e-12)
    assert _reference_ece_em(conf, correct, n_bins) == pytest.approx(expected, abs=1e-12)


def test_ece_matches_the_uncertainty_calibration_package_helm_uses():
    cal = calibration
    rng = np.random.default_rng(3)
    for n in (7, 50, 999):
        conf = np.round(rng.uniform(0.2, 1.0, n), 2)  # rounding makes ties across bin edges
        correct = (rng.uniform(size=n) < conf).astype(int)
        correct[:2] = [0, 1]  # the package insists on both labels in the 1-D case
        want = cal.get_ece_em(conf, correct, num_bins=10)
        assert expected_calibration_error(conf, correct) == pytest.approx(want, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=60),
    st.integers(1, 15),
)
def test_ece_equals_reference_and_is_bounded(pairs, n_bins):
    conf = [c for c, _ in pairs]
    correct = [float(y) for _, y in pairs]
    ece = expected_calibration_error(conf, correct, n_bins=n_bins)
    assert ece == pytest.approx(_reference_ece_em(conf, correct, n_bins), abs=1e-12)
    assert 0.0 <= ece <= 1.0 + 1e-12


def test_ece_is_the_equal_mass_one_and_differs_from_the_equal_width_one():
    conf, correct = [0.1, 0.2, 0.3, 0.95], [0, 0, 1, 1]
    assert expected_calibration_error(conf, correct) == expected_calibration_error_equal_mass(conf, correct)
    # equal mass, 10 bins -> one sample per bin: mean |c - y| = (0.1 + 0.2 + 0.7 + 0.05) / 4
    assert expected_calibration_error_equal_mass(conf, correct) == pytest.approx(1.05 / 4, abs=1e-12)
    # equal width: the three low confidences share no bin either, so the same here ...
    assert expected_calibration_error_equal_width(conf, correct) == pytest.approx(1.05 / 4, abs=1e-12)
    # ... but with 2 bins they do: (0, 0.5] holds 0.1, 0.2, 0.3 (mean 0.2 vs accuracy 1/3), (0.5, 1] holds 0.95
    assert expected_calibration_error_equal_width(conf, correct, n_bins=2) == pytest.approx(
        0.75 * (1 / 3 - 0.2) + 0.25 * 0.05, abs=1e-12
    )
    assert expected_calibration_error_equal_mass(conf, correct, n_bins=2) == pytest.approx(
        0.5 * 0.15 + 0.5 * abs(0.625 - 1.0), abs=1e-12
    )


def _reference_ece_equal_width(conf, correct, n_bins):
    """Oracle from scikit-learn: calibration_curve(strategy="uniform") gives each non-empty bin's accuracy and
    mean confidence; numpy.histogram over the same edges gives the bin sizes (edges never hit: random data)."""
    from sklearn.calibration import calibration_curve

    prob_true, prob_pred = calibration_curve(correct, conf, n_bins=n_bins, strategy="uniform")
    counts, _ = np.histogram(conf, bins=np.linspace(0.0, 1.0, n_bins + 1))
    counts = counts[counts > 0]
    return float(np.sum(counts / len(conf) * np.abs(prob_true - prob_pred)))


@pytest.mark.parametrize("n_bins", [1, 2, 10, 15])
def test_equal_width_ece_matches_scikit_learn_and_uncertainty_calibration(n_bins):
    rng = np.random.default_rng(n_bins)
    for n in (5, 60, 1000):
        conf = rng.uniform(0.0, 1.0, n)
        correct = (rng.uniform(size=n) < conf**1.5).astype(int)
        correct[:2] = [0, 1]  # both labels, for calibration_curve and the package
        ours = expected_calibration_error_equal_width(conf, correct, n_bins=n_bins)
        assert ours == pytest.approx(_reference_ece_equal_width(conf, correct, n_bins), abs=1e-12)
        assert ours == pytest.approx(calibration.get_ece(conf, correct, num_bins=n_bins), abs=1e-12)


def test_equal_width_ece_puts_edge_values_in_the_lower_bin_like_the_package():
    # ties from max_choice_prob land exactly on edges (0.5, 0.25, 1.0); the package agrees bin for bin
    conf = np.array([0.5, 0.5, 0.25, 1.0, 0.3, 0.7, 0.2, 0.0])
    correct = np.array([1, 0, 0, 1, 1, 0, 1, 0])
    for n_bins in (2, 4, 10):
        assert expected_calibration_error_equal_width(conf, correct, n_bins=n_bins) == pytest.approx(
            calibration.get_ece(conf, correct, num_bins=n_bins), abs=1e-12
        )


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=60), st.integers(1, 15))
def test_equal_width_ece_is_bounded_and_zero_when_calibrated_per_bin(pairs, n_bins):
    conf = [c for c, _ in pairs]
    ece = expected_calibration_error_equal_width(conf, [float(y) for _, y in pairs], n_bins=n_bins)
    assert 0.0 <= ece <= 1.0
    # a confidence of exactly 0 or 1 that is always right (wrong) is perfectly calibrated
    assert expected_calibration_error_equal_width([1.0] * len(conf), [1] * len(conf), n_bins=n_bins) == 0.0


# ---------------------------------------------------------------- properties

loglik = st.one_of(st.floats(-1e4, 0.0), st.just(-math.inf), st.sampled_from([-1e4, -1e-9, 0.0]))


@st.composite
def samples(draw):
    lls = draw(st.lists(loglik, min_size=1, max_size=12))
    gold = draw(st.integers(0, len(lls) - 1))
    return gold, lls


@settings(max_examples=150, deadline=None)
@given(samples())
def test_ranges_and_identities(sample):
    gold, lls = sample
    p = choice_probs(lls)
    assert np.all(np.isfinite(p)) and np.all(p >= 0) and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
    pc = correct_choice_prob(gold, lls)
    assert 0.0 <= pc <= 1.0
    bs = brier_score(gold, lls)
    assert 0.0 <= bs <= 2.0 + 1e-12
    assert binary_brier_score(gold, lls) == pytest.approx((1 - pc) ** 2)
    # multi-class Brier = binary part + the squared mass on wrong choices
    assert bs == pytest.approx((1 - pc) ** 2 + float(np.sum(np.delete(p, gold) ** 2)), abs=1e-12)
    assert 1.0 / len(lls) - 1e-12 <= max_choice_prob(lls) <= 1.0
    assert correct_choice_prob(list(range(len(lls))), lls) == pytest.approx(1.0)
    assert brier_score(list(range(len(lls))), lls) == pytest.approx(0.0, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(samples(), st.floats(-50.0, 0.0), st.randoms(use_true_random=False))
def test_shift_invariance_and_permutation_equivariance(sample, shift, rnd):
    gold, lls = sample
    shifted = [x + shift for x in lls]
    assert brier_score(gold, shifted) == pytest.approx(brier_score(gold, lls), abs=1e-9)
    order = list(range(len(lls)))
    rnd.shuffle(order)
    permuted = [lls[i] for i in order]
    assert brier_score(order.index(gold), permuted) == pytest.approx(brier_score(gold, lls), abs=1e-12)
    assert correct_choice_logprob(order.index(gold), permuted) == correct_choice_logprob(gold, lls)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-60.0, 0.0), min_size=2, max_size=8), st.data())
def test_merging_gold_choices_equals_one_choice_with_their_total_probability(lls, data):
    lls = [x - math.log(len(lls)) for x in lls]  # the choices' probabilities sum to at most 1, as real ones do
    golds = data.draw(st.sets(st.integers(0, len(lls) - 1), min_size=1, max_size=len(lls)))
    merged = [correct_choice_logprob(sorted(golds), lls)] + [x for i, x in enumerate(lls) if i not in golds]
    assert brier_score(sorted(golds), lls) == pytest.approx(brier_score(0, merged), abs=1e-9)
    assert correct_choice_prob(sorted(golds), lls) == pytest.approx(correct_choice_prob(0, merged), abs=1e-9)


def test_public_names():
    assert set(choice.__all__) == {
        "choice_probs",
        "correct_choice_prob",
        "correct_choice_logprob",
        "brier_score",
        "binary_brier_score",
        "max_choice_prob",
        "choice_accuracy",
        "expected_calibration_error",
        "expected_calibration_error_equal_mass",
        "expected_calibration_error_equal_width",
    }
