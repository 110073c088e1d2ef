"""The forecast of held-out models (lm_eval_mirage.analysis.forecast) on simulated families with known truth."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lm_eval_mirage.analysis.collect import load
from lm_eval_mirage.analysis.forecast import (
    FORECAST_COLUMNS,
    ForecastOptions,
    crossing_size,
    forecast,
    linear_trend_fit,
    logit_trend_fit,
)
from lm_eval_mirage.analysis.simulated_results import simulate_results

C, ALPHA = 3e9, -0.5
MODELS = {"sim/a": 1e8, "sim/b": 4e8, "sim/c": 1.6e9, "sim/d": 6.4e9, "sim/e": 2.56e10}
TASKS = {"mirage_arith_add_2d": (2, 3), "mirage_arith_mul_3d": (5, 6)}
HELD = ["sim/d", "sim/e"]


def _load(tmp_path_factory, name: str, **kwargs):
    out = tmp_path_factory.mktemp(name)
    simulate_results(out, models=MODELS, tasks=TASKS, c=C, alpha=ALPHA, n_problems=200, **kwargs)
    return load([out], progress=False)


@pytest.fixture(scope="module")
def exact(tmp_path_factory):
    return _load(tmp_path_factory, "exact", seed=0)


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    return _load(tmp_path_factory, "noisy", seed=3, logprob_noise=0.3)


def _truth(x: float, lengths: tuple[int, ...]) -> tuple[float, float]:
    """Closed-form expected exact match and TED over the simulator's problems (lengths cycled)."""
    p = math.exp(-((x / C) ** ALPHA))
    L = np.array([lengths[i % len(lengths)] for i in range(200)], dtype=float)
    return float(np.mean(p**L)), float(np.mean(L * (1 - p)))


def test_trend_fits_recover_known_curves():
    a, b = linear_trend_fit([1e2, 1e3, 1e4], [1.0, 2.0, 3.0])
    assert b * math.log(10) == pytest.approx(1.0) and a + b * math.log(1e5) == pytest.approx(4.0)
    a, b = logit_trend_fit([1e2, 1e3, 1e4], [1 / (1 + math.exp(2)), 0.5, 1 / (1 + math.exp(-2))], [1e9] * 3)
    assert b * math.log(10) == pytest.approx(2.0, rel=1e-4) and a + b * math.log(1e3) == pytest.approx(0.0, abs=1e-4)
    # a curve stuck at zero stays flat (finite) instead of diverging
    a, b = logit_trend_fit([1e2, 1e3, 1e4], [0.0, 0.0, 0.0], [100, 100, 100])
    assert b == pytest.approx(0.0) and 1 / (1 + math.exp(-a)) == pytest.approx(0.5 / 101)


def test_crossing_size_inverts_the_closed_form():
    n = crossing_size(C, ALPHA, [2, 3], 0.5)
    p = math.exp(-((n / C) ** ALPHA))
    assert (p**2 + p**3) / 2 == pytest.approx(0.5, rel=1e-9)
    assert math.isnan(crossing_size(C, 0.2, [2], 0.5))  # a loss that grows never gets there


def test_options_are_checked():
    with pytest.raises(ValueError, match="--holdout -1"):
        ForecastOptions(holdout=-1)
    with pytest.raises(ValueError, match="--emerge-at 1.5"):
        ForecastOptions(emerge_at=1.5)


def test_likelihood_forecast_is_exact_without_noise(exact):
    result = forecast(exact.table, exact.samples, holdout=2, n_boot=200)
    assert list(result.table.columns) == list(FORECAST_COLUMNS)
    ll = result.table[(result.table["method"] == "likelihood") & (result.table["split"] == "all")]
    assert sorted(set(ll["model"])) == HELD and set(ll["metric"]) == {"exact_match", "token_edit_distance"}
    assert (ll["n_fit"] == 3).all()
    for row in ll.itertuples():
        em, ted = _truth(row.x, TASKS[row.task])
        assert row.predicted == pytest.approx(em if row.metric == "exact_match" else ted, rel=1e-9)
        assert row.low <= row.predicted <= row.high and row.covered
    # the interval is the binomial noise of 200 problems: about +-2 sd
    row = ll[(ll["metric"] == "exact_match") & (ll["model"] == "sim/e") & (ll["task"] == "mirage_arith_add_2d")].iloc[0]
    sd = math.sqrt(row.predicted * (1 - row.predicted) / 200)
    assert row.high - row.low == pytest.approx(4 * sd, rel=0.25)
    # by answer length: each split predicted with its own length
    split = result.table[
        (result.table["method"] == "likelihood")
        & (result.table["split"] == "digits=6")
        & (result.table["metric"] == "exact_match")
        & (result.table["model"] == "sim/e")
    ].iloc[0]
    assert split.predicted == pytest.approx(_truth(2.56e10, (6,))[0], rel=1e-9)


