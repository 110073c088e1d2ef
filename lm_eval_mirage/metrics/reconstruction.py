"""Reconstruction metrics: a smooth one (mean squared error) and the thresholded ones that "induce emergence".

Schaeffer et al. (2023, section 5) train shallow autoencoders of increasing width. The test mean squared error
falls smoothly, yet counting an image as "reconstructed" only when its squared error is below a fixed ``c``,

    Reconstruction_c = (1/N) * sum_n 1[ ||x_n - xhat_n||^2 < c ],

stays near zero and then jumps: the metric, not the model, creates the jump. The same happens with the
image analogue of exact string match, :func:`subset_accuracy`: an image counts only when all K of its K
pixels are right, the way an answer counts only when all L of its tokens are.

Conventions (plain numpy, no ``lm_eval`` import):

- ``x`` (originals) and ``x_hat`` (reconstructions) are arrays of the same shape ``(N, ...)``: the first axis
  indexes the N images, the remaining axes (``8 x 8``, or 64 flat pixels) are flattened per image;
- every image has at least one pixel; values must be finite numbers (a NaN would silently count as "not reconstructed"; bools, strings and dicts
  are refused), N must be at least 1; anything else is a ``ValueError`` naming the argument;
- a squared error beyond float64 (pixels near 1e154) is a ``ValueError`` too, never an ``inf`` result;
- the squared error of an image is a SUM over its pixels (the paper's ``||x - xhat||^2``), while the mean
  squared error is a MEAN over images and pixels, so ``mse == mean(per_image_squared_error) / K``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from lm_eval_mirage.metrics._checks import describe, real, real_array

__all__ = [
    "per_image_squared_error",
    "mean_squared_error",
    "reconstruction_c",
    "pixels_correct",
    "pixel_accuracy",
    "subset_accuracy",
]


def _as_images(values: Any, name: str) -> np.ndarray:
    """``values`` as a float64 ``(N, K)`` array, one row per image."""
    arr = real_array(values, name)
    if arr.ndim == 0 or arr.shape[0] == 0 or arr.size == 0:  # size 0 with N >= 1: images without pixels
        raise ValueError(
            f"{name} must be an array of shape (N, ...) with N >= 1 images of >= 1 pixel, got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr.reshape(arr.shape[0], -1)))[:5, 0].tolist()
        raise ValueError(f"{name} contains NaN or infinite values (images {bad}...): every pixel must be finite")
    return arr.reshape(arr.shape[0], -1)


def _pair(x: Any, x_hat: Any) -> tuple[np.ndarray, np.ndarray]:
    xs, xh = real_array(x, "x"), real_array(x_hat, "x_hat")
    if xs.shape != xh.shape:
        raise ValueError(f"x has shape {xs.shape} but x_hat has shape {xh.shape}: give one reconstruction per image")
    return _as_images(xs, "x"), _as_images(xh, "x_hat")


def _squared_diff(x: Any, x_hat: Any) -> np.ndarray:
    xs, xh = _pair(x, x_hat)
    # No np.errstate here: it costs as much as the arithmetic; values near 1e154 warn (overflow), then raise.
    sq = (xs - xh) ** 2
    if not np.isfinite(np.sum(sq)):
        raise ValueError("x, x_hat: the squared error overflows float64 (pixel values too large)")
    return sq


def _check_positive(value: float, name: str) -> float:
    v = real(value, name)
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {describe(value)}")
    return v


def per_image_squared_error(x: Any, x_hat: Any) -> np.ndarray:
    """Squared error of each image, summed over its pixels: ``e_n = ||x_n - xhat_n||^2``.

    Args:
        x: originals, shape ``(N, ...)``.
        x_hat: reconstructions, same shape.

    Returns:
        A float64 array of shape ``(N,)``; lower is better.

    Example:
        >>> per_image_squared_error([[0.0, 1.0], [0.5, 0.5]], [[0.0, 0.5], [0.0, 1.0]]).tolist()
        [0.25, 0.5]
    """
    return np.sum(_squared_diff(x, x_hat), axis=1)


def mean_squared_error(x: Any, x_hat: Any) -> float:
    """Mean squared error over all images and pixels: ``MSE = (1/(N K)) * sum_n sum_k (x_nk - xhat_nk)^2``.

    The smooth metric of the vision experiment; lower is better; ``0.0`` for a perfect reconstruction.

    Args:
        x: originals, shape ``(N, ...)`` with K values per image.
        x_hat: reconstructions, same shape.

    Example:
        >>> mean_squared_error([[0.0, 1.0], [0.5, 0.5]], [[0.0, 0.5], [0.0, 1.0]])
        0.1875
    """
    return float(np.mean(_squared_diff(x, x_hat)))


def reconstruction_c(x: Any, x_hat: Any, c: float) -> float:
    """Fraction of images reconstructed within squared error ``c`` (Schaeffer et al. 2023, section 5).

    ``Reconstruction_c = (1/N) * sum_n 1[ ||x_n - xhat_n||^2 < c ]``, with the squared error summed over the
    image's pixels (:func:`per_image_squared_error`) and a strict ``<``. Higher is better, in ``[0, 1]``.

    Args:
        x: originals, shape ``(N, ...)``.
        x_hat: reconstructions, same shape.
        c: the threshold, a number ``> 0`` in the squared units of the pixels.

    Example:
        >>> x = [[0.0, 1.0], [0.5, 0.5], [1.0, 1.0], [0.0, 0.0]]
        >>> x_hat = [[0.0, 0.5], [0.0, 1.0], [1.0, 1.0], [0.1, 0.0]]   # errors 0.25, 0.5, 0.0, 0.01
        >>> reconstruction_c(x, x_hat, c=0.3)
        0.75
        >>> reconstruction_c(x, x_hat, c=0.25)   # strict: an error equal to c does not count
        0.5
    """
    threshold = _check_positive(c, "c")
    return float(np.mean(per_image_squared_error(x, x_hat) < threshold))


def pixels_correct(x: Any, x_hat: Any, *, tol: float) -> np.ndarray:
    """Which pixels are right: ``correct_nk = 1[ |x_nk - xhat_nk| < tol ]``, shape ``(N, K)``.

    For the 8x8 digits scaled to ``[0, 1]`` (17 grey levels ``0, 1/16, ..., 1``), ``tol = 1/32`` means "the
    reconstruction rounds to the original grey level", the image analogue of a right digit.

    Example:
        >>> pixels_correct([[0.0, 1.0, 0.5]], [[0.01, 0.9, 0.5]], tol=0.05).tolist()
        [[True, False, True]]
    """
    xs, xh = _pair(x, x_hat)
    return np.abs(xs - xh) < _check_positive(tol, "tol")  # |1e308 - -1e308| = inf (a warning): not within tol


def pixel_accuracy(x: Any, x_hat: Any, *, tol: float) -> float:
    """Fraction of all pixels that are right: ``(1/(N K)) * sum_n sum_k correct_nk`` (see :func:`pixels_correct`).

    The per-element view, the analogue of per-digit accuracy; higher is better, in ``[0, 1]``.

    Example:
        >>> pixel_accuracy([[0.0, 1.0], [0.5, 0.5]], [[0.0, 0.5], [0.5, 0.52]], tol=0.05)
        0.75
    """
    return float(np.mean(pixels_correct(x, x_hat, tol=tol)))


def subset_accuracy(correct: Any) -> float:
    """Fraction of items with all K of their K parts correct: ``(1/N) * sum_n prod_k correct_nk``.

    The "all or nothing" view (exact match of a string of K tokens, an image whose K pixels are all right,
    scikit-learn's subset accuracy for multi-label data). If each part is right with probability ``p``
    independently, it is about ``p ** K``: sharp in ``p`` for large K, while the mean of ``correct`` is ``p``.

    Args:
        correct: booleans (or 0/1) of shape ``(N, K)``: ``correct[n, k]`` says whether part k of item n is right.

    Returns:
        A float in ``[0, 1]``; higher is better.

    Example:
        >>> subset_accuracy([[True, True, True], [True, False, True]])
        0.5
        >>> subset_accuracy(pixels_correct([[0.0, 1.0], [0.5, 0.5]], [[0.0, 0.5], [0.5, 0.52]], tol=0.05))
        0.5
    """
    arr = real_array(correct, "correct", allow_bool=True)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"correct must be a 2-D array of shape (N, K) with N, K >= 1, got shape {arr.shape}")
    if not np.all(np.isin(arr, (0.0, 1.0))):
        raise ValueError("correct must hold booleans or 0/1 values (one per part of each item)")
    arr = arr.astype(bool)
    return float(np.mean(np.all(arr, axis=1)))
