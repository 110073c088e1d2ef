"""lm_eval_mirage.rescore.scorers: one logged sample -> metric values, or a reason it cannot be scored."""

from __future__ import annotations

import math

import pytest

from lm_eval_mirage.metrics import choice
from lm_eval_mirage.metrics import harness as adapters
from lm_eval_mirage.metrics.catalog import metrics_for
from lm_eval_mirage.rescore.samples import SampleError
from lm_eval_mirage.rescore.scorers import ChoiceScorer, GenerationScorer, LoglikelihoodScorer


def gen(config=None, **kw):
    return GenerationScorer(config or {}, metrics_for("generate_until"), **kw)


# ---------------------------------------------------------------- generate_until


@pytest.mark.parametrize(
    "target, output, expected",
    [
        ("124", "134", {"token_edit_distance": 1.0, "normalized_edit_distance": 1 / 3, "digit_accuracy": 2 / 3}),
        ("124", "", {"token_edit_distance": 3.0, "normalized_edit_distance": 1.0, "digit_accuracy": 0.0}),
        ("-7", " -7 ", {"token_edit_distance": 0.0, "normalized_edit_distance": 0.0, "digit_accuracy": 1.0}),
        ("Paris", "Pariss", {"token_edit_distance": 1.0, "normalized_edit_distance": 1 / 6}),  # no digit accuracy
    ],
)
def test_generation_hand_table(target, output, expected):
    got = gen().score_fields(target, [output])
    assert got == pytest.approx(expected)
    assert set(got) == set(expected)


def test_generation_equals_the_online_adapters():
    scorer = gen()
    for target, output in [("109", ":::"), ("55", "55"), ("1024", "24 apples"), ("7", "")]:
        got = scorer.score_fields(target, [output])
        for name, value in got.items():
            online = getattr(adapters, name)(references=[target], predictions=[output])
            assert value == online and type(value) is type(online)


def test_generation_uses_the_tasks_own_metric_options():
    config = {
        "metric_list": [
            {"metric": "token_edit_distance", "aggregation": "mean", "higher_is_better": False, "parse": True}
        ]
    }
    got = gen(config).score_fields("124", ["The answer is 124."])
    assert got["token_edit_distance"] == 0.0  # parsed first, as online
    assert got["normalized_edit_distance"] > 0  # no options for this one


def test_generation_follows_the_tasks_own_digit_accuracy_and_function_metrics():
    source = "def digit_accuracy(references=None, predictions=None, **options) -> float:\n    ..."
    online = gen({"metric_list": [{"metric": source, "aggregation": "mean", "higher_is_better": True}]})
    assert online.score_fields("Paris", ["Pariss"])["digit_accuracy"] == adapters.digit_accuracy(
        references=["Paris"], predictions=["Pariss"]
    )
    assert "digit_accuracy" not in gen().score_fields("Paris", ["Pariss"])
    parsed = gen({"metric_list": [{"metric": "def token_edit_distance(references=None", "parse": True}]})
    assert parsed.score_fields("124", ["A: 124"])["token_edit_distance"] == 0.0


def test_generation_several_references_score_the_best_one():
    got = gen().score_fields("['12', 'twelve']", ["twelv"])
    assert got["token_edit_distance"] == 1.0
    assert got["digit_accuracy"] == 0.0  # only '12' is an integer reference


@pytest.mark.parametrize(
    "filtered, match",
    [([], "one response"), (["a", "b"], "one response"), ([["a"]], "must be a string"), ("a", "one response")],
)
def test_generation_rejects_unusable_responses(filtered, match):
    with pytest.raises(SampleError, match=match):
        gen().score_fields("1", filtered)
    with pytest.raises(SampleError, match="target must be a string"):
        gen().score_fields(12, ["12"])
    with pytest.raises(SampleError, match="missing field 'target'"):
        gen().score({"filtered_resps": ["1"]})


def test_generation_with_doc_to_choice_is_unsupported():
    assert "doc_to_choice" in gen({"doc_to_choice": "{{choices}}"}).unsupported


# ---------------------------------------------------------------- loglikelihood


def ll_scorer():
    return LoglikelihoodScorer({}, metrics_for("loglikelihood"))


def test_loglikelihood_from_stringified_responses():
    got = ll_scorer().score({"filtered_resps": [["-2.0", "True"]]})
    assert got == {"greedy_exact_match": 1.0, "target_logprob": -2.0, "target_prob": math.exp(-2.0)}


def test_loglikelihood_per_token_values():
    got = ll_scorer().score({"filtered_resps": [["-3.0", "False"]], "token_logprobs": [-1.0, -0.5, -1.5]})
    assert got["per_token_logprob"] == -1.0 and got["per_token_prob"] == math.exp(-1.0)
    assert got["target_tokens"] == 3 and got["token_logprobs"] == [-1.0, -0.5, -1.5]
    got = ll_scorer().score({"filtered_resps": [["-3.0", "False"]], "target_tokens": 2})
    assert got["per_token_logprob"] == -1.5 and "token_logprobs" not in got


