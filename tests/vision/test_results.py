"""Tests of lm_eval_mirage.vision.results: the tidy table and samples, checked against the pure metrics and
scored by the shared analysis on a family whose error falls exactly linearly (no training needed)."""

from __future__ import annotations

import numpy as np
import pytest

from lm_eval_mirage.analysis import emergence_table, tidy
from lm_eval_mirage.analysis.schema import REQUIRED_COLUMNS, SAMPLE_COLUMNS
from lm_eval_mirage.metrics.reconstruction import mean_squared_error, pixel_accuracy, reconstruction_c
from lm_eval_mirage.vision.experiment import TrainedAutoencoder, VisionConfig, VisionRun
from lm_eval_mirage.vision.results import TASK, reconstruction_metric, results_table, samples_table

N_MODELS = 12
#: Per-pixel noise variance of model i: falls by the same amount at every step, so mse is exactly linear.
VARIANCES = np.linspace(0.04, 0.001, N_MODELS)
THRESHOLDS = (0.2, 0.4)


@pytest.fixture(scope="module")
def synthetic_run() -> VisionRun:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 17, size=(400, 64)) / 16
    noise = rng.standard_normal(x.shape)  # the same noise for every model: only its scale changes
    models = [
        TrainedAutoencoder(
            width=i + 1,
            params=int(round(10 ** (2 + 0.2 * i))),
            train_seconds=0.1,
            final_train_loss=float(v),
            reconstructions=x + np.sqrt(v) * noise,
        )
        for i, v in enumerate(VARIANCES)
    ]
    config = VisionConfig(widths=[m.width for m in models], thresholds=THRESHOLDS, tolerance=0.125)
    return VisionRun(config=config, test_images=x, models=models)


def test_table_is_tidy_and_complete(synthetic_run):
    table = results_table(synthetic_run)
    assert set(REQUIRED_COLUMNS) <= set(table.columns)
    metrics = ["mse", "pixel_accuracy", "reconstruction_c=0.2", "reconstruction_c=0.4", "subset_accuracy"]
    assert sorted(table["metric"].unique()) == sorted(metrics)
    assert len(table) == N_MODELS * len(metrics)
    assert (table["task"] == TASK).all() and (table["n"] == 400).all()
    kinds = table.drop_duplicates("metric").set_index("metric")
    assert kinds.loc["mse", "kind"] == "continuous" and not kinds.loc["mse", "higher_is_better"]
    assert (
        kinds.loc["reconstruction_c=0.2", "kind"] == "discontinuous"
        and kinds.loc["subset_accuracy", "kind"] == "discontinuous"
    )
    done = tidy(table)  # the shared analysis accepts it and keeps the explicit kinds and directions
    assert done.drop_duplicates("metric").set_index("metric").loc["mse", "higher_is_better"] == False  # noqa: E712


def test_values_are_the_pure_metrics(synthetic_run):
    table = results_table(synthetic_run).set_index(["model", "metric"])["value"]
    x = synthetic_run.test_images
    for m in synthetic_run.models:
        assert table[(m.name, "mse")] == mean_squared_error(x, m.reconstructions)
        assert table[(m.name, "pixel_accuracy")] == pixel_accuracy(x, m.reconstructions, tol=0.125)
        for c in THRESHOLDS:
            assert table[(m.name, reconstruction_metric(c))] == reconstruction_c(x, m.reconstructions, c)


def test_samples_average_to_the_values_and_give_the_stderr(synthetic_run):
    table = results_table(synthetic_run)
    samples = samples_table(synthetic_run)
    assert list(samples.columns) == list(SAMPLE_COLUMNS)
    assert len(samples) == len(table) * 400
    grouped = samples.groupby(["model", "metric"])["value"]
    merged = (
        table.set_index(["model", "metric"])
        .join(grouped.mean().rename("sample_mean"))
        .join(grouped.std(ddof=1).rename("sd"))
    )
    np.testing.assert_allclose(merged["sample_mean"], merged["value"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(merged["stderr"], merged["sd"] / np.sqrt(400), rtol=1e-9)
    # the same test images, in the same order, for every model: the bootstrap can pair them
    ids = samples.groupby(["model", "metric"])["doc_id"].apply(tuple)
    assert ids.nunique() == 1 and ids.iloc[0] == tuple(range(400))


def test_shared_analysis_calls_mse_smooth_and_reconstruction_emergent(synthetic_run):
    scores = emergence_table(results_table(synthetic_run), samples_table(synthetic_run), n_boot=100).set_index("metric")
    mse = scores.loc["mse"]
    assert mse.emergence_score == pytest.approx(N_MODELS - 1)  # exactly linear steps: n - 1
    assert mse.verdict == "smooth"
    for c in THRESHOLDS:
        row = scores.loc[reconstruction_metric(c)]
        assert row.verdict == "emergent", row
        assert row.emergence_score > 5 * mse.emergence_score
        assert row.first_value == 0.0 and row.last_value == 1.0


def test_reconstruction_metric_names():
    assert [reconstruction_metric(c) for c in (0.1, 0.25, 2, 1e-3)] == [
        "reconstruction_c=0.1",
        "reconstruction_c=0.25",
        "reconstruction_c=2",
        "reconstruction_c=0.001",
    ]
