"""``lm-eval-mirage demo`` end to end: the real command, the real harness, a micro run (3 members, 24 problems)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_mirage.models.simulated import token_probability

pytestmark = pytest.mark.slow

MICRO = ["--members", "3", "--limit", "24", "--quiet", "--no-plots"]


def _results(run_folder: str) -> dict:
    (path,) = Path(run_folder).rglob("results_*.json")
    return json.loads(path.read_text())


def _demo(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lm-eval-mirage"
    proc = subprocess.run([str(exe), "demo", *args], capture_output=True, text=True, timeout=900, env=env)
    if proc.returncode != 0:
        raise AssertionError(
            f"lm-eval-mirage demo exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\nSTDERR:\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture(scope="module")
def micro_demo(tmp_path_factory):
    """Run the micro demo twice with a private cache; HOME points at an empty folder that must stay empty."""
    base = tmp_path_factory.mktemp("demo")
    home, cache, out = base / "home", base / "cache", base / "out"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "LM_EVAL_MIRAGE_CACHE"}
    env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")})
    args = ["--out", str(out), "--cache-dir", str(cache), *MICRO]
    first = _demo(args, env)
    second = _demo(args, env)
    return {"first": first, "second": second, "out": out, "cache": cache, "home": home}


def test_report_files_and_headline(micro_demo):
    out = micro_demo["out"]
    for name in ("report.md", "report.html", "demo_summary.md", "demo_summary.json", "table.csv", "emergence.csv"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "demo_summary.json").read_text())
    series = {r["series"] for r in summary["headline"]}
    assert series == {"simulated-seed0", "trained-seed0"}
    for s in series:
        metrics = {r["metric"] for r in summary["headline"] if r["series"] == s}
        assert {"exact_match", "token_edit_distance", "per_token_prob", "greedy_exact_match"} <= metrics
    assert len(summary["members"]) == 6 and all(r["n_models"] == 3 for r in summary["headline"])
    assert "SIMULATION" in (out / "report.md").read_text()
    assert "exact_match" in micro_demo["first"].stdout  # the headline is printed


def test_second_run_reuses_the_cache_and_home_stays_clean(micro_demo):
    assert "evaluated 6 models (0 reused" in micro_demo["first"].stderr
    assert "evaluated 6 models (6 reused" in micro_demo["second"].stderr
    assert list(micro_demo["home"].iterdir()) == []  # --cache-dir wins: nothing written to the user's cache
    runs = sorted(p.relative_to(micro_demo["cache"]).parts[1:3] for p in micro_demo["cache"].glob("runs/*/*"))
    assert {family for family, _ in runs} == {"simulated", "trained"} and len(runs) == 6


def test_simulated_runs_follow_the_closed_form(micro_demo):
    summary = json.loads((micro_demo["out"] / "demo_summary.json").read_text())
    sims = [(m, f) for m, f in zip(summary["members"], summary["runs"]) if m["series"].startswith("simulated")]
    assert len(sims) == 3
    for member, folder in sims:
        res = _results(folder)["results"]
        p = token_probability(member["params"])
        for task in ("mirage_paper_add_4d", "mirage_paper_mul_2d"):
            gen, ll = res[task], res[f"{task}_ll"]
            assert gen["exact_match,parsed"] == pytest.approx(ll["greedy_exact_match,none"])  # doc by doc, same draws
            assert ll["per_token_prob,none"] == pytest.approx(p, rel=1e-9)
            assert ll["per_token_logprob,none"] == pytest.approx(math.log(p), rel=1e-9)


def test_trained_runs_go_through_the_harness_on_the_checkpoints(micro_demo):
    summary = json.loads((micro_demo["out"] / "demo_summary.json").read_text())
    trained = [(m, f) for m, f in zip(summary["members"], summary["runs"]) if m["series"].startswith("trained")]
    values = []
    for member, folder in trained:
        data = _results(folder)
        assert data["config"]["model_num_parameters"] == member["params"]
        res = data["results"]
        assert res["mirage_demo_recall"]["exact_match,parsed"] == pytest.approx(
            res["mirage_demo_recall_ll"]["greedy_exact_match,none"]
        )
        values.append(
            (res["mirage_demo_recall_ll"]["per_token_prob,none"], res["mirage_demo_recall"]["exact_match,parsed"])
        )
    assert values[0][0] < values[-1][0]  # the largest member recalls more than the smallest, per token
    assert values[0][1] == 0.0 and values[-1][1] > 0.5  # and whole codes: none at the bottom, most at the top


def test_bad_family_is_a_clear_error(run_main, tmp_path):
    proc = run_main(["lm-eval-mirage", "demo", "--families", "simulated,giant", "--out", str(tmp_path)], check=False)
    assert proc.returncode == 2
    assert "families=['simulated', 'giant']" in proc.stderr and "accepted values are simulated, trained" in proc.stderr
