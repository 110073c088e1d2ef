"""lm_eval_mirage.rescore.samples: the fast path agrees with a full JSON parse or declines; bad lines are
named precisely."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_mirage.rescore.samples import (
    SampleError,
    generation_fields,
    parse_bool,
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
    st.sampled_from(['", "target": "x', ', "filtered_resps": ["y"], "filter": "z", "metrics": [', "\\", '"', "\n", '}\n', '{"doc_id": 3']),
)


@settings(max_examples=300, deadline=None)
@given(
    doc=st.dictionaries(st.sampled_from(["id", "target", "filtered_resps", "filter", "doc_id", "q"]), tricky, max_size=4),
    target=tricky,
    prompt=tricky,
    output=tricky,
    filter_key=st.sampled_from(["parsed", "raw", 'we"ird']),
    extra=st.dictionaries(
        st.sampled_from(["token_edit_distance", "brier_score"]),
        st.one_of(
            tricky,
            # per-sample metric values that mimic the harness's own keys (a nested look-alike)
            st.lists(st.sampled_from(["x", "target", "arguments", "filtered_resps", "filter", "metrics"]), max_size=6).map(
                lambda keys: {k: ([k] if k in ("filtered_resps", "metrics") else k) for k in keys}
            ),
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
    assert generation_fields(prefix) is None
    assert generation_fields(prefix + "\n") is None or prefix + "\n" == line


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


def test_other_writers_layouts_fall_back():
    compact = json.dumps(json.loads(harness_line({"id": 1}, "1", "Q?", ["1"])), separators=(",", ":")) + "\n"
    assert generation_fields(compact) is None
    assert parse_sample(compact)["target"] == "1"


def test_parse_bool_and_target_list():
    assert parse_bool("True", "x") is True and parse_bool(False, "x") is False
    with pytest.raises(SampleError, match="is_greedy must be 'True' or 'False'"):
        parse_bool("1", "is_greedy")
    assert parse_target_list(" ['a', 'b'] ") == ["a", "b"]
    assert parse_target_list("[]") is None
    assert parse_target_list("[__import__('os')]") is None  # literals only, never code
    assert parse_target_list("12") is None
