"""`lm-eval-mirage analyze` end to end: the real command over results folders in the harness's layout."""

from __future__ import annotations

import base64
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from lm_eval_mirage.analysis.scaling import PAPER_ALPHA, PAPER_C
from lm_eval_mirage.analysis.synthetic import DEFAULT_MODELS, simulate_results

REAL_GEN = Path(__file__).parents[1] / "analysis" / "data" / "harness_0.4.13"


@pytest.mark.slow
def test_analyze_writes_the_report_for_a_simulated_family(tmp_path, run_cli):
    import matplotlib  # noqa: F401 - in the test extra: a missing one must fail, not skip
    out = tmp_path / "out"
    simulate_results(out, tasks={"mirage_arith_mul_5d": (9, 10)}, n_problems=400, seed=0, date=1.7e9)
    # an older, different run of one model: must lose to the newer one, and be reported
    simulate_results(
        out, models={"sim/model-100m": 1e8}, tasks={"mirage_arith_mul_5d": (9, 10)}, c=1e7, n_problems=10, date=1.6e9
    )
    rep = tmp_path / "report"
    proc = run_cli(["lm-eval-mirage", "analyze", str(out), "--out", str(rep), "--note", "models=SIMULATION: values from the closed form",
                    "--title", "Simulated family", "--n-boot", "200", "--quiet"])  # fmt: skip
    assert "5 model(s), 2 task(s)" in proc.stdout
    m = re.search(r"fit mirage_arith_mul_5d_ll \(models\): c = (\S+), alpha = (\S+), R\^2 = (\S+)", proc.stdout)
    assert (
        m
        and float(m.group(1)) == pytest.approx(PAPER_C, rel=1e-3)
        and float(m.group(2)) == pytest.approx(PAPER_ALPHA, rel=1e-3)
    )
    assert "duplicate runs of sim/model-100m on mirage_arith_mul_5d" in proc.stderr

    table = pd.read_csv(rep / "table.csv")
    assert sorted(table["x"].unique()) == sorted(DEFAULT_MODELS.values())
    assert (
        table.query("split == 'all' and metric == 'exact_match'").set_index("model").loc["sim/model-100m", "n"] == 400
    )  # newer run
    assert {"digits=9", "digits=10"} <= set(table["split"])
    assert len(json.loads((rep / "table.json").read_text())) == len(table)

    fits = pd.read_csv(rep / "fits.csv").query("split == 'all'").iloc[0]
    assert (
        fits.c == pytest.approx(PAPER_C, rel=1e-9)
        and fits.alpha == pytest.approx(PAPER_ALPHA, rel=1e-9)
        and fits.L == 9.5
    )

    scores = pd.read_csv(rep / "emergence.csv").query("split == 'all'").set_index(["task", "metric"])
    em, ted = (
        scores.loc[("mirage_arith_mul_5d", "exact_match")],
        scores.loc[("mirage_arith_mul_5d", "token_edit_distance")],
    )
    assert ted.verdict == "smooth" and ted.linearity > 0.95
    assert em.emergence_score > 1.5 * em.straight_line > ted.emergence_score  # the jump is in exact match only
    assert em.verdict in ("emergent", "uncertain") and em.linearity < 0.8
    assert em.ci_low <= em.emergence_score <= em.ci_high

    pred = pd.read_csv(rep / "predictions.csv").query("split == 'all'")
    assert set(pred["metric"]) == {"exact_match", "token_edit_distance"} and len(pred) == 10
    assert (pred["predicted"] - pred["observed"]).abs().max() < 0.2

    pngs = sorted((rep / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {"mirage_arith_mul_5d__side_by_side", "mirage_arith_mul_5d__emergence",
                                      "mirage_arith_mul_5d__by_length", "mirage_arith_mul_5d__fit_models"}  # fmt: skip
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        svg = ET.parse(png.with_suffix(".svg")).getroot()
        assert svg.tag.endswith("svg")

    md = (rep / "report.md").read_text()
    assert md.startswith("# Simulated family")
    assert "models: SIMULATION: values from the closed form" in md
    assert "## Task mirage_arith_mul_5d" in md and "### Power-law fit and prediction" in md
    assert "duplicate runs of sim/model-100m" in md
    page = (rep / "report.html").read_text()
    embedded = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert len(embedded) == len(pngs)
    assert {base64.b64decode(e)[:4] for e in embedded} == {b"\x89PNG"}


def test_analyze_one_model_without_plots(tmp_path, run_cli):
    proc = run_cli(["lm-eval-mirage", "analyze", str(REAL_GEN), "--out", str(tmp_path), "--no-plots", "--quiet"])
    assert "only one model (/tmp/h6/tiny)" in proc.stderr
    assert "emergence needs at least three" in proc.stdout
    assert not (tmp_path / "figures").exists() and (tmp_path / "report.html").is_file()


def test_analyze_errors_exit_2_with_a_message(tmp_path, run_cli):
    proc = run_cli(["lm-eval-mirage", "analyze", str(tmp_path / "missing")], check=False)
    assert proc.returncode == 2 and "results path" in proc.stderr and "does not exist" in proc.stderr
    proc = run_cli(["lm-eval-mirage", "analyze", str(REAL_GEN), "--params", "350m"], check=False)
    assert proc.returncode == 2 and "--params '350m': expected MODEL=VALUE" in proc.stderr
    proc = run_cli(["lm-eval-mirage", "analyze", "--help"])
    assert "lm-eval-mirage analyze out/ --out report/" in proc.stdout
