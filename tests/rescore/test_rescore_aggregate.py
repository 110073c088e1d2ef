"""lm_eval_mirage.rescore.aggregate: the harness's aggregation, bit for bit, from streamed values."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from lm_eval_mirage.metrics.catalog import METRICS
from lm_eval_mirage.metrics.choice import (
    expected_calibration_error,
    expected_calibration_error_equal_mass,
    expected_calibration_error_equal_width,
)
from lm_eval_mirage.rescore.aggregate import Accumulator


def specs(*names):
    return [METRICS[n] for n in names]


def test_mean_metrics_equal_the_harness_functions_bit_for_bit():
    from lm_eval.api.metrics import mean, mean_stderr

    rng = random.Random(0)
    values = {
        "parsed": [rng.choice([0.0, 1.0, 2.0, 3.0, 0.1 * rng.random()]) for _ in range(997)],
        "raw": [rng.random() for _ in range(5)],
    }
    acc = Accumulator(specs("token_edit_distance"))
    for f, vs in values.items():
        for v in vs:
            acc.add(f, {"token_edit_distance": v})
    out = acc.results()
    assert list(out) == [
        "token_edit_distance,parsed",
        "token_edit_distance_stderr,parsed",
        "token_edit_distance,raw",
        "token_edit_distance_stderr,raw",
    ]
    for f, vs in values.items():
        assert out[f"token_edit_distance,{f}"] == mean(vs)
        assert out[f"token_edit_distance_stderr,{f}"] == mean_stderr(vs)


def test_integer_values_average_like_python_ints():
    from lm_eval.api.metrics import mean, mean_stderr

    acc = Accumulator(specs("target_tokens"))
    ints = [3, 4, 4, 5, 7]
    for n in ints:
        acc.add("none", {"target_tokens": n})
    out = acc.results()
    assert out["target_tokens,none"] == mean(ints) and out["target_tokens_stderr,none"] == mean_stderr(ints)


def test_brier_equals_the_harness_builtin_aggregation():
    from lm_eval.api.metrics import brier_score as harness_brier
    from lm_eval.utils import softmax

    from lm_eval_mirage.metrics.choice import brier_score

    rng = np.random.default_rng(1)
    items, acc = [], Accumulator(specs("brier_score"))
    for _ in range(301):
        lls = (-np.abs(rng.normal(-4, 2, size=4))).tolist()  # log-likelihoods are <= 0
        gold = int(rng.integers(0, 4))
        items.append((gold, softmax(lls)))
        acc.add("none", {"brier_score": brier_score(gold, lls)})
    assert acc.results()["brier_score,none"] == harness_brier(items)


def test_ece_and_pooled_are_corpus_level_with_na_stderr():
    acc = Accumulator(specs("ece", "token_logprobs"))
    pairs = [(0.9, 1.0), (0.9, 0.0), (0.2, 0.0), (0.4, 1.0)]
    tokens = [[-1.0, -1.0], [-4.0], [-0.5, -0.5, -2.0], [-1.0]]
    for (c, y), t in zip(pairs, tokens):
        acc.add("none", {"ece": (c, y), "token_logprobs": t})
    out = acc.results()
    assert out["ece,none"] == pytest.approx(expected_calibration_error([c for c, _ in pairs], [y for _, y in pairs]))
    assert out["ece_stderr,none"] == "N/A"
    assert out["token_logprobs,none"] == pytest.approx(-10.0 / 7)
    assert out["token_logprobs_stderr,none"] == "N/A"
    assert acc.count("token_logprobs", "none") == 7 and acc.count("ece", "none") == 4


def test_the_two_eces_bin_the_same_pairs_differently():
    acc = Accumulator(specs("ece", "ece_equal_width"))
    pairs = [(0.95, 1.0), (0.55, 0.0), (0.52, 1.0), (0.91, 1.0), (0.35, 0.0)]
    for c, y in pairs:
        acc.add("none", {"ece": (c, y), "ece_equal_width": (c, y)})
    out = acc.results()
    conf, hit = [c for c, _ in pairs], [y for _, y in pairs]
    assert out["ece,none"] == pytest.approx(expected_calibration_error_equal_mass(conf, hit))
    assert out["ece_equal_width,none"] == pytest.approx(expected_calibration_error_equal_width(conf, hit))
    assert out["ece,none"] != pytest.approx(out["ece_equal_width,none"])  # these pairs tell the binnings apart
    assert out["ece_equal_width_stderr,none"] == "N/A"


def test_stderr_is_na_for_one_sample_and_without_bootstrap():
    acc = Accumulator(specs("target_prob"))
    acc.add("none", {"target_prob": 0.5})
    assert acc.results()["target_prob_stderr,none"] == "N/A"
    acc.add("none", {"target_prob": 0.25})
    assert isinstance(acc.results()["target_prob_stderr,none"], float)
    assert acc.results(bootstrap_iters=0)["target_prob_stderr,none"] == "N/A"


def test_infinite_values_propagate_like_the_harness():
    acc = Accumulator(specs("correct_choice_logprob"))
    acc.add("none", {"correct_choice_logprob": -math.inf})
    acc.add("none", {"correct_choice_logprob": -1.0})
    assert acc.results()["correct_choice_logprob,none"] == -math.inf
