"""`lm-eval-mirage analyze --holdout K` end to end: the real command over simulated harness-layout results."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from lm_eval_mirage.analysis.forecast import FORECAST_COLUMNS
from lm_eval_mirage.analysis.simulated_results import DEFAULT_MODELS, simulate_results

TASKS = {"mirage_arith_mul_3d": (5, 6)}
HELD = ["sim/model-6.4b", "sim/model-25.6b"]


def _analyze(run_cli, results: Path, out: Path, *extra: str):
    return run_cli(
        [
            "lm-eval-mirage",
            "analyze",
            str(results),
            "--out",
            str(out),
            "--holdout",
            "2",
            "--n-boot",
            "200",
            "--formats",
            "png",
            "--quiet",
            *extra,
        ]
    )


def _perturb_held_out_likelihood(results: Path) -> int:
    """Rewrite the held-out models' *_ll results and samples (log-likelihoods tripled); returns files changed."""
    changed = 0
    for folder in results.iterdir():
        if folder.name not in {h.replace("/", "__") for h in HELD}:
            continue
        for path in folder.glob("results_*.json"):
            payload = json.loads(path.read_text())
            for task, entry in payload["results"].items():
                if task.endswith("_ll"):
                    for key in entry:
                        if key.startswith(("per_token_logprob", "target_logprob")) and "stderr" not in key:
                            entry[key] *= 3.0
            path.write_text(json.dumps(payload))
            changed += 1
        for path in folder.glob("samples_*_ll_*.jsonl"):
            lines = [json.loads(line) for line in path.read_text().splitlines()]
            for line in lines:
                line["per_token_logprob"] *= 3.0
                line["target_logprob"] *= 3.0
            path.write_text("".join(json.dumps(line) + "\n" for line in lines))
            changed += 1
    return changed


@pytest.mark.slow
def test_analyze_holdout_writes_the_forecast_and_ignores_the_held_out_likelihoods(tmp_path, run_cli):
    pytest.importorskip("matplotlib")
    results = tmp_path / "runs"
    simulate_results(results, tasks=TASKS, n_problems=200, logprob_noise=0.2, seed=4)
    proc = _analyze(run_cli, results, tmp_path / "report")
    m = re.search(
        r"mirage_arith_mul_3d: models: from the per-token loss of 3 smaller models, exact match is forecast "
        r"to reach 0\.5 at parameters (\S+) \(95% interval (\S+) to (\S+);",
        proc.stdout,
    )
    assert m, proc.stdout
    low, x, high = float(m.group(2)), float(m.group(1)), float(m.group(3))
    assert low < x < high and 5e10 < x < 3e11  # c = 2e9, alpha = -0.5, 5-6 digits: about 1.2e11
    assert re.search(r"forecast \(likelihood\): (\d+) of 4 held-out value\(s\) inside the 95% interval", proc.stdout)

    rep = tmp_path / "report"
    table = pd.read_csv(rep / "forecast.csv")
    assert list(table.columns) == list(FORECAST_COLUMNS)
    assert sorted(set(table["model"])) == sorted(HELD)
    assert set(table["method"]) == {"likelihood", "trend"}
    records = json.loads((rep / "forecast.json").read_text())
    assert len(records) == len(table) and set(records[0]) == set(FORECAST_COLUMNS)
    ll = table[(table["method"] == "likelihood") & (table["split"] == "all")]
    # one family, one fit: the two held-out models miss or hit together (coverage over seeds: the benchmark)
    assert len(ll) == 4 and ll["covered"].sum() >= 2
    assert ((ll["predicted"] - ll["observed"]).abs() <= 0.15 * ll["observed"] + 0.03).all()
    assert (ll["low"] <= ll["predicted"]).all() and (ll["predicted"] <= ll["high"]).all()
    md = (rep / "report.md").read_text()
    assert "## Forecast: the 2 largest model(s) of each series held out" in md
    assert "figures/mirage_arith_mul_3d__forecast_models.png" in md
    assert (rep / "figures" / "mirage_arith_mul_3d__forecast_models.png").stat().st_size > 10_000
    assert "exact match is forecast to reach 0.5" in md.split("## Models")[0]  # in the summary at the top
    assert (rep / "forecast_emergence.csv").is_file()

    # Change the held-out models' likelihood results: no forecast may move.
    assert _perturb_held_out_likelihood(results) == 4
    _analyze(run_cli, results, tmp_path / "report2")
    again = pd.read_csv(tmp_path / "report2" / "forecast.csv")
    cols = ["task", "metric", "filter", "split", "model", "method", "predicted", "low", "high"]
    pd.testing.assert_frame_equal(table[cols], again[cols])
    observed = table["task"].str.endswith("_ll") & table["metric"].isin(["per_token_logprob", "target_logprob"])
    assert (table.loc[observed, "observed"] != again.loc[observed, "observed"]).all()  # the data did change
    pd.testing.assert_frame_equal(
        pd.read_csv(rep / "forecast_emergence.csv"), pd.read_csv(tmp_path / "report2" / "forecast_emergence.csv")
    )


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--holdout", "-1", "--holdout -1: must be 0 or more"),
        ("--emerge-at", "1.5", "--emerge-at 1.5: must lie strictly between 0 and 1"),
    ],
)
def test_bad_forecast_options_are_one_line_usage_errors(tmp_path, run_main, flag, value, message):
    results = tmp_path / "runs"
    simulate_results(results, models=dict(list(DEFAULT_MODELS.items())[:3]), tasks=TASKS, n_problems=10, samples=False)
    args = [
        "lm-eval-mirage",
        "analyze",
        str(results),
        "--out",
        str(tmp_path / "r"),
        "--quiet",
        "--holdout",
        "1",
        flag,
        value,
    ]
    proc = run_main(args, check=False)
    assert proc.returncode == 2 and proc.stderr.strip() == f"lm-eval-mirage analyze: error: {message}"
    assert not (tmp_path / "r").exists()
