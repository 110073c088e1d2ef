"""Shallow nonlinear autoencoders: one sigmoid hidden layer of a given width, trained deterministically on CPU.

``x (K pixels) -> sigmoid(W1 x + b1) (width units) -> sigmoid(W2 h + b2) (K pixels)``; the output sigmoid keeps
reconstructions in the pixel range ``[0, 1]``. Sigmoid rather than ReLU because narrow ReLU layers lose units
for good ("dead" units), which makes the error of a 3-wide model sometimes worse than a 2-wide one: the
experiment wants a family whose error falls smoothly with width, so that any jump comes from the metric.

Training: Adam on the mean squared error, shuffled mini-batches from a seeded ``torch.Generator``, one CPU
thread (so results repeat exactly on the same machine and the job shares the machine politely).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: this module is importable on the light path
    import torch

__all__ = ["autoencoder_param_count", "build_autoencoder", "train_autoencoder", "reconstruct", "single_thread"]


def autoencoder_param_count(width: int, n_inputs: int = 64) -> int:
    """Trainable parameters of the autoencoder: ``2 * K * width + width + K`` (two weight matrices, two biases).

    Example:
        >>> autoencoder_param_count(1), autoencoder_param_count(128)
        (193, 16576)
    """
    _check_int(width, "width")
    _check_int(n_inputs, "n_inputs")
    return 2 * n_inputs * width + width + n_inputs


def _check_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block and restore the previous setting after it."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def build_autoencoder(width: int, n_inputs: int = 64, *, seed: int = 0) -> torch.nn.Module:
    """A fresh ``n_inputs -> width -> n_inputs`` sigmoid autoencoder, initialised from ``seed``."""
    import torch

    _check_int(width, "width")
    _check_int(n_inputs, "n_inputs")
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(n_inputs, width),
        torch.nn.Sigmoid(),
        torch.nn.Linear(width, n_inputs),
        torch.nn.Sigmoid(),
    )


def train_autoencoder(
    train: np.ndarray,
    width: int,
    *,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    on_epoch: Callable[[int, float], None] | None = None,
) -> torch.nn.Module:
    """Train one autoencoder on ``train`` (shape ``(N, K)``, values in ``[0, 1]``) and return it in eval mode.

    Args:
        train: training images, one per row.
        width: hidden units.
        epochs: passes over the training images.
        batch_size: images per Adam step (the last batch of an epoch may be smaller).
        lr: Adam learning rate.
        seed: initialisation and shuffling seed; the same seed gives the same model on the same machine.
        on_epoch: called after each epoch with ``(epoch, mean training loss)``, e.g. to advance a progress bar.
    """
    import torch

    _check_int(epochs, "epochs")
    _check_int(batch_size, "batch_size")
    if not float(lr) > 0.0:
        raise ValueError(f"lr must be a number > 0, got {lr!r}")
    data = np.asarray(train, dtype=np.float32)
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"train must have shape (N, K) with N >= 1, got {data.shape}")
    with single_thread():
        model = build_autoencoder(width, data.shape[1], seed=seed)
        x = torch.from_numpy(data)
        optimizer = torch.optim.Adam(model.parameters(), lr=float(lr))
        generator = torch.Generator().manual_seed(seed)
        model.train()
        for epoch in range(epochs):
            order = torch.randperm(x.shape[0], generator=generator)
            total = 0.0
            for start in range(0, x.shape[0], batch_size):
                batch = x[order[start : start + batch_size]]
                loss = torch.mean((model(batch) - batch) ** 2)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += float(loss.detach()) * batch.shape[0]
            if on_epoch is not None:
                on_epoch(epoch, total / x.shape[0])
        model.eval()
    return model


def reconstruct(model: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    """The model's reconstructions of ``images`` (shape ``(N, K)``) as a float64 numpy array."""
    import torch

    with single_thread(), torch.no_grad():
        out = model(torch.from_numpy(np.asarray(images, dtype=np.float32)))
    return out.numpy().astype(np.float64)
