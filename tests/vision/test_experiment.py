"""Tests of lm_eval_mirage.vision.experiment: the configuration, a micro run, and the claim on a small family."""

from __future__ import annotations

import numpy as np
import pytest

from lm_eval_mirage.vision.autoencoder import autoencoder_param_count
from lm_eval_mirage.vision.experiment import MICRO_CONFIG, VisionConfig, run_experiment


@pytest.fixture(scope="module")
def micro_run():
    return run_experiment(MICRO_CONFIG, progress=False)


def test_micro_run_has_one_model_per_width(micro_run):
    assert [m.width for m in micro_run.models] == sorted(MICRO_CONFIG.widths)
    assert [m.params for m in micro_run.models] == [autoencoder_param_count(w) for w in sorted(MICRO_CONFIG.widths)]
    assert [m.name for m in micro_run.models] == ["ae-w2", "ae-w8", "ae-w32"]
    n_test = micro_run.test_images.shape[0]
    for m in micro_run.models:
        assert m.reconstructions.shape == (n_test, 64)
        assert m.train_seconds > 0 and np.isfinite(m.final_train_loss)
    assert micro_run.train_seconds == pytest.approx(sum(m.train_seconds for m in micro_run.models))


def test_same_seed_same_reconstructions(micro_run):
    again = run_experiment(MICRO_CONFIG, progress=False)
    for a, b in zip(micro_run.models, again.models, strict=True):
        assert np.array_equal(a.reconstructions, b.reconstructions)


def test_widths_are_trained_in_size_order_whatever_the_input_order():
    run = run_experiment(VisionConfig(widths=(3, 1), epochs=1, thresholds=(1.0,)), progress=False)
    assert [m.width for m in run.models] == [1, 3]


def test_small_family_mse_smooth_reconstruction_c_emergent():
    """The experiment's claim on a seconds-long family: 7 widths (1..64), 25 epochs (measured ~6 s)."""
    from lm_eval_mirage.analysis import emergence_table
    from lm_eval_mirage.vision.results import results_table

    run = run_experiment(VisionConfig(widths=(1, 2, 4, 8, 16, 32, 64), epochs=25, thresholds=(1.0,)), progress=False)
    scores = emergence_table(results_table(run)).set_index("metric")
    mse = scores.loc["mse"]
    assert mse.verdict == "smooth"
    assert 0 < mse.emergence_score < 2 * mse.straight_line
    recon = scores.loc["reconstruction_c=1"]
    assert recon.verdict == "emergent"
    assert recon.emergence_score > 5 * mse.emergence_score
    table = results_table(run).set_index(["metric", "width"])["value"]
    mse_values = table.loc["mse"].to_numpy()
    assert np.all(np.diff(mse_values) < 0)  # every wider model reconstructs better on average


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"widths": ()}, "widths"),
        ({"widths": (0, 2)}, "widths"),
        ({"widths": (2, 2)}, "each width may appear once"),
        ({"epochs": 0}, "epochs"),
        ({"batch_size": True}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"thresholds": ()}, "thresholds"),
        ({"thresholds": (0.5, float("inf"))}, "thresholds"),
        ({"thresholds": (0.5, 0.5)}, "each threshold may appear once"),
        ({"tolerance": 0.0}, "tolerance"),
    ],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VisionConfig(**kwargs)


def test_config_round_trips_to_plain_data():
    cfg = VisionConfig(widths=[4, 1], thresholds=[1, 0.5])
    assert cfg.widths == (4, 1) and cfg.thresholds == (1.0, 0.5)
    assert cfg.to_dict()["widths"] == [4, 1] and VisionConfig(**cfg.to_dict()) == cfg