def test_emergence_size_is_the_true_crossing(exact, noisy):
    for found, rel in ((exact, 1e-6), (noisy, 0.25)):
        em = forecast(found.table, found.samples, holdout=2, n_boot=300, emerge_at=0.5).emergence
        for row in em.itertuples():
            truth = crossing_size(C, ALPHA, [TASKS[row.task][i % 2] for i in range(200)], 0.5)
            assert row.x == pytest.approx(truth, rel=rel)
            assert row.low * (1 - 1e-6) <= truth <= row.high * (1 + 1e-6)
            assert row.n_fit == 3 and row.x_max_fit == 1.6e9


def test_trend_of_exact_match_misses_the_jump_the_likelihood_path_sees(noisy):
    t = forecast(noisy.table, noisy.samples, holdout=2, n_boot=300).table
    sel = t[
        (t["task"] == "mirage_arith_mul_3d")
        & (t["metric"] == "exact_match")
        & (t["split"] == "all")
        & (t["model"] == "sim/e")
    ]
    trend, ll = sel[sel["method"] == "trend"].iloc[0], sel[sel["method"] == "likelihood"].iloc[0]
    assert ll.covered and ll.low > 0.05
    assert abs(ll.predicted - ll.observed) < abs(trend.predicted - trend.observed) / 2
    covered = t[(t["method"] == "likelihood")]["covered"].astype(bool)
    assert covered.mean() >= 0.85  # noisy log-likelihoods: the bootstrap interval still holds the observations


def _perturb_held_out(found, factor: float):
    table = found.table.copy()
    sel = table["model"].isin(HELD) & table["task"].str.endswith("_ll")
    table.loc[sel, "value"] = table.loc[sel, "value"] * factor
    table.loc[sel, "stderr"] = table.loc[sel, "stderr"] * 7
    samples = found.samples.copy()
    s = samples["model"].astype(str).isin(HELD) & samples["task"].astype(str).str.endswith("_ll")
    samples["value"] = samples["value"].where(~s, samples["value"] * factor + 0.1)
    return table, samples


def test_forecast_uses_nothing_of_the_held_out_likelihood_results(noisy):
    base = forecast(noisy.table, noisy.samples, holdout=2, n_boot=200, seed=5)
    table, samples = _perturb_held_out(noisy, 3.0)
    moved = forecast(table, samples, holdout=2, n_boot=200, seed=5)
    cols = ["family", "series", "task", "metric", "filter", "split", "model", "method", "predicted", "low", "high"]
    keep = lambda t: t[~t["task"].str.endswith("_ll")][cols].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(keep(base.table), keep(moved.table))
    pd.testing.assert_frame_equal(base.emergence, moved.emergence)
    # the held-out models' own likelihood curves changed only their observed values
    ll = lambda t: t[t["task"].str.endswith("_ll")][cols].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(ll(base.table), ll(moved.table))
    # ...whereas the same change to a fitted model moves the forecast (the test can fail)
    table2 = noisy.table.copy()
    sel = (table2["model"] == "sim/c") & (table2["task"].str.endswith("_ll"))
    table2.loc[sel, "value"] *= 3.0
    shifted = forecast(table2, None, holdout=2, n_boot=200, seed=5).table
    plain = forecast(noisy.table, None, holdout=2, n_boot=200, seed=5).table
    a = plain[plain["method"] == "likelihood"]["predicted"].to_numpy()
    b = shifted[shifted["method"] == "likelihood"]["predicted"].to_numpy()
    assert a.size and not np.allclose(a, b)


def test_without_samples_the_interval_is_parametric(noisy):
    t = forecast(noisy.table, None, holdout=2, n_boot=300).table
    ll = t[t["method"] == "likelihood"]
    assert set(ll["split"]) >= {"all", "digits=5"}  # the table's per-length rows, with their stderr
    assert (ll["high"] > ll["low"]).all() and ll["covered"].astype(bool).mean() >= 0.75


def test_too_few_models_left_is_a_note(exact):
    result = forecast(exact.table, exact.samples, holdout=4, n_boot=50)
    assert result.table.empty and any("--holdout 4 of 5 model(s) leaves 1 to fit" in m for m in result.messages)


def test_holdout_zero_gives_emergence_sizes_only(exact):
    result = forecast(exact.table, exact.samples, holdout=0, n_boot=50)
    assert result.table.empty and len(result.emergence) == 2 and (result.emergence["n_fit"] == 5).all()
