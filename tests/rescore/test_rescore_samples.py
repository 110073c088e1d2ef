"""lm_eval_mirage.rescore.samples: the fast path agrees with a full JSON parse or declines (and declines every
line a full parse refuses, damage in ``doc`` included); bad lines and bad log-likelihoods are named precisely."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_mirage.rescore.samples import (
    SampleError,
    check_loglikelihoods,
    generation_fields,
    parse_bool,
    parse_loglikelihood,
    parse_sample,
    parse_target_list,
)


def harness_line(doc, target, prompt, filtered, filter_key="parsed", extra=None) -> str:
    """A line as EvaluationTracker.save_results_samples writes it (json.dumps defaults, ensure_ascii=False)."""
    sample = {
        "doc_id": doc.get("id", 0) if isinstance(doc, dict) else 0,
        "doc": doc,
        "target": target,
        "arguments": {"gen_args_0": {"arg_0": prompt, "arg_1": {"until": ["\n"], "do_sample": False}}},
        "resps": [[str(filtered[0]) if filtered else ""]],
        "filtered_resps": filtered,
        "filter": filter_key,
        "metrics": ["exact_match"],
        "doc_hash": "a" * 64,
        "prompt_hash": "b" * 64,
        "target_hash": "c" * 64,
        "exact_match": 0.0,
        **(extra or {}),
    }
    return json.dumps(sample, ensure_ascii=False) + "\n"


def full(line: str):
    s = json.loads(line)
    return s["doc_id"], s["target"], s["filtered_resps"], s["filter"]


def test_fast_path_reads_a_harness_line():
    line = harness_line({"id": 7, "a": "1"}, "124", "Q: What is 60 plus 64? A:", [" 124"])
    assert generation_fields(line) == (7, "124", [" 124"], "parsed") == full(line)


# Strings that try to confuse a substring search: the harness's own key names, quotes, escapes, newlines.
tricky = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            '", "target": "x',
            ', "filtered_resps": ["y"], "filter": "z", "metrics": [',
            "\\",
            '"',
            "\n",
            "}\n",
            '{"doc_id": 3',
        ]
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    doc=st.dictionaries(
        st.sampled_from(["id", "target", "filtered_resps", "filter", "doc_id", "q"]), tricky, max_size=4
    ),
    target=tricky,
    prompt=tricky,
    output=tricky,
    filter_key=st.sampled_from(["parsed", "raw", 'we"ird']),
    extra=st.dictionaries(
        st.sampled_from(["token_edit_distance", "brier_score"]),
        st.one_of(
            tricky,
            # per-sample metric values that mimic the harness's own keys (a nested look-alike)
            st.lists(
                st.sampled_from(["x", "target", "arguments", "filtered_resps", "filter", "metrics"]), max_size=6
            ).map(lambda keys: {k: ([k] if k in ("filtered_resps", "metrics") else k) for k in keys}),
        ),
        max_size=2,
    ),
)
def test_fast_path_equals_full_parse_or_declines(doc, target, prompt, output, filter_key, extra):
    line = harness_line(doc, target, prompt, [output], filter_key, extra)
    fields = generation_fields(line)
    if fields is not None:
        assert fields == full(line)


@settings(max_examples=100, deadline=None)
@given(target=tricky, output=tricky, cut=st.floats(0.0, 0.999))
def test_a_cut_line_is_never_read_by_the_fast_path(target, output, cut):
    line = harness_line({"id": 1}, target, "Q?", [output])
    prefix = line[: int(len(line) * cut)]
    complete = prefix.rstrip("\n") == line.rstrip("\n")  # only the newline lost: the object is whole
    assert generation_fields(prefix) is None or complete
    assert generation_fields(prefix + "\n") is None or complete


def test_a_look_alike_in_a_later_metric_value_is_not_taken_for_the_sample():
    nested = {"x": 1, "filtered_resps": ["evil"], "filter": "f", "metrics": ["m"], "target": "t", "arguments": {}}
    line = harness_line({"id": 3}, "124", "Q?", [" 124"], extra={"my_metric": nested})
    assert ', "filtered_resps": ["evil"], "filter": "f", "metrics": ["m"]' in line
    fields = generation_fields(line)
    assert fields is None or fields == full(line)


def test_two_lines_run_together_are_rejected():
    first = harness_line({"id": 1}, "1", "Q?", ["1"])
    second = harness_line({"id": 2}, "2", "Q?", ["2"])
    merged = first[:40] + second  # a killed writer, then another run appending to the same file
    assert generation_fields(merged) is None
    with pytest.raises(SampleError, match="malformed"):
        parse_sample(merged)


def test_parse_sample_names_truncation_and_malformation():
    line = harness_line({"id": 1}, "1", "Q?", ["1"])
    with pytest.raises(SampleError, match=r"truncated JSON \(the line ends after 30 characters"):
        parse_sample(line[:30])
    with pytest.raises(SampleError, match="truncated"):
        parse_sample(line[:30] + "\n")  # cut inside a string, newline added later
    with pytest.raises(SampleError, match=r"malformed JSON \(.* at character 2\)"):
        parse_sample("{]\n")
    with pytest.raises(SampleError, match="must be a JSON object"):
        parse_sample("[1, 2]\n")


def test_other_writers_layouts_are_read_with_the_same_values():
    compact = json.dumps(json.loads(harness_line({"id": 1}, "1", "Q?", ["1"])), separators=(",", ":")) + "\n"
    assert generation_fields(compact) == full(compact)
    assert parse_sample(compact)["target"] == "1"


def _json_or_none(line: str):
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return None


@settings(max_examples=400, deadline=None)
@given(data=st.data(), target=tricky, output=tricky)
def test_damage_anywhere_is_declined_exactly_when_a_full_parse_refuses_it(data, target, output):
    """The fast path never reads a line json.loads refuses (so --strict and the default skip the same lines),
    and what it reads equals json.loads's reading."""
    line = harness_line({"id": 1, "q": "What?"}, target, "Q: 1 + 1 =", [output])
    i = data.draw(st.integers(0, len(line) - 1))
    junk = data.draw(st.sampled_from(["", ",", "}", "{", '"', "]", "\\", "x", ",,", "NaN", "1e999"]))
    damaged = line[:i] + junk + line[i + data.draw(st.integers(0, 3)) :]
    fields, parsed = generation_fields(damaged), _json_or_none(damaged)
    if (
        parsed is None
        or not isinstance(parsed, dict)
        or not {"doc_id", "target", "filtered_resps", "filter"} <= set(parsed)
    ):
        assert fields is None
    elif fields is not None:
        assert fields == (parsed["doc_id"], parsed["target"], parsed["filtered_resps"], parsed["filter"])


