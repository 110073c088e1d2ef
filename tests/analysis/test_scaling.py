"""The paper's model: closed form, fit recovery on values built from it, fit and prediction tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_mirage.analysis.collect import load
from lm_eval_mirage.analysis.scaling import (
    PAPER_ALPHA,
    PAPER_C,
    PAPER_N,
    fit_power_law,
    fit_table,
    predict,
    prediction_table,
)
from lm_eval_mirage.analysis.simulated_results import simulate_results


def test_predict_hand_values():
    # N = c: L_CE = 1, p = e^-1; exact match p^L, TED L(1-p)
    pr = predict(2e9, 2e9, -0.5, 3)
    assert pr.cross_entropy == pytest.approx(1.0)
    assert pr.p == pytest.approx(math.exp(-1))
    assert pr.exact_match == pytest.approx(math.exp(-3))
    assert pr.token_edit_distance == pytest.approx(3 * (1 - math.exp(-1)))
    # N = 4c: L_CE = 0.5
    assert predict(8e9, 2e9, -0.5, 1).p == pytest.approx(math.exp(-0.5))


def test_predict_broadcasts_a_grid():
    pr = predict(np.array(PAPER_N)[:, None], PAPER_C, PAPER_ALPHA, np.arange(1, 6)[None, :])
    assert pr.exact_match.shape == (4, 5)
    assert np.all(np.diff(pr.exact_match, axis=0) > 0)  # larger models do better
    assert np.all(np.diff(pr.exact_match, axis=1) < 0)  # longer targets are harder
    # the paper's illustrative numbers: 175B reaches p ~ 0.90; 350M exact match on 5 tokens ~ 6e-6
    assert pr.p[-1, 0] == pytest.approx(0.899, abs=1e-3)
    assert pr.exact_match[0, 4] == pytest.approx(6.4e-6, rel=0.02)
    with pytest.raises(ValueError, match="c=0"):
        predict(1e9, 0, -0.5, 1)


@settings(max_examples=60, deadline=None)
@given(st.floats(1e7, 1e12), st.floats(-1.5, -0.05), st.lists(st.floats(6, 13), min_size=3, max_size=8, unique=True))
def test_fit_recovers_c_and_alpha_exactly_from_the_closed_form(c, alpha, log_sizes):
    N = 10.0 ** np.array(log_sizes)
    if np.ptp(np.log10(N)) < 0.5:
        return  # too narrow a range to pin a slope in floating point
    fit = fit_power_law(N, (N / c) ** alpha)
    assert fit.alpha == pytest.approx(alpha, rel=1e-6)
    assert fit.c == pytest.approx(c, rel=1e-5)
    assert fit.r2 == pytest.approx(1.0)


def test_fit_with_noise_is_close():
    rng = np.random.default_rng(0)
    N = np.geomspace(7e7, 1.2e10, 8)
    ce = (N / PAPER_C) ** PAPER_ALPHA * np.exp(0.01 * rng.standard_normal(N.size))
    fit = fit_power_law(N, ce)
    assert fit.alpha == pytest.approx(PAPER_ALPHA, abs=0.02)
    assert fit.c == pytest.approx(PAPER_C, rel=0.15)
    assert 0.99 < fit.r2 < 1.0


def test_fit_errors():
    with pytest.raises(ValueError, match="two distinct sizes"):
        fit_power_law([1e9, 1e9], [1.0, 2.0])
    with pytest.raises(ValueError, match="positive"):
        fit_power_law([1e8, 1e9], [1.0, -0.5])
    with pytest.raises(ValueError, match="alpha = 0"):
        fit_power_law([1e8, 1e9, 1e10], [2.0, 2.0, 2.0])


def test_fit_table_and_predictions_on_simulated_harness_results(tmp_path):
    """Done-when check: results built from the closed form, through files, give back c and alpha."""
    simulate_results(tmp_path, n_problems=400, seed=1)
    found = load([tmp_path], progress=False)
    fits = fit_table(found.table)
    all_rows = fits[fits.split == "all"].set_index("task")
    assert set(all_rows.index) == {"mirage_arith_add_2d", "mirage_arith_mul_3d"}
    for task, row in all_rows.iterrows():
        assert row.c == pytest.approx(PAPER_C, rel=1e-9) and row.alpha == pytest.approx(PAPER_ALPHA, rel=1e-9)
        assert (
            row.fit_task == f"{task}_ll" and row.L_source == "mean answer digits" and row.metric == "per_token_logprob"
        )
    assert all_rows.loc["mirage_arith_mul_3d", "L"] == pytest.approx(5.5)  # answers of 5 and 6 digits, alternating
    assert set(fits.loc[fits.task == "mirage_arith_mul_3d", "split"]) == {"all", "digits=5", "digits=6"}
    pred = prediction_table(found.table, fits)
    by_len = pred[(pred.task == "mirage_arith_mul_3d") & (pred.split == "digits=6")]
    em, ted = by_len[by_len.metric == "exact_match"], by_len[by_len.metric == "token_edit_distance"]
    assert len(em) == len(ted) == 5
    # observed values are binomial draws around the prediction (200 problems of 6 digits per model)
    se_em = np.sqrt(em.predicted * (1 - em.predicted) / 200)
    assert np.all(np.abs(em.observed - em.predicted) <= 4 * se_em + 1e-9)
    p = 1 - ted.predicted / 6  # TED ~ Binomial(6, 1 - p): variance 6 p (1 - p)
    assert np.all(np.abs(ted.observed - ted.predicted) <= 4 * np.sqrt(6 * p * (1 - p) / 200) + 1e-9)


def test_fit_with_logprob_noise_and_per_char_fallback(tmp_path):
    simulate_results(tmp_path, n_problems=300, logprob_noise=0.3, seed=2, tasks={"mirage_arith_add_4d": (4, 5)})
    table = load([tmp_path], progress=False).table
    fit = fit_table(table).query("split == 'all'").iloc[0]
    assert fit.alpha == pytest.approx(PAPER_ALPHA, abs=0.03) and fit.c == pytest.approx(PAPER_C, rel=0.2)
    # a twin that reported per-character values (no tokenizer known) is fitted on those, with target_chars as L
    renamed = table.replace({"metric": {"per_token_logprob": "per_char_logprob", "target_tokens": "target_chars"}})
    fit_chars = fit_table(renamed).query("split == 'all'").iloc[0]
    assert fit_chars.metric == "per_char_logprob" and fit_chars.L_source == "mean answer digits"
    assert fit_chars.c == pytest.approx(fit.c)
    # without samples (no split by digits) L falls back to the twin's own length metric, and says so
    no_samples = fit_table(renamed[renamed.split == "all"]).iloc[0]
    assert no_samples.L_source == "target_chars" and no_samples.L == pytest.approx(4.5)


def test_predictions_are_in_answer_digits_not_model_tokens():
    """Issue 15 item 9: observed exact match and TED are on the parsed digits; L counts digits, not the
    tokens of " <answer>\n" (12 digits + space + newline = 14 tokens would predict TED 14(1-p), not 12(1-p))."""
    rows = []
    for i, n_params in enumerate([1e8, 4e8, 1.6e9, 6.4e9]):
        ce = (n_params / PAPER_C) ** PAPER_ALPHA
        rows += [
            {"model": f"m{i}", "x": n_params, "task": "codes_ll", "metric": "per_token_logprob", "value": -ce},
            {"model": f"m{i}", "x": n_params, "task": "codes_ll", "metric": "target_tokens", "value": 14.0},
            {
                "model": f"m{i}",
                "x": n_params,
                "task": "codes",
                "metric": "token_edit_distance",
                "value": 1.0,
                "split": "digits=12",
                "target_digits": 12.0,
                "n": 50.0,
            },
        ]
    fits = fit_table(pd.DataFrame(rows))
    row = fits[fits.split == "all"].iloc[0]
    assert row.L == 12.0 and row.L_source == "mean answer digits"
    pred = prediction_table(pd.DataFrame(rows), fits).query("split == 'all' and metric == 'token_edit_distance'")
    p = np.exp(-((pred.x / PAPER_C) ** PAPER_ALPHA))
    assert np.allclose(pred.predicted, 12 * (1 - p)) and set(pred.L_unit) == {"answer digits"}


@pytest.mark.parametrize(
    "values, why",
    [
        ([-4.047, -3.931, -4.045], "R^2"),  # three ordinary tiny models: c underflows, the loss barely moves
        ([-1.0, -1.2, -1.5], "alpha = "),  # the loss grows with scale
    ],
)
def test_meaningless_fits_are_flagged_not_used(values, why):
    df = pd.DataFrame(
        [
            {"model": f"m{i}", "x": x, "task": "t_ll", "metric": "per_token_logprob", "value": v}
            for i, (x, v) in enumerate(zip([1e6, 2e6, 4e6], values))
        ]
        + [
            {"model": "m9", "x": 1e6, "task": "u_ll", "metric": "per_token_logprob", "value": -2.0},
            {"model": "m8", "x": 1e7, "task": "u_ll", "metric": "per_token_logprob", "value": -1.0},
        ]
    )
    fits = fit_table(df).set_index("task")
    t = fits.loc["t_ll"]
    assert math.isnan(t.c) and why in t.warning and t.warning.startswith("t_ll: not used for predictions")
    assert "two points always fit exactly" in fits.loc["u_ll", "warning"]  # fewer than 3 models
    assert prediction_table(df, fits.reset_index()).empty  # nothing is predicted from a flagged fit


def test_unfittable_curves_carry_the_reason():
    df = pd.DataFrame([{"model": "a", "x": 1e8, "task": "t_ll", "metric": "per_token_logprob", "value": -1.0}])
    fits = fit_table(df)
    assert math.isnan(fits.loc[0, "c"]) and "two distinct sizes" in fits.loc[0, "error"]
    assert prediction_table(df, fits).empty


def test_a_flagged_fit_does_not_abort_the_report(tmp_path):
    """Issue 15 item 6: the report is written, the fit's warning names its task, nothing is predicted from it."""
    from lm_eval_mirage.analysis.report import write_report

    rows = [
        {"model": f"tiny-{i}", "x": x, "task": "t_ll", "metric": "per_token_logprob", "value": v}
        for i, (x, v) in enumerate(zip([1e5, 2e5, 4e5], [-4.047, -3.931, -4.045]))
    ]
    rows += [
        {"model": f"tiny-{i}", "x": x, "task": "t", "metric": "exact_match", "value": 0.0}
        for i, x in enumerate([1e5, 2e5, 4e5])
    ]
    report = write_report(pd.DataFrame(rows), tmp_path / "r", plots=False, progress=False)
    fits = pd.read_csv(tmp_path / "r" / "fits.csv").fillna("")
    assert fits.loc[0, "warning"].startswith("t_ll: not used for predictions") and fits.loc[0, "c"] == ""
    assert report.predictions.empty and (tmp_path / "r" / "report.md").is_file()
    assert "t_ll: not used for predictions" in (tmp_path / "r" / "report.md").read_text()
