"""``lm-eval-mirage control`` end to end: the real command and harness on the shipped checkpoints.

The scores the shipped checkpoints must reproduce were recorded by the command itself when the checkpoints
were trained: tests/data/control_scores.json (carry families at ``--limit 40``; the default families, modadd
and recall, at the ``transition_limit`` recorded there).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RECORDED = Path(__file__).resolve().parents[1] / "data" / "control_scores.json"


def _control(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lm-eval-mirage"
    return subprocess.run([str(exe), "control", *args], capture_output=True, text=True, timeout=900, env=env)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    env = {k: v for k, v in os.environ.items() if k != "LM_EVAL_MIRAGE_CACHE"}
    env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")})
    return env


@pytest.fixture(scope="module")
def micro_control(tmp_path_factory, env):
    base = tmp_path_factory.mktemp("control")
    out, cache = base / "out", base / "cache"
    recorded = json.loads(RECORDED.read_text())
    proc = _control(
        [
            "--out",
            str(out),
            "--cache-dir",
            str(cache),
            "--limit",
            str(recorded["limit"]),
            "--families",
            "carry-steps,carry",
            "--quiet",
            "--no-plots",
        ],
        env,
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\nSTDERR:\n{proc.stderr[-8000:]}"
    )
    return {"proc": proc, "out": out, "cache": cache, "recorded": recorded}


def test_shipped_checkpoints_reproduce_their_recorded_scores(micro_control):
    summary = json.loads((micro_control["out"] / "control_summary.json").read_text())
    recorded = micro_control["recorded"]["curves"]
    got = {r["model"]: r for r in summary["curves"]}
    assert sorted(got) == sorted(r["model"] for r in recorded)
    for want in recorded:
        for metric in ("exact_match", "token_edit_distance", "per_token_logprob"):
            assert math.isclose(got[want["model"]][metric], want[metric], rel_tol=1e-6, abs_tol=1e-9), (
                want["model"],
                metric,
            )


def test_report_has_verdicts_curves_and_harness_files(micro_control):
    out = micro_control["out"]
    for name in ("report.md", "report.html", "control_summary.md", "control_summary.json"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "control_summary.json").read_text())
    assert {r["family"] for r in summary["verdicts"]} == {"carry", "carry-steps"}
    assert {"exact_match", "token_edit_distance", "per_token_logprob"} <= {r["metric"] for r in summary["verdicts"]}
    # every member went through the harness: its results and samples files are in the cache
    for run in summary["runs"]:
        names = [p.name for p in Path(run).rglob("*") if p.is_file()]
        assert any(n.startswith("results_") for n in names)
        assert any(n.startswith("samples_mirage_control_carry_ll_") for n in names)
    assert "Raw curves" in micro_control["proc"].stdout


def test_bad_family_is_a_usage_error(run_main, tmp_path):
    args = ["lm-eval-mirage", "control", "--families", "carry,nope", "--out", str(tmp_path / "o"), "--quiet"]
    proc = run_main(args, check=False)
    assert proc.returncode == 2
    assert (
        "families=['carry', 'nope']: accepted values are modadd, recall, carry-steps, carry" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_step_family_verdicts_are_the_measured_ones(micro_control):
    """The verdicts the command gives the shipped run along training steps (seed 0, --limit 40) are the ones
    recorded when it was trained; and, as measured (docs/control.md), they do NOT make it a real transition:
    the per-token log-prob curve is smooth, so no "emergent under every metric"."""
    summary = json.loads((micro_control["out"] / "control_summary.json").read_text())
    got = {
        h["metric"]: h["verdict"]
        for h in summary["headline"]
        if h["series"] == "carry-steps-seed0" and h["task"] == "mirage_control_carry"
    }
    assert got == micro_control["recorded"]["steps_verdicts"]
    assert got["per_token_logprob"] == "smooth"
    assert not all(got[m] == "emergent" for m in ("exact_match", "token_edit_distance", "per_token_logprob"))
    steps = [r for r in summary["curves"] if r["family"] == "carry-steps"]
    assert [r["size"] for r in steps] == [f"step {s}" for s in (16, 32, 64, 128, 192, 256, 384, 512, 768, 1000)]


@pytest.fixture(scope="module")
def default_control(tmp_path_factory, env):
    """The command as a user first runs it: the default families (modadd beside recall), seed 0, shipped."""
    base = tmp_path_factory.mktemp("control-default")
    out, cache = base / "out", base / "cache"
    recorded = json.loads(RECORDED.read_text())
    limit = [] if recorded["transition_limit"] is None else ["--limit", str(recorded["transition_limit"])]
    proc = _control(["--out", str(out), "--cache-dir", str(cache), *limit, "--quiet", "--no-plots"], env)
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\nSTDERR:\n{proc.stderr[-8000:]}"
    )
    return {
        "proc": proc,
        "out": out,
        "summary": json.loads((out / "control_summary.json").read_text()),
        "recorded": recorded,
    }


def test_default_families_reproduce_their_recorded_scores(default_control):
    got = {r["model"]: r for r in default_control["summary"]["curves"]}
    recorded = default_control["recorded"]["transition_curves"]
    assert sorted(got) == sorted(r["model"] for r in recorded)
    for want in recorded:
        for metric in ("exact_match", "token_edit_distance", "per_token_logprob"):
            assert math.isclose(got[want["model"]][metric], want[metric], rel_tol=1e-6, abs_tol=1e-9), (
                want["model"],
                metric,
            )


def test_a_real_transition_beside_a_mirage(default_control):
    """Issue 18's done-criterion, through the real command: the modadd family is emergent under exact match
    AND under the continuous metrics (a real transition); the recall family only under exact match (a mirage)."""
    verdicts = {(h["series"], h["metric"]): h["verdict"] for h in default_control["summary"]["headline"]}
    for metric in ("exact_match", "per_token_logprob", "per_token_prob"):
        assert verdicts[("modadd-seed0", metric)] == "emergent", metric
    # token edit distance: emergent by shape, its bootstrap interval grazing the threshold (docs/control.md)
    assert verdicts[("modadd-seed0", "token_edit_distance")] == "uncertain"
    assert verdicts[("recall-seed0", "exact_match")] == "emergent"
    for metric in ("token_edit_distance", "per_token_logprob", "per_token_prob"):
        assert verdicts[("recall-seed0", metric)] == "smooth", metric
    assert {(h["series"], h["metric"]): h["verdict"] for h in default_control["summary"]["headline"]} == {
        (k["series"], k["metric"]): k["verdict"] for k in default_control["recorded"]["transition_verdicts"]
    }
    sizes = [r["size"] for r in default_control["summary"]["curves"] if r["family"] == "modadd"]
    assert sizes == [f"width {w}" for w in (8, 12, 16, 24, 32, 48, 64)]
    report = (default_control["out"] / "report.md").read_text()
    # the first screen says which is which, reading each task with its log-likelihood twin
    assert "modadd-seed0: looks emergent under continuous metric(s)" in report
    assert "the jump is not explained by the choice of metric alone" in report
    assert "recall-seed0: looks emergent under" in report and "consistent with a metric-induced mirage" in report
    # the cross-task contrast: modadd's continuous metrics disagree (log-prob emergent, digit accuracy smooth),
    # recall's are all smooth
    import csv

    with open(default_control["out"] / "cross_task_pairs.csv", newline="") as f:
        pairs = {(r["series"], r["task"], r["filter"]): r["property"] for r in csv.DictReader(f)}
    assert {p for (series, _, _), p in pairs.items() if series == "modadd-seed0"} == {"mixed"}
    assert {p for (series, _, _), p in pairs.items() if series == "recall-seed0"} == {"metric property"}