def test_damage_confined_to_doc_is_refused_by_both_readers():
    line = harness_line({"id": 2, "a": "1"}, "7", "Q?", ["7"])
    damaged = line.replace('"doc": {"id": 2, "a": "1"}', '"doc": {"id": 2,, "a": "1"}')
    assert damaged != line and generation_fields(damaged) is None
    with pytest.raises(SampleError, match="malformed JSON"):
        parse_sample(damaged)


def test_huge_integers_and_deep_nesting_are_sample_errors():
    line = harness_line({"id": 2}, "7", "Q?", ["7"])
    huge = line.replace('{"doc_id": 2', '{"doc_id": ' + "7" * 5000, 1)
    assert generation_fields(huge) is None
    with pytest.raises(SampleError, match=r"unreadable JSON \(Exceeds the limit \(4300 digits\)"):
        parse_sample(huge)
    deep = line.replace('"doc": {', '"doc": {"x": ' + "[" * 200_000 + "]" * 200_000 + ", ", 1)
    assert generation_fields(deep) is None
    with pytest.raises(SampleError, match="nested deeper"):
        parse_sample(deep)


@pytest.mark.parametrize(
    "value",
    [True, False, 3.8, "3.8", "nan", float("nan"), "inf", float("inf"), "1e999", None, "", "x", [1], "1_0", 10**400],
)
def test_what_is_not_a_loglikelihood_is_refused(value):
    with pytest.raises(SampleError, match=r"filtered_resps\[1\]\[0\] must be a log-likelihood"):
        check_loglikelihoods([["-1.0", "False"], [value, "False"]])


@pytest.mark.parametrize("value", [-13.17, "-13.17", 0, "0.0", "-inf", float("-inf"), -1e300, 5e-5])
def test_loglikelihoods_are_accepted(value):
    assert parse_loglikelihood(value, "x") == float(value)
    check_loglikelihoods([[value, "True"]])


def test_response_shapes_and_greedy_flags_are_named():
    with pytest.raises(SampleError, match=r"filtered_resps must be a non-empty list"):
        check_loglikelihoods([])
    with pytest.raises(SampleError, match=r"filtered_resps\[0\] must be a \(loglikelihood, is_greedy\) pair"):
        check_loglikelihoods([["-1.0"]])
    with pytest.raises(SampleError, match=r"filtered_resps\[0\]\[1\] must be 'True' or 'False'"):
        check_loglikelihoods([["-1.0", "maybe"]])


def test_parse_bool_and_target_list():
    assert parse_bool("True", "x") is True and parse_bool(False, "x") is False
    with pytest.raises(SampleError, match="is_greedy must be 'True' or 'False'"):
        parse_bool("1", "is_greedy")
    assert parse_target_list(" ['a', 'b'] ") == ["a", "b"]
    assert parse_target_list("[]") is None
    assert parse_target_list("[__import__('os')]") is None  # literals only, never code
    assert parse_target_list("12") is None
