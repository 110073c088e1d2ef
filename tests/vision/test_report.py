"""Tests of lm_eval_mirage.vision.report: the shared report plus this experiment's files."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

from lm_eval_mirage.vision.experiment import MICRO_CONFIG, run_experiment
from lm_eval_mirage.vision.report import REPORT_TITLE, write_vision_report
from lm_eval_mirage.vision.results import results_table


@pytest.fixture(scope="module")
def micro_run():
    return run_experiment(MICRO_CONFIG, progress=False)


def test_report_without_plots(micro_run, tmp_path):
    report = write_vision_report(micro_run, tmp_path, n_boot=20, plots=False, progress=False)
    for name in ("report.md", "report.html", "table.csv", "emergence.csv", "samples.csv", "run.json"):
        assert (tmp_path / name).is_file(), name
    assert not (tmp_path / "figures").exists()
    text = (tmp_path / "report.md").read_text()
    assert text.startswith(f"# {REPORT_TITLE}") and "reconstruction_c=1" in text and "mse" in text

    record = json.loads((tmp_path / "run.json").read_text())
    assert record["config"] == MICRO_CONFIG.to_dict()
    assert [m["width"] for m in record["models"]] == [2, 8, 32]
    assert record["train_seconds_total"] == pytest.approx(micro_run.train_seconds)
    assert {row["metric"] for row in record["emergence"]} == set(report.scores["metric"])

    samples = pd.read_csv(tmp_path / "samples.csv")
    means = samples.groupby(["model", "metric"])["value"].mean()
    values = results_table(micro_run).set_index(["model", "metric"])["value"]
    np.testing.assert_allclose(means.loc[values.index], values, rtol=1e-6)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "samples.csv").stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600


def test_rewriting_a_report_replaces_it(micro_run, tmp_path):
    write_vision_report(micro_run, tmp_path, n_boot=10, plots=False, progress=False)
    first = (tmp_path / "table.csv").read_text()
    write_vision_report(micro_run, tmp_path, n_boot=10, plots=False, progress=False)
    assert (tmp_path / "table.csv").read_text() == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left behind
