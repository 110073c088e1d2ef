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
from lm_eval_mirage.analysis.simulated_results import DEFAULT_MODELS, simulate_results

REAL_GEN = Path(__file__).parents[1] / "analysis" / "data" / "harness_0.4.13"
#: EleutherAI's published Pythia evaluations (EleutherAI/pythia, Apache-2.0, commit a19eecb), copied unchanged.
PYTHIA = Path(__file__).parents[1] / "data" / "pythia-v1"
PYTHIA_PARAMS = {
    "70m": 70_426_624,
    "160m": 162_322_944,
    "410m": 405_334_016,
    "1b-bf16": 1_011_781_632,
    "1.4b": 1_414_647_808,
    "2.8b": 2_775_208_960,
    "6.9b": 6_857_302_016,
    "12b": 11_846_072_320,
}


@pytest.mark.slow
def test_analyze_writes_the_report_for_a_simulated_family(tmp_path, run_cli):
    import matplotlib  # noqa: F401 - in the test extra: a missing one must fail, not skip

    out = tmp_path / "out"
    # 1000 problems: with 400 the jump at the largest model rests on so few problems that the interval of the
    # score reaches below the threshold ("uncertain"), the paper's point about resolution
    simulate_results(out, tasks={"mirage_arith_mul_5d": (9, 10)}, n_problems=1000, seed=0, date=1.7e9)
    # an older, different run of one model: must lose to the newer one, and be reported
    simulate_results(
        out, models={"sim/model-100m": 1e8}, tasks={"mirage_arith_mul_5d": (9, 10)}, c=1e7, n_problems=10, date=1.6e9
    )
    rep = tmp_path / "report"
    proc = run_cli(
        [
            "lm-eval-mirage",
            "analyze",
            str(out),
            "--out",
            str(rep),
            "--note",
            "models=SIMULATION: values from the closed form",
            "--title",
            "Simulated family",
            "--n-boot",
            "200",
            "--formats",
            "png,svg",
            "--quiet",
        ]
    )
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
        table.query("split == 'all' and metric == 'exact_match'").set_index("model").loc["sim/model-100m", "n"] == 1000
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
    assert em.verdict == "emergent" and em.linearity < 0.8, em.reason  # the mirage: emergent under exact match
    assert em.reason.startswith("emergent: flat within noise up to model-") and ted.reason.startswith("smooth")
    assert em.ci_low <= em.emergence_score <= em.ci_high

    pred = pd.read_csv(rep / "predictions.csv").query("split == 'all'")
    assert set(pred["metric"]) == {"exact_match", "token_edit_distance"} and len(pred) == 10
    assert (pred["predicted"] - pred["observed"]).abs().max() < 0.2

    pngs = sorted((rep / "figures").glob("*.png"))
    assert {p.stem for p in pngs} >= {
        "mirage_arith_mul_5d__side_by_side",
        "mirage_arith_mul_5d__emergence",
        "mirage_arith_mul_5d__by_length",
        "mirage_arith_mul_5d__fit_models",
    }
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


def test_analyze_errors_exit_2_with_a_message(tmp_path, run_main):
    proc = run_main(["lm-eval-mirage", "analyze", str(tmp_path / "missing")], check=False)
    assert proc.returncode == 2 and "results path" in proc.stderr and "does not exist" in proc.stderr
    proc = run_main(["lm-eval-mirage", "analyze", str(REAL_GEN), "--params", "350m"], check=False)
    assert proc.returncode == 2 and "--params '350m': expected MODEL=VALUE" in proc.stderr
    args = ["lm-eval-mirage", "analyze", str(REAL_GEN), "--formats", "png,gif", "--out", str(tmp_path / "r")]
    proc = run_main(args, check=False)
    assert proc.returncode == 2 and "--formats 'png,gif'" in proc.stderr and not (tmp_path / "r").exists()
    proc = run_main(["lm-eval-mirage", "analyze", "--help"])
    assert "lm-eval-mirage analyze out/ --out report/" in proc.stdout