@pytest.mark.parametrize(
    "sample, match",
    [
        ({"filtered_resps": [["-1.0", "maybe"]]}, "is_greedy"),
        ({"filtered_resps": [["abc", "True"]]}, "must be a number"),
        ({"filtered_resps": [["nan", "True"]]}, "log-probability"),
        ({"filtered_resps": [["0.5", "True"]]}, "log-probability"),
        ({"filtered_resps": [["-1.0", "True"], ["-2.0", "True"]]}, "one"),
        ({"filtered_resps": [["-1.0"]]}, "pair"),
        ({}, "one"),
        ({"filtered_resps": [["-1.0", "True"]], "target_tokens": 0}, "target_tokens must be a positive int"),
        ({"filtered_resps": [["-1.0", "True"]], "token_logprobs": [-1.0, "x"]}, "token_logprobs"),
    ],
)
def test_loglikelihood_rejects_bad_samples(sample, match):
    with pytest.raises(SampleError, match=match):
        ll_scorer().score(sample)


# ---------------------------------------------------------------- multiple_choice


def mc_sample(lls, target, conts=None, contexts=None, **extra):
    conts = conts or [f" c{i}" for i in range(len(lls))]
    contexts = contexts or ["Q:"] * len(lls)
    return {
        "target": target,
        "arguments": {f"gen_args_{i}": {"arg_0": ctx, "arg_1": c} for i, (ctx, c) in enumerate(zip(contexts, conts))},
        "filtered_resps": [[repr(x) if math.isfinite(x) else str(x), "False"] for x in lls],
        **extra,
    }


def mc(**config):
    return ChoiceScorer({"target_delimiter": " ", **config}, metrics_for("multiple_choice"))


def test_choice_metrics_from_an_index_target():
    lls = [-1.2, -0.3, -2.5, -1e4]
    got = mc().score(mc_sample(lls, "1"))
    assert got["brier_score"] == choice.brier_score(1, lls)
    assert got["binary_brier_score"] == choice.binary_brier_score(1, lls)
    assert got["correct_choice_prob"] == choice.correct_choice_prob(1, lls)
    assert got["correct_choice_logprob"] == -0.3
    assert got["ece"] == (choice.max_choice_prob(lls), 1.0)


def test_choice_target_as_text_list_and_infinite():
    lls = [-1.0, -2.0, -3.0]
    assert mc().score(mc_sample(lls, "c2"))["correct_choice_logprob"] == -3.0  # matched to " c2"
    assert mc().score(mc_sample(lls, "[0, 2]"))["correct_choice_prob"] == pytest.approx(
        choice.correct_choice_prob([0, 2], lls)
    )
    got = mc().score(mc_sample([-math.inf, -1.0], "0"))
    assert got["brier_score"] == 2.0 and got["correct_choice_logprob"] == -math.inf


def test_choice_the_logged_acc_decides_between_readings():
    lls = [-5.0, -1.0, -3.0]
    conts = [" 2", " 0", " 1"]  # choice texts that look like indices
    # target "1" read as an index is choice 1 (predicted, acc 1); read as text it is choice 2 (acc 0)
    assert mc().score(mc_sample(lls, "1", conts, acc=0.0))["correct_choice_logprob"] == -3.0
    assert mc().score(mc_sample(lls, "1", conts, acc=1.0))["correct_choice_logprob"] == -1.0
    with pytest.raises(SampleError, match="reproduces the logged acc"):
        mc().score(mc_sample(lls, "0", [" a", " b", " c"], acc=1.0))
    # a custom process_results may mean something else by acc: not checked
    assert (
        mc(process_results="<function f>").score(mc_sample(lls, "0", [" a", " b", " c"], acc=1.0))[
            "correct_choice_logprob"
        ]
        == -5.0
    )


def test_choice_drops_the_unconditional_half_of_mutual_information():
    lls = [-1.0, -2.0, -0.1, -0.2]
    sample = mc_sample(lls, "0", [" a", " b", " a", " b"], ["Q:", "Q:", "", ""])
    assert mc().score(sample)["correct_choice_prob"] == pytest.approx(choice.correct_choice_prob(0, [-1.0, -2.0]))


def test_choice_different_numbers_of_choices_and_one_choice():
    assert mc().score(mc_sample([-3.0], "0"))["brier_score"] == 0.0
    assert mc().score(mc_sample([-3.0, -1.0, -2.0, -4.0, -5.0], "4"))["correct_choice_logprob"] == -5.0


@pytest.mark.parametrize(
    "sample, match",
    [
        (mc_sample([-1.0, -2.0], "2"), "neither a choice index"),
        (mc_sample([-1.0, -2.0], "-100"), "neither a choice index"),
        (mc_sample([-1.0, -2.0], 0), "target must be a string"),
        (mc_sample([-1.0, -2.0], "0", [" x", " x"], ["A", "B"]), "multiple-input"),
        ({"target": "0", "filtered_resps": []}, "one \\(loglikelihood"),
        ({"target": "0", "filtered_resps": [["-1", "True", "x"]]}, "pair"),
        ({"target": "0", "filtered_resps": [["nan", "True"]]}, "logliks"),
    ],
)
def test_choice_rejects_bad_samples(sample, match):
    with pytest.raises(SampleError, match=match):
        mc().score(sample)


def test_generation_in_a_models_tokens(tiny_model):
    scorer = gen(tokenizer=str(tiny_model))
    got = scorer.score_fields("124", ["1 24"])
    assert got["token_edit_distance"] == adapters.token_edit_distance(
        references=["124"], predictions=["1 24"], tokenizer=str(tiny_model)
    )
    assert got["digit_accuracy"] == adapters.digit_accuracy(
        references=["124"], predictions=["1 24"]
    )  # digits stay characters
