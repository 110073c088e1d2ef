"""Simulated harness outputs follow the recorded schema and the closed form."""

from __future__ import annotations

import json

import numpy as np

from lm_eval_mirage.analysis.simulated_results import DEFAULT_MODELS, simulate_results

from .conftest import REAL_GEN, REAL_LL


def test_schema_matches_the_recorded_harness_output(tmp_path):
    files = simulate_results(tmp_path, n_problems=20)
    assert len(files) == len(DEFAULT_MODELS)
    real = json.loads(next(REAL_GEN.rglob("results_*.json")).read_text())
    sim = json.loads(files[0].read_text())
    core = {
        "results",
        "versions",
        "n-shot",
        "higher_is_better",
        "n-samples",
        "config",
        "date",
        "lm_eval_version",
        "model_name",
        "model_name_sanitized",
    }
    assert core <= set(real) and core <= set(sim)
    assert set(sim["results"]["mirage_arith_add_2d"]) >= {
        k for k in real["results"]["mirage_arith_add_2d"] if ",parsed" in k or k in ("name", "alias", "sample_len")
    }
    real_ll = json.loads(next(REAL_LL.rglob("results_*.json")).read_text())
    assert set(sim["results"]["mirage_arith_add_2d_ll"]) == set(real_ll["results"]["mirage_arith_add_2d_ll"])
    real_line = json.loads(next(REAL_GEN.rglob("samples_mirage_arith_add_2d_*.jsonl")).read_text().splitlines()[0])
    sim_line = json.loads(
        next(files[0].parent.glob("samples_mirage_arith_add_2d_2*.jsonl")).read_text().splitlines()[0]
    )
    assert {"doc_id", "doc", "target", "filter", "metrics", "exact_match", "token_edit_distance"} <= set(
        real_line
    ) & set(sim_line)
    assert "answer_digits" in sim_line["doc"]


def test_values_follow_the_closed_form(tmp_path):
    files = simulate_results(tmp_path, models={"m": 2e9}, tasks={"t": (4,)}, n_problems=4000, seed=5)
    res = json.loads(files[0].read_text())["results"]
    p = np.exp(-1.0)  # N = c: L_CE = 1
    assert res["t_ll"]["per_token_logprob,none"] == -1.0
    assert abs(res["t"]["exact_match,parsed"] - p**4) < 4 * np.sqrt(p**4 * (1 - p**4) / 4000)
    assert abs(res["t"]["token_edit_distance,parsed"] - 4 * (1 - p)) < 0.05
