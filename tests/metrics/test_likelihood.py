from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lm_eval_mirage.metrics import likelihood as ll

NEG_INF = float("-inf")
logprobs = st.floats(min_value=-1e4, max_value=0.0, allow_nan=False)


# (logprob_sum, n_tokens) -> (target_prob, per_token_logprob, per_token_prob), computed by hand.
TABLE = [
    (0.0, 1, 1.0, 0.0, 1.0),
    (math.log(0.25), 2, 0.25, math.log(0.5), 0.5),
    (-3.0, 4, math.exp(-3.0), -0.75, math.exp(-0.75)),
    (-1e4, 5, 0.0, -2000.0, 0.0),
    (-1e4, 10_000, 0.0, -1.0, math.exp(-1.0)),
    (NEG_INF, 3, 0.0, NEG_INF, 0.0),
]


@pytest.mark.parametrize("s, n, p, tok_lp, tok_p", TABLE)
def test_hand_table(s, n, p, tok_lp, tok_p):
    assert ll.target_prob(s) == pytest.approx(p, abs=1e-15)
    assert ll.per_token_logprob(s, n) == pytest.approx(tok_lp, rel=1e-12)
    assert ll.per_token_prob(s, n) == pytest.approx(tok_p, rel=1e-12)


@given(st.lists(logprobs, min_size=1, max_size=12))
def test_per_token_prob_to_the_power_l_is_the_target_prob(token_lps):
    s, n = math.fsum(token_lps), len(token_lps)
    assert ll.per_token_prob(s, n) ** n == pytest.approx(ll.target_prob(s), rel=1e-9, abs=1e-300)
    assert 0.0 <= ll.target_prob(s) <= ll.per_token_prob(s, n) <= 1.0


def _decimal_logsumexp(xs: list[float]) -> float:
    """Oracle: exp and log in 60-digit decimal arithmetic, where exp(-1e4) does not underflow."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 60
        return float(sum(Decimal(x).exp() for x in xs).ln())


@given(st.lists(logprobs, min_size=1, max_size=20))
def test_aggregates_against_a_direct_oracle(xs):
    lse = _decimal_logsumexp(xs)
    assert ll.logsumexp(xs) == pytest.approx(lse, rel=1e-12, abs=1e-12)
    assert ll.logmeanexp(xs) == pytest.approx(lse - math.log(len(xs)), rel=1e-12, abs=1e-12)
    assert ll.mean_logprob(xs) == pytest.approx(sum(xs) / len(xs), rel=1e-12, abs=1e-12)
    assert ll.mean_prob(xs) == pytest.approx(sum(math.exp(x) for x in xs) / len(xs), rel=1e-9, abs=1e-300)
    # Jensen: mean of logs <= log of mean.
    assert ll.mean_logprob(xs) <= ll.logmeanexp(xs) + 1e-9


def test_no_underflow_in_log_space_at_minus_1e4():
    xs = [-1e4, -1e4 - math.log(3)]
    assert ll.logmeanexp(xs) == pytest.approx(-1e4 + math.log((1 + 1 / 3) / 2), rel=1e-15)
    assert ll.logsumexp([-1e4] * 1000) == pytest.approx(-1e4 + math.log(1000), rel=1e-15)
    assert ll.mean_prob(xs) == 0.0  # the probability itself is below float range; its log is not


def test_minus_infinity_never_gives_nan():
    values = [
        ll.target_prob(NEG_INF),
        ll.per_token_logprob(NEG_INF, 2),
        ll.per_token_prob(NEG_INF, 2),
        ll.logsumexp([NEG_INF, NEG_INF]),
        ll.logmeanexp([NEG_INF]),
        ll.mean_logprob([NEG_INF, -1.0]),
        ll.mean_prob([NEG_INF, NEG_INF]),
        ll.pooled_token_logprob([[NEG_INF], [0.0]]),
    ]
    assert not any(math.isnan(v) for v in values)
    assert ll.logmeanexp([NEG_INF, 0.0]) == pytest.approx(math.log(0.5))
    assert ll.mean_prob([NEG_INF, math.log(0.5)]) == pytest.approx(0.25)


def test_pooled_is_token_weighted_unlike_the_mean_of_per_sample_means():
    rows = [[-1.0, -1.0, -1.0], [-5.0]]
    assert ll.pooled_token_logprob(rows) == -2.0
    assert ll.mean_logprob([ll.per_token_logprob(sum(r), len(r)) for r in rows]) == -3.0


def test_tiny_positive_rounding_is_accepted_and_probabilities_stay_at_most_one():
    assert ll.target_prob(5e-7) == 1.0
    assert ll.per_token_prob(5e-7, 1) == 1.0


@pytest.mark.parametrize("bad", [float("nan"), 0.5, float("inf")])
def test_non_logprobs_raise_a_named_error(bad):
    with pytest.raises(ValueError, match="logprob_sum must be a log-probability"):
        ll.target_prob(bad)
    with pytest.raises(ValueError, match=r"logprobs\[1\] must be a log-probability"):
        ll.logmeanexp([-1.0, bad])


@pytest.mark.parametrize("n", [0, -1, 1.5, True, "3"])
def test_bad_token_counts_raise(n):
    with pytest.raises(ValueError, match="n_tokens must be a positive int"):
        ll.per_token_logprob(-1.0, n)


def test_empty_inputs_raise():
    for fn in (ll.logsumexp, ll.logmeanexp, ll.mean_logprob, ll.mean_prob):
        with pytest.raises(ValueError, match="at least one"):
            fn([])
    with pytest.raises(ValueError, match="at least one"):
        ll.pooled_token_logprob([[], []])
    with pytest.raises(ValueError, match=r"token_logprobs\[0\] must be a sequence"):
        ll.pooled_token_logprob([-1.0])


def test_greedy_exact_match():
    import numpy as np

    assert ll.greedy_exact_match(True) == 1.0
    assert ll.greedy_exact_match(np.bool_(False)) == 0.0
    with pytest.raises(ValueError, match="is_greedy must be a bool"):
        ll.greedy_exact_match("False")
