"""The simulated family ``mirage-sim``: the paper's model, checked against its own closed form."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import pytest

from lm_eval_mirage.models.simulated import (
    DIGITS,
    SimulatedLM,
    answer_line,
    parse_last_question,
    score_continuation,
    simulate_output,
    token_probability,
)
from lm_eval_mirage.tasks.arithmetic import generate, validate_spec

FEWSHOT = "Q: What is 12 plus 30? A: 42\nQ: What is 5 times 7? A: 35\n"


def _questions(n: int = 1500, op: str = "add", digits: int = 3) -> list[str]:
    docs = generate(validate_spec(op, digits, num_problems=n, seed=7))["test"]
    return [f"Q: What is {d['a']} {d['op_word']} {d['b']}? A:" for d in docs]


QUESTIONS = _questions()


@pytest.mark.parametrize(
    ("n", "expected"),
    [(2e9, math.exp(-1.0)), (8e9, math.exp(-0.5)), (5e8, math.exp(-2.0)), (2e11, math.exp(-0.1))],
)
def test_token_probability_closed_form(n, expected):
    # (N / c) ** -0.5 with c = 2e9: N = 8e9 -> 0.5, N = 5e8 -> 2, N = 2e11 -> 0.1
    assert token_probability(n) == pytest.approx(expected, rel=1e-12)


def test_token_probability_other_constants_and_monotone():
    assert token_probability(1e6, c=1e6, alpha=-1.0) == pytest.approx(math.exp(-1))
    sizes = [1e7, 1e8, 1e9, 1e10, 1e11, 1e12]
    ps = [token_probability(n) for n in sizes]
    assert ps == sorted(ps) and 0 < ps[0] < ps[-1] < 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_params": 0}, "params=0"),
        ({"n_params": -3.0}, "params=-3.0"),
        ({"n_params": 1e9, "c": 0}, "c=0"),
        ({"n_params": 1e9, "alpha": 0.5}, "alpha=0.5"),
        ({"n_params": float("nan")}, "params=nan"),
    ],
)
def test_token_probability_rejects_bad_parameters(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        token_probability(**kwargs)


def test_answer_line_and_parse_last_question():
    question, tail = parse_last_question(FEWSHOT + "Q: What is 48 plus 76? A:")
    assert (question, tail) == ("Q: What is 48 plus 76? A:", "")
    assert answer_line(question) == " 124\n"
    assert answer_line("Q: What is 3 minus 15? A:") == " -12\n"
    assert answer_line("Q: What is 99 times 99? A:") == " 9801\n"
    assert parse_last_question("Q: What is 1 plus 1? A: ") == ("Q: What is 1 plus 1? A:", " ")
    with pytest.raises(ValueError, match="arithmetic prompts only"):
        parse_last_question("Translate: bonjour ->")


def test_output_is_deterministic_and_depends_on_seed():
    q = QUESTIONS[0]
    assert simulate_output(q, 0.5, seed=1) == simulate_output(q, 0.5, seed=1)
    outputs = {simulate_output(q, 0.5, seed=s) for s in range(20)}
    assert len(outputs) > 1


def test_extremes():
    for q in QUESTIONS[:50]:
        assert simulate_output(q, 1.0) == answer_line(q)
        out = simulate_output(q, 0.0)
        assert len(out) == len(answer_line(q))
        assert all(o != r and o in DIGITS for o, r in zip(out, answer_line(q)))


@pytest.mark.parametrize("p", [0.2, 0.6, 0.9])
def test_token_correctness_rate_is_p_and_exact_match_is_p_to_the_L(p):
    right = total = exact = 0
    expected_exact = 0.0
    for q in QUESTIONS:
        ideal, out = answer_line(q), simulate_output(q, p, seed=3)
        right += sum(a == b for a, b in zip(ideal, out))
        total += len(ideal)
        exact += out == ideal
        expected_exact += p ** len(ideal)
    rate = right / total
    # ~7500 Bernoulli(p) tokens: 4 standard deviations
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / total)
    n = len(QUESTIONS)
    assert abs(exact - expected_exact) < 4 * math.sqrt(expected_exact * (1 - expected_exact / n)) + 1


def test_common_random_numbers_make_success_monotone_in_p():
    for q in QUESTIONS[:300]:
        ideal = answer_line(q)
        previous = [False] * len(ideal)
        for p in (0.1, 0.3, 0.5, 0.7, 0.9, 0.99):
            now = [a == b for a, b in zip(ideal, simulate_output(q, p))]
            assert all(n or not b for b, n in zip(previous, now))  # right at smaller p -> right at larger p
            previous = now


@pytest.mark.parametrize("p", [0.05, 0.5, 0.97])
def test_loglikelihood_of_target_is_L_log_p_and_greedy_matches_generation(p):
    for q in QUESTIONS[:200]:
        ideal = answer_line(q)
        r = score_continuation(q, "", ideal, p, seed=5)
        assert r[0] == pytest.approx(len(ideal) * math.log(p), rel=1e-12)
        assert r.token_logprobs == pytest.approx([math.log(p)] * len(ideal))
        assert r[1] == (simulate_output(q, p, seed=5) == ideal)
        assert r.token_greedy == [a == b for a, b in zip(ideal, simulate_output(q, p, seed=5))]


def test_loglikelihood_of_other_continuations():
    q, p = "Q: What is 48 plus 76? A:", 0.7
    # one wrong digit: (1 - p) / 9; the wrong char at the space or newline position: (1 - p) / 10
    assert score_continuation(q, "", " 125\n", p)[0] == pytest.approx(4 * math.log(p) + math.log(0.3 / 9))
    assert score_continuation(q, "", "1124\n", p)[0] == pytest.approx(4 * math.log(p) + math.log(0.3 / 10))
    assert score_continuation(q, "", " 124", p)[0] == pytest.approx(4 * math.log(p))  # a prefix of the line
    assert score_continuation(q, " ", "124\n", p)[0] == pytest.approx(4 * math.log(p))  # space in the context
    assert score_continuation(q, "", " 1x4\n", p)[0] == -math.inf  # not a digit: probability 0
    # The distribution over the alternatives at one position sums to one.
    total = sum(math.exp(score_continuation(q, "", " " + d, p)[0] - math.log(p)) for d in DIGITS)
    assert total == pytest.approx(1.0)
    with pytest.raises(ValueError, match="answer line"):
        score_continuation(q, "", " 124\nQ:", p)


def _request(*args):
    return SimpleNamespace(args=args)


def test_backend_serves_harness_requests():
    lm = SimulatedLM.create_from_arg_string(
        "params=6.7e9,seed=2", {"batch_size": 1, "max_batch_size": None, "device": None}
    )
    assert lm.p == pytest.approx(token_probability(6.7e9))
    assert lm.get_model_info()["model_num_parameters"] == 6.7e9
    contexts = [FEWSHOT + q for q in QUESTIONS[:100]]
    outs = lm.generate_until([_request(c, {"until": ["\n"], "max_gen_toks": 10}) for c in contexts])
    lls = lm.loglikelihood([_request(c, answer_line(q)) for c, q in zip(contexts, QUESTIONS)])
    for q, out, ll in zip(QUESTIONS, outs, lls):
        full = simulate_output(q, lm.p, seed=2)
        assert out == full.split("\n")[0]  # cut at the stop sequence
        assert ll[1] == (full == answer_line(q)) == (out == answer_line(q)[:-1])
    cut = lm.generate_until([_request(contexts[0], {"until": ["\n"], "max_gen_toks": 2})])
    assert len(cut[0]) <= 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ("seed=1", "exactly one of params"),
        ("params=1e9,N=2e9", "exactly one of params"),
        ("params=1e9,temperature=0.5", "unknown model argument"),
        ("params=big", "params='big'"),
        ("params=1e9,seed=1.5", "seed=1.5"),
    ],
)
def test_backend_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        SimulatedLM.create_from_arg_string(args)


def test_rolling_loglikelihood_is_refused():
    with pytest.raises(NotImplementedError):
        SimulatedLM(params=1e9).loglikelihood_rolling([_request("text")])


def test_register_is_idempotent():
    from lm_eval.api.registry import get_model

    from lm_eval_mirage.models.simulated import register

    register()
    register()
    assert get_model("mirage-sim") is SimulatedLM
