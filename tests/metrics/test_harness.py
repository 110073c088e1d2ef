"""The registration layer: names resolve in the harness registry, built-ins survive, calls are harness-shaped."""

from __future__ import annotations

import pytest

import lm_eval_mirage
from lm_eval_mirage.metrics import harness


def test_registered_by_name_with_direction_and_mean_aggregation():
    from lm_eval.api.registry import get_metric, get_metric_aggregation, is_higher_better

    for name, (fn, higher) in harness.GENERATION_METRICS.items():
        assert get_metric(name) is fn
        assert is_higher_better(name) is higher
        assert get_metric_aggregation(name)([1.0, 2.0]) == 1.5


def test_registering_twice_is_harmless_and_builtins_are_kept():
    from lm_eval.api.registry import get_metric

    lm_eval_mirage.register()
    lm_eval_mirage.register()
    assert get_metric("exact_match") is not None
    assert get_metric("acc") is not None


def test_adapters_take_the_harness_call_shape():
    assert harness.token_edit_distance(references=["124"], predictions=[" 134"]) == 1.0
    assert harness.normalized_edit_distance(references=["12"], predictions=["1234"]) == 0.5
    assert harness.digit_accuracy(references=["124"], predictions=["134"]) == pytest.approx(2 / 3)
    # Garbage from a model never raises.
    assert harness.token_edit_distance(references=["7"], predictions=[None]) == 1.0
    assert harness.token_edit_distance(references=[], predictions=[]) == 0.0


def test_parse_option_applies_the_numeric_rule():
    assert harness.token_edit_distance(references=["124"], predictions=["The answer is 124."], parse=True) == 0.0


def test_unknown_option_is_a_clear_error_not_a_typeerror():
    # A TypeError would make the harness silently retry with another call signature.
    with pytest.raises(ValueError, match="unknown metric option.*'tokeniser'"):
        harness.token_edit_distance(references=["1"], predictions=["1"], tokeniser="gpt2")


def test_tokenizer_option(tiny_model):
    assert harness.token_edit_distance(references=["124"], predictions=["125"], tokenizer=str(tiny_model)) == 1.0
    assert harness.digit_accuracy(references=["124"], predictions=["125"], tokenizer=str(tiny_model)) == pytest.approx(
        2 / 3
    )


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(references={"a": 1}, predictions=["1"]), "references must be a list"),
        (dict(references=[{"a": 1}], predictions=["1"]), r"references\[0\] must be a string or an int"),
        (dict(references=["1"], predictions=[10**5000]), r"predictions\[0\] must be a string or an int"),
        (dict(references=["1"], predictions=[True]), r"predictions\[0\] must be a string or an int"),
        (dict(references=["1"], predictions=["1"], parse="false"), "option parse must be true or false"),
        (dict(references=["1"], predictions=["1"], tokenizer={"name": "gpt2"}), "option tokenizer must be"),
    ],
)
def test_bad_harness_inputs_are_value_errors_naming_them(kwargs, match):
    for fn in (harness.token_edit_distance, harness.normalized_edit_distance, harness.digit_accuracy):
        with pytest.raises(ValueError, match=match):
            fn(**kwargs)


def test_int_targets_are_read_as_their_decimal_text():
    assert harness.token_edit_distance(references=[124], predictions=["124"]) == 0.0


def test_predictions_repeated_by_the_harness_multiple_target_path_are_one_text():
    # lm-eval 0.4.13 hands the metrics listed after exact_match ``predictions=[[text] * len(gold)]``
    from lm_eval_mirage.metrics import harness as adapters

    assert adapters.token_edit_distance(references=["paris"], predictions=[["paris city"] * 3]) == 5.0
    with pytest.raises(ValueError, match=r"predictions\[0\]"):
        adapters.token_edit_distance(references=["paris"], predictions=[["paris", "rome"]])
