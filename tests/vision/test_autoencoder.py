"""Tests of lm_eval_mirage.vision.autoencoder: size formula, determinism, learning, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lm_eval_mirage.vision.autoencoder import (
    autoencoder_param_count,
    build_autoencoder,
    reconstruct,
    single_thread,
    train_autoencoder,
)


@pytest.mark.parametrize(("width", "n_inputs"), [(1, 64), (7, 64), (256, 64), (3, 5)])
def test_param_count_matches_the_module(width, n_inputs):
    model = build_autoencoder(width, n_inputs)
    assert autoencoder_param_count(width, n_inputs) == sum(p.numel() for p in model.parameters())


def test_two_decades_of_parameters_by_default():
    from lm_eval_mirage.vision.experiment import DEFAULT_WIDTHS

    counts = [autoencoder_param_count(w) for w in DEFAULT_WIDTHS]
    assert len(counts) >= 8 and counts == sorted(counts)
    assert 100 <= counts[-1] / counts[0] <= 1000


def _images(n=96, k=16, seed=0):
    return np.random.default_rng(seed).integers(0, 17, size=(n, k)).astype(np.float32) / 16


def test_training_is_deterministic_and_seeded():
    x = _images()
    a = reconstruct(train_autoencoder(x, 4, epochs=3, batch_size=16, seed=1), x)
    b = reconstruct(train_autoencoder(x, 4, epochs=3, batch_size=16, seed=1), x)
    c = reconstruct(train_autoencoder(x, 4, epochs=3, batch_size=16, seed=2), x)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.shape == x.shape and a.dtype == np.float64 and a.min() >= 0.0 and a.max() <= 1.0


def test_training_lowers_the_loss():
    x = _images()
    losses = []
    train_autoencoder(x, 8, epochs=40, batch_size=16, lr=1e-2, on_epoch=lambda e, loss: losses.append((e, loss)))
    assert [e for e, _ in losses] == list(range(40))
    assert losses[-1][1] < 0.7 * losses[0][1]


def test_single_thread_restores_the_setting():
    before = torch.get_num_threads()
    with single_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width": 0}, "width must be an int >= 1"),
        ({"width": True}, "width must be an int"),
        ({"epochs": 0}, "epochs must be an int >= 1"),
        ({"batch_size": 2.5}, "batch_size must be an int"),
        ({"lr": 0.0}, "lr must be a number > 0"),
        ({"lr": float("nan")}, "lr must be a number > 0"),
    ],
)
def test_bad_training_arguments(kwargs, match):
    args = {"width": 2, "epochs": 1, "batch_size": 8, "lr": 1e-3} | kwargs
    with pytest.raises(ValueError, match=match):
        train_autoencoder(_images(8), args.pop("width"), **args)


def test_bad_training_data():
    with pytest.raises(ValueError, match="train must have shape"):
        train_autoencoder(np.zeros(5, dtype=np.float32), 2, epochs=1)
