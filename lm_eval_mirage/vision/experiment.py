"""The vision experiment: a family of autoencoders of growing width, trained and scored on held-out digits.

:func:`run_experiment` trains one autoencoder per width (:mod:`.autoencoder`) on the training digits
(:mod:`.data`) and keeps each model's reconstructions of the test digits; :mod:`.results` turns them into the
tidy table that the shared analysis (:mod:`lm_eval_mirage.analysis`) scores, plots and reports.

The defaults were chosen by measurement (see ``docs/vision.md``): 16 widths from 1 to 256 hidden units
(193 to 33,088 parameters, 2.2 decades), 200 epochs of Adam, about one to three minutes on one CPU core.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from lm_eval_mirage.vision.autoencoder import autoencoder_param_count, reconstruct, train_autoencoder
from lm_eval_mirage.vision.data import DIGITS_LEVELS, load_digits_split

__all__ = [
    "DEFAULT_WIDTHS",
    "DEFAULT_THRESHOLDS",
    "DEFAULT_TOLERANCE",
    "DEFAULT_EPOCHS",
    "MICRO_CONFIG",
    "VisionConfig",
    "TrainedAutoencoder",
    "VisionRun",
    "run_experiment",
]

#: Hidden widths: roughly x1.5 steps, so the models are close to evenly spaced in log(parameters).
DEFAULT_WIDTHS: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
#: Thresholds c of Reconstruction_c, in squared pixel units summed over the 64 pixels of an image scaled to
#: [0, 1] (c = 0.5 allows an RMS pixel error of sqrt(0.5 / 64) = 0.088, about 1.4 grey levels of 16). They
#: sit inside the range the family's per-image errors sweep through, so each curve goes from 0 to nearly 1.
DEFAULT_THRESHOLDS: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0)
#: A pixel is "right" when it is reconstructed within 2 of the 16 grey levels (for subset accuracy).
DEFAULT_TOLERANCE: float = 2 / DIGITS_LEVELS
DEFAULT_EPOCHS = 200


@dataclass(frozen=True)
class VisionConfig:
    """Everything that decides the experiment's numbers (recorded next to the results)."""

    widths: tuple[int, ...] = DEFAULT_WIDTHS
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    test_fraction: float = 0.3
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        # Normalise sequences to tuples so the config is hashable and prints the same however it was built.
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        object.__setattr__(self, "thresholds", tuple(float(c) for c in self.thresholds))
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the first bad field and what is accepted."""
        if len(self.widths) < 1 or any(w < 1 for w in self.widths):
            raise ValueError(f"widths={list(self.widths)}: give at least one hidden width, each an int >= 1")
        if len(set(self.widths)) != len(self.widths):
            raise ValueError(f"widths={list(self.widths)}: each width may appear once")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}: must be an int >= 1")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r}: must be a number > 0")
        if not 0.0 < self.test_fraction < 1.0:
            raise ValueError(f"test_fraction={self.test_fraction!r}: must be in (0, 1)")
        if not self.thresholds or any(not (math.isfinite(c) and c > 0) for c in self.thresholds):
            raise ValueError(f"thresholds={list(self.thresholds)}: give at least one threshold c, each a number > 0")
        if len(set(self.thresholds)) != len(self.thresholds):
            raise ValueError(f"thresholds={list(self.thresholds)}: each threshold may appear once")
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise ValueError(f"tolerance={self.tolerance!r}: must be a number > 0")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


#: A seconds-long version for tests and smoke runs: 3 widths, 3 epochs (the numbers mean little).
MICRO_CONFIG = VisionConfig(widths=(2, 8, 32), epochs=3, thresholds=(1.0, 2.0))


@dataclass
class TrainedAutoencoder:
    """One member of the family: its size, training record and reconstructions of the test images."""

    width: int
    params: int
    train_seconds: float
    final_train_loss: float
    reconstructions: np.ndarray = field(repr=False)

    @property
    def name(self) -> str:
        return f"ae-w{self.width}"


@dataclass
class VisionRun:
    """The result of :func:`run_experiment`: the config, the test images and one entry per width (by width)."""

    config: VisionConfig
    test_images: np.ndarray = field(repr=False)
    models: list[TrainedAutoencoder]

    @property
    def train_seconds(self) -> float:
        return float(sum(m.train_seconds for m in self.models))


def _warm_up_torch() -> None:
    """Pay torch's one-off costs (the first optimizer imports ``torch._dynamo``, seconds) before any timing."""
    import torch

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])


def run_experiment(config: VisionConfig = VisionConfig(), *, progress: bool = True) -> VisionRun:
    """Train one autoencoder per width of ``config`` and reconstruct the test digits with each.

    Deterministic on a given machine: the split, the initialisation and the batch order all derive from
    ``config.seed``, and torch runs on one thread. ``progress`` shows a tqdm bar (on stderr) over all epochs.
    """
    from tqdm.auto import tqdm

    split = load_digits_split(test_fraction=config.test_fraction, seed=config.seed)
    widths = sorted(config.widths)
    n_inputs = split.train.shape[1]
    models: list[TrainedAutoencoder] = []
    _warm_up_torch()
    with tqdm(
        total=len(widths) * config.epochs, desc="training autoencoders", unit="epoch", disable=not progress
    ) as bar:
        for width in widths:
            bar.set_postfix(width=width, params=autoencoder_param_count(width, n_inputs))
            losses: list[float] = []

            def on_epoch(epoch: int, loss: float, losses: list[float] = losses) -> None:
                losses.append(loss)
                bar.update(1)

            start = time.perf_counter()
            model = train_autoencoder(
                split.train,
                width,
                epochs=config.epochs,
                batch_size=config.batch_size,
                lr=config.lr,
                seed=config.seed,
                on_epoch=on_epoch,
            )
            seconds = time.perf_counter() - start
            models.append(
                TrainedAutoencoder(
                    width=width,
                    params=autoencoder_param_count(width, n_inputs),
                    train_seconds=seconds,
                    final_train_loss=losses[-1],
                    reconstructions=reconstruct(model, split.test),
                )
            )
    return VisionRun(config=config, test_images=split.test.astype(np.float64), models=models)
