"""benchmarks/_common.py: formatting, alternation, noise judgement, records (no timing assertions)."""

from __future__ import annotations

import doctest
import json
import math
import sys

import pytest


@pytest.fixture(scope="module")
def common(bench):
    return bench("_common")


def test_doctests(common):
    result = doctest.testmod(common)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1234567.8, "1,234,568"),
        (1000, "1,000"),
        (999.4, "999.4"),
        (12.3456, "12.35"),
        (1.0, "1.000"),
        (0.5, "0.5000"),
        (0.000123456, "0.0001235"),
        (-0.4265, "-0.4265"),
        (-2500.0, "-2,500"),
        (0, "0"),
        (None, "n/a"),
        (float("nan"), "n/a"),
    ],
)
def test_format_value(common, value, text):
    assert common.format_value(value) == text


@pytest.mark.parametrize(
    ("meets", "verdict"),
    [(True, "[target < 2: met]"), (False, "[target < 2: MISSED]"), (None, "[target < 2: not judged]")],
)
def test_format_line_fields(common, meets, verdict):
    fig = common.Figure("some_figure", 1.5, "s", 1.25, target="< 2", meets_target=meets, noise="+-3%")
    line = common.format_line(fig)
    assert line.split()[:4] == ["some_figure", "1.500", "s", "ratio_vs_baseline=1.250"]
    assert verdict in line and line.endswith("(noise: +-3%)")


def test_format_line_without_ratio_or_target(common):
    line = common.format_line(common.Figure("x", 3.0, "us/sample"))
    assert line.split() == ["x", "3.000", "us/sample", "ratio_vs_baseline=n/a"]


def test_alternated_rotates_order_and_collects_per_variant(common):
    calls = []

    def make(name):
        return lambda: calls.append(name) or len(calls)

    seen = []
    out = common.alternated(
        {"a": make("a"), "b": make("b"), "c": make("c")}, 3, on_run=lambda n, r, res: seen.append((n, r))
    )
    assert calls == ["a", "b", "c", "c", "b", "a", "a", "b", "c"]
    assert out == {"a": [1, 6, 7], "b": [2, 5, 8], "c": [3, 4, 9]}
    assert seen[:3] == [("a", 0), ("b", 0), ("c", 0)] and len(seen) == 9


def test_alternated_rejects_no_repeats(common):
    with pytest.raises(ValueError, match="repeats"):
        common.alternated({"a": lambda: 1}, 0)


def test_median_and_spread(common):
    assert common.median([5.0]) == 5.0
    assert common.median([4.0, 1.0, 3.0, 2.0]) == 2.5
    with pytest.raises(ValueError, match="values is empty"):
        common.median([])
    assert common.relative_spread([2.0, 2.0]) == 0.0
    assert common.relative_spread([1.0, 2.0, 3.0]) == pytest.approx(0.5)
    assert math.isnan(common.relative_spread([0.0, 0.0]))


@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ([1.0], True),
        ([1.02], False),
        ([0.5, 1.019], True),
        ([1.1, 1.3], False),
        ([1.0, 1.05], None),
        ([1.05, 1.0], None),
    ],
)
def test_judge_below(common, ratios, expected):
    assert common.judge_below(ratios, 1.02) is expected


def test_judge_below_needs_measurements(common):
    with pytest.raises(ValueError, match="empty"):
        common.judge_below([], 1.0)


def test_record_round_trip_is_atomic(common, tmp_path):
    figs = [
        common.Figure("a", 1.0, "s", 1.0, baseline="itself", headline=True),
        common.Figure("b", 2.0, "s", 2.0, extra={"k": 1}),
    ]
    record = common.make_record("demo", figs, mode="quick", params={"n": 3, "path": tmp_path}, wall_seconds=1.23456)
    path = common.write_record(tmp_path / "sub" / "demo.json", record)
    assert [p.name for p in path.parent.iterdir()] == ["demo.json"]  # no temp file left behind
    back = common.read_record(path)
    assert back["benchmark"] == "demo" and back["mode"] == "quick" and back["schema"] == common.SCHEMA_VERSION
    assert back["wall_seconds"] == 1.23 and back["params"] == {"n": 3, "path": str(tmp_path)}
    assert back["figures"][0] == {
        "name": "a",
        "value": 1.0,
        "unit": "s",
        "ratio_vs_baseline": 1.0,
        "baseline": "itself",
        "target": None,
        "meets_target": None,
        "noise": None,
        "figure": None,
        "headline": True,
        "description": None,
    }
    assert back["figures"][1]["extra"] == {"k": 1} and "extra" not in back["figures"][0]
    machine = back["machine"]
    assert machine["cpu_cores"] >= 1 and machine["python"].count(".") == 2
    assert machine["versions"]["lm_eval"] and machine["versions"]["lm-eval-mirage"]
    assert back["date"].endswith("Z")


def test_make_record_rejects_unknown_mode(common):
    with pytest.raises(ValueError, match="mode must be"):
        common.make_record("demo", [], mode="fast")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"figures": []}', "not a benchmark record"),
        ('{"benchmark": "x", "figures": [{"name": "a", "unit": "s"}]}', r"figures\[0\] lacks value"),
    ],
)
def test_read_record_names_the_problem(common, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message) as info:
        common.read_record(path)
    assert str(path) in str(info.value)


def test_run_child_measures_and_reports_failures(common):
    out = common.run_child([sys.executable, "-c", "sum(range(10**5))"])
    assert set(out) == {"wall", "cpu"} and out["wall"] > 0 and out["cpu"] >= 0
    with pytest.raises(RuntimeError, match="boom"):
        common.run_child([sys.executable, "-c", "import sys; sys.exit('boom')"])


def test_offline_env_keeps_user_settings(common, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert common.offline_env() == str(tmp_path)
    import os

    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_base_parser_defaults(common):
    args = common.base_parser("demo", None).parse_args([])
    assert args.quick is False and args.record == common.RESULTS_DIR / "demo.json"
    assert json.loads(json.dumps(str(args.record))).endswith("benchmarks/results/demo.json")
