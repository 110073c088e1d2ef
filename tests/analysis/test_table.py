"""The tidy table contract and the emergence table, on hand-built tables (no harness files)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from lm_eval_mirage.analysis.schema import EMERGENCE_COLUMNS, TABLE_COLUMNS, metric_kind
from lm_eval_mirage.analysis.table import emergence_table, metric_higher_is_better, tidy

WIDTHS = [8, 16, 32, 64, 128]


def vision_table() -> pd.DataFrame:
    """What the vision experiment builds: autoencoder widths, test MSE (smooth) and a thresholded accuracy (jump)."""
    mse = [0.08, 0.06, 0.045, 0.034, 0.025]
    recon = [0.0, 0.0, 0.0, 0.01, 0.62]
    rows = [{"model": f"w{w}", "x": w, "task": "mnist", "metric": "test_mse", "value": v} for w, v in zip(WIDTHS, mse)]
    rows += [
        {"model": f"w{w}", "x": w, "task": "mnist", "metric": "reconstruction_accuracy", "value": v}
        for w, v in zip(WIDTHS, recon)
    ]
    return pd.DataFrame(rows)


def test_tidy_fills_defaults_and_keeps_extras():
    t = tidy(vision_table().assign(seed=0))
    assert list(t.columns) == list(TABLE_COLUMNS) + ["seed"]
    row = t.iloc[0]
    assert (row.family, row.series, row["filter"], row.split, row.params) == ("models", "models", "none", "all", 8.0)
    kinds = t.drop_duplicates("metric").set_index("metric")
    assert kinds.loc["test_mse", "kind"] == "continuous" and not kinds.loc["test_mse", "higher_is_better"]
    assert kinds.loc["reconstruction_accuracy", "kind"] == "discontinuous"


def test_tidy_explicit_columns_win():
    t = tidy(vision_table().assign(kind="continuous", higher_is_better=True, family="ae"))
    assert set(t["kind"]) == {"continuous"} and t["higher_is_better"].all() and set(t["series"]) == {"ae"}


def test_tidy_errors_name_columns_and_rows():
    with pytest.raises(ValueError, match=r"lacks required columns \['x'\]"):
        tidy([{"model": "a", "task": "t", "metric": "m", "value": 1}])
    with pytest.raises(ValueError, match="column 'value' must hold numbers; rows \\[1\\]"):
        tidy(
            [
                {"model": "a", "x": 1, "task": "t", "metric": "m", "value": 1},
                {"model": "b", "x": 2, "task": "t", "metric": "m", "value": "high"},
            ]
        )


def test_metric_names():
    assert [
        metric_kind(m) for m in ("greedy_exact_match", "acc", "target_prob", "per_token_logprob", "brier_score")
    ] == ["discontinuous", "discontinuous", "nonlinear", "continuous", "continuous"]
    assert [metric_higher_is_better(m) for m in ("val_loss", "test_mse", "digit_accuracy", "brier_score")] == [
        False,
        False,
        True,
        False,
    ]


def test_emergence_table_on_a_vision_table():
    scores = emergence_table(vision_table()).set_index("metric")
    assert list(scores.columns) == [c for c in EMERGENCE_COLUMNS if c != "metric"]
    recon = scores.loc["reconstruction_accuracy"]
    # steps 0, 0, .01, .61: median of squares (0 + 1e-4) / 2, so ES = 0.62 / sqrt(5e-5)
    assert (
        recon.emergence_score == pytest.approx(0.62 / math.sqrt(5e-5))
        and recon.verdict == "emergent"
        and recon.n_models == 5
    )
    mse = scores.loc["test_mse"]
    assert mse.verdict == "smooth" and mse.emergence_score > 0  # falling MSE is improvement
    assert mse.straight_line == pytest.approx(4.0) and mse.threshold == pytest.approx(6.0)
    assert recon.models == "w8;w16;w32;w64;w128"
    assert math.isnan(recon.ci_low)  # no samples, no interval


def test_one_model_is_judged_too_few():
    scores = emergence_table(vision_table().query("model == 'w8'"))
    assert set(scores["verdict"]) == {"too few models"} and scores["emergence_score"].isna().all()


def test_missing_metric_nan_value_and_unknown_x_are_listed():
    df = vision_table()
    df = df[~((df.model == "w32") & (df.metric == "test_mse"))]  # metric missing for one model
    df.loc[(df.model == "w16") & (df.metric == "test_mse"), "value"] = float("nan")
    df = pd.concat(
        [df, pd.DataFrame([{"model": "w?", "x": float("nan"), "task": "mnist", "metric": "test_mse", "value": 0.01}])]
    )
    mse = emergence_table(df).set_index("metric").loc["test_mse"]
    assert mse.n_models == 3 and mse.models == "w8;w64;w128"
    assert set(mse.missing.split(";")) == {"w16", "w32", "w?"}


def test_descriptive_metrics_are_not_scored():
    df = vision_table()
    df = pd.concat([df, df.assign(metric="target_tokens", value=3.0)])
    assert "target_tokens" not in set(emergence_table(df)["metric"])


def test_samples_give_intervals_and_splits_are_scored_separately():
    rng = np.random.default_rng(0)
    rows, samples = [], []
    for w, p in zip(WIDTHS, [0.0, 0.01, 0.05, 0.3, 0.9]):
        for split, digits in (("digits=2", 2), ("digits=3", 3)):
            values = (rng.random(60) < p ** (digits / 2)).astype(float)
            rows.append(
                {
                    "model": f"w{w}",
                    "x": w,
                    "task": "t",
                    "metric": "exact_match",
                    "value": values.mean(),
                    "split": split,
                    "target_digits": digits,
                }
            )
            samples += [
                {
                    "model": f"w{w}",
                    "task": "t",
                    "metric": "exact_match",
                    "filter": "none",
                    "doc_id": i + 100 * digits,
                    "target_digits": float(digits),
                    "value": v,
                }
                for i, v in enumerate(values)
            ]
    scores = emergence_table(pd.DataFrame(rows), pd.DataFrame(samples), n_boot=200).set_index("split")
    for split in ("digits=2", "digits=3"):
        row = scores.loc[split]
        assert row.ci_low <= row.emergence_score <= row.ci_high
    # without samples of one model there is no interval
    partial = pd.DataFrame(samples).query("model != 'w8'")
    assert emergence_table(pd.DataFrame(rows), partial, n_boot=50)["ci_low"].isna().all()


def test_series_are_scored_separately_and_steps_may_start_at_zero():
    df = pd.DataFrame(
        [
            {"model": f"m@{s}", "x": s, "series": "m", "task": "t", "metric": "acc", "value": v}
            for s, v in zip([0, 10, 100, 1000], [0, 0, 0, 0.7])
        ]
        + [
            {"model": f"n{i}", "x": 10.0**i, "series": "n", "task": "t", "metric": "acc", "value": 0.1 * i}
            for i in range(1, 5)
        ]
    )
    scores = emergence_table(df).set_index("series")
    assert scores.loc["m", "verdict"] == "emergent" and scores.loc["n", "verdict"] == "smooth"
    # step 0 shifted to 1: log10 of 1, 11, 101, 1001 -> range 3.0004 / median step 0.9961
    assert scores.loc["m", "straight_line"] == pytest.approx(math.log10(1001) / math.log10(1001 / 101))


def test_unknown_direction_is_said_not_assumed():
    rows = [
        {"model": f"m{i}", "x": 10.0 ** (8 + i), "task": "t", "metric": m, "value": v, "higher_is_better": None}
        for m in ("zeta", "ppl")
        for i, v in enumerate([5.0, 4.0, 2.0, 1.0])
    ]
    t = tidy(rows)
    assert dict(zip(t["metric"], t["direction"])) == {"zeta": "unknown", "ppl": "lower"}
    scores = emergence_table(t).set_index("metric")
    assert scores.loc["zeta", "verdict"] == "direction unknown" and "not judged" in scores.loc["zeta", "reason"]
    assert scores.loc["ppl", "verdict"] != "direction unknown" and not scores.loc["ppl", "higher_is_better"]
    # a results file's explicit map wins over the name
    explicit = tidy([dict(r, higher_is_better=True) for r in rows])
    assert set(explicit["direction"]) == {"higher"}