@pytest.mark.slow
def test_analyze_reads_the_published_pythia_results(tmp_path, run_cli):
    out = tmp_path / "report"
    proc = run_cli(
        ["lm-eval-mirage", "analyze", str(PYTHIA), "--out", str(out), "--no-plots", "--quiet", "--n-boot", "300"]
    )
    table = pd.read_csv(out / "table.csv")
    final = table[table["series"] == "pythia@step143000 (0-shot)"]
    sizes = final.drop_duplicates("model").set_index("model")
    assert len(sizes) == 8  # all 8 sizes found by name (pythia-v1.1-*, pythia-1b-bf16)
    assert set(sizes["params_source"]) == {"table (exact)"}
    for size, params in PYTHIA_PARAMS.items():
        assert sizes.loc[f"EleutherAI/pythia-v1.1-{size}@step143000 (0-shot)", "params"] == params
    assert set(table.loc[table["metric"] == "ppl", "direction"]) == {"lower"}

    scores = pd.read_csv(out / "emergence.csv").fillna({"reason": ""})
    zero = scores[scores["series"] == "pythia@step143000 (0-shot)"].set_index(["task", "metric"])
    assert not zero.loc[("lambada_openai", "ppl"), "higher_is_better"]
    for task in ("lambada_openai", "sciq", "piqa", "arc_easy"):
        assert zero.loc[(task, "acc"), "verdict"] == "smooth", zero.loc[(task, "acc"), "reason"]
    assert zero.loc[("lambada_openai", "acc"), "reason"].startswith("smooth: saturating")
    near_chance = zero[
        zero.index.get_level_values("task").str.startswith("hendrycksTest-")
        | zero.index.get_level_values("task").isin(["logiqa", "wsc"])
    ]
    assert len(near_chance) == 57 * 2 + 2 + 1
    assert not near_chance["verdict"].isin(["emergent", "inverse emergent"]).any()
    assert zero.loc[("hendrycksTest-high_school_mathematics", "acc"), "verdict"] == "at chance"
    # every verdict of the family has its reason and an interval (parametric, from the files' stderr)
    assert (zero["reason"].str.len() > 0).all() and zero["ci_low"].notna().all()
    assert set(zero["ci_method"]) == {"parametric (stderr)"}
    # the five-shot runs are their own series, never duplicates of the zero-shot ones
    assert (scores["series"] == "pythia@step143000 (5-shot)").any() and "duplicate runs" not in proc.stderr
    md = (out / "report.md").read_text()
    assert "smooth: saturating" in md and "at chance: no model is 3 standard errors above chance 0.25" in md  # reasons


@pytest.mark.slow
def test_analyze_follows_the_160m_checkpoints_along_steps(tmp_path, run_cli):
    out = tmp_path / "steps"
    proc = run_cli(
        [
            "lm-eval-mirage",
            "analyze",
            str(PYTHIA / "pythia-160m" / "zero-shot"),
            "--x",
            "steps",
            "--out",
            str(out),
            "--no-plots",
            "--quiet",
            "--n-boot",
            "200",
        ]
    )
    scores = pd.read_csv(out / "emergence.csv")
    lam = scores[(scores["task"] == "lambada_openai") & (scores["metric"] == "acc")].iloc[0]
    assert lam.n_models == 27 and lam.x_min == 0 and lam.x_max == 143000
    assert lam.straight_line == pytest.approx(25.74, abs=0.01)
    note = "x = 0 cannot be placed on a log axis, so every x is shifted by +1 (0 -> 1); the straight-line yardstick is 25.74 on the shifted x (20.81 without the x <= 0 models)"
    assert note in proc.stderr and note in (out / "report.md").read_text()


@pytest.mark.parametrize("value", ["-5", "0", "nan", "inf"])
def test_analyze_refuses_a_size_that_is_not_positive(tmp_path, run_main, value):
    proc = run_main(
        ["lm-eval-mirage", "analyze", str(REAL_GEN), "--params", f"tiny={value}", "--out", str(tmp_path)], check=False
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"lm-eval-mirage analyze: error: --params tiny={value}: a size must be a positive, finite number (e.g. 160m, 1.4b, 7e9)"
    ]
    assert not (tmp_path / "report.md").exists()
