"""Score a :class:`~lm_eval_mirage.vision.experiment.VisionRun` into the analysis' tidy tables.

Every value comes from the pure functions of :mod:`lm_eval_mirage.metrics.reconstruction`; the per-image values
(whose mean is the metric) go to the samples table, so the shared analysis can bootstrap its emergence scores
over test images, paired across models (every model reconstructs the same test images).

Metrics, one curve each (``kind`` as the analysis uses it; per image, the mean over images is the metric):

- ``mse`` (continuous, lower is better): mean squared error over the image's 64 pixels;
- ``pixel_accuracy`` (continuous): fraction of the image's pixels within ``tolerance`` of the original;
- ``reconstruction_c=C`` (discontinuous), one per threshold: 1 if the summed squared error is below C, else 0;
- ``subset_accuracy`` (discontinuous): 1 if all 64 pixels are within ``tolerance``, else 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lm_eval_mirage.metrics.reconstruction import (
    mean_squared_error,
    per_image_squared_error,
    pixel_accuracy,
    pixels_correct,
    reconstruction_c,
    subset_accuracy,
)

if TYPE_CHECKING:
    import pandas as pd

    from lm_eval_mirage.vision.experiment import VisionRun

__all__ = [
    "TASK",
    "FAMILY",
    "SERIES",
    "MetricView",
    "reconstruction_metric",
    "score_reconstructions",
    "results_table",
    "samples_table",
]

#: The task column of the table: the data set.
TASK = "digits8x8"
FAMILY = "autoencoder"
SERIES = "sigmoid autoencoder"


@dataclass(frozen=True)
class MetricView:
    """One metric of one model: its value, direction, kind, and per-image values whose mean is the value."""

    metric: str
    kind: str
    higher_is_better: bool
    value: float
    per_image: np.ndarray

    @property
    def stderr(self) -> float:
        n = self.per_image.size
        return float(np.std(self.per_image, ddof=1) / np.sqrt(n)) if n > 1 else float("nan")


def reconstruction_metric(c: float) -> str:
    """The metric name of ``Reconstruction_c`` for threshold ``c``.

    Example:
        >>> reconstruction_metric(0.5), reconstruction_metric(1.0)
        ('reconstruction_c=0.5', 'reconstruction_c=1')
    """
    return f"reconstruction_c={float(c):g}"


def score_reconstructions(
    x: np.ndarray, x_hat: np.ndarray, *, thresholds: Sequence[float], tolerance: float
) -> list[MetricView]:
    """All metrics of one model's reconstructions ``x_hat`` of the test images ``x`` (both ``(N, K)``)."""
    errors = per_image_squared_error(x, x_hat)
    correct = pixels_correct(x, x_hat, tol=tolerance)
    k = correct.shape[1]
    views = [
        MetricView("mse", "continuous", False, mean_squared_error(x, x_hat), errors / k),
        MetricView("pixel_accuracy", "continuous", True, pixel_accuracy(x, x_hat, tol=tolerance), correct.mean(axis=1)),
    ]
    for c in thresholds:
        per_image = (errors < c).astype(float)  # the indicator inside reconstruction_c, kept per image
        views.append(
            MetricView(reconstruction_metric(c), "discontinuous", True, reconstruction_c(x, x_hat, c), per_image)
        )
    views.append(
        MetricView(
            "subset_accuracy", "discontinuous", True, subset_accuracy(correct), correct.all(axis=1).astype(float)
        )
    )
    return views


def _views(run: VisionRun):
    cfg = run.config
    for model in run.models:
        yield (
            model,
            score_reconstructions(
                run.test_images, model.reconstructions, thresholds=cfg.thresholds, tolerance=cfg.tolerance
            ),
        )


def results_table(run: VisionRun) -> pd.DataFrame:
    """The tidy table: one row per (model, metric) with ``x`` = parameters, ``n`` = test images.

    Columns: family, series, model, x, params, params_source, task, metric, value, stderr, n,
    higher_is_better, kind, width, train_seconds, final_train_loss (a valid input of
    :func:`lm_eval_mirage.analysis.tidy`).
    """
    import pandas as pd

    rows = []
    for model, views in _views(run):
        for v in views:
            rows.append(
                {
                    "family": FAMILY,
                    "series": SERIES,
                    "model": model.name,
                    "x": float(model.params),
                    "params": float(model.params),
                    "params_source": "counted",
                    "task": TASK,
                    "metric": v.metric,
                    "value": v.value,
                    "stderr": v.stderr,
                    "n": float(v.per_image.size),
                    "higher_is_better": v.higher_is_better,
                    "kind": v.kind,
                    "width": model.width,
                    "train_seconds": model.train_seconds,
                    "final_train_loss": model.final_train_loss,
                }
            )
    return pd.DataFrame(rows)


def samples_table(run: VisionRun) -> pd.DataFrame:
    """Per-image values (the analysis' samples columns: model, task, metric, filter, doc_id, target_digits,
    value), ``doc_id`` = index of the test image, the same for every model (paired bootstrap)."""
    import pandas as pd

    frames = []
    for model, views in _views(run):
        for v in views:
            n = v.per_image.size
            frames.append(
                pd.DataFrame(
                    {
                        "model": model.name,
                        "task": TASK,
                        "metric": v.metric,
                        "filter": "none",
                        "doc_id": np.arange(n),
                        "target_digits": np.nan,
                        "value": v.per_image,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)
