"""The image data of the vision experiment: scikit-learn's bundled 8x8 handwritten digits (no download).

1797 images of 8x8 pixels with 17 grey levels (integers 0..16), shipped inside scikit-learn's wheel
(``sklearn.datasets.load_digits``), so the experiment runs on a machine without network. Pixels are scaled
to ``[0, 1]`` by dividing by 16; the split into train and test images is a seeded permutation, independent
of Python's hash seed and of the platform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DIGITS_LEVELS", "DIGITS_PIXELS", "DigitsSplit", "load_digits_split"]

#: The brightest grey level of the digits (pixels are integers 0..16 before scaling).
DIGITS_LEVELS = 16
#: Pixels per image (8 x 8), the K of "all K of K pixels right".
DIGITS_PIXELS = 64


@dataclass(frozen=True)
class DigitsSplit:
    """Train and test images, each an array of shape ``(N, 64)``, float32 in ``[0, 1]``, with digit labels."""

    train: np.ndarray
    test: np.ndarray
    train_labels: np.ndarray
    test_labels: np.ndarray


def _load_raw() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # scikit-learn is the `vision` extra, not a core dependency
        raise ImportError(
            "the vision experiment needs scikit-learn for its bundled 8x8 digits: pip install 'lm-eval-mirage[vision]'"
        ) from exc
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def load_digits_split(*, test_fraction: float = 0.3, seed: int = 0) -> DigitsSplit:
    """Load the digits, scale pixels to ``[0, 1]`` and split them into train and test images.

    Args:
        test_fraction: share of the 1797 images held out for testing, in ``(0, 1)``. More test images give
            the thresholded metrics a finer resolution (the smallest non-zero value is ``1 / n_test``).
        seed: seed of the numpy permutation that decides the split.

    Returns:
        A :class:`DigitsSplit`; ``round(1797 * test_fraction)`` test images (at least one of each side).

    Example:
        >>> split = load_digits_split(test_fraction=0.3, seed=0)
        >>> split.train.shape, split.test.shape, float(split.test.max())
        ((1258, 64), (539, 64), 1.0)
    """
    if not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r}: must be in (0, 1)")
    data, labels = _load_raw()
    images = (data / DIGITS_LEVELS).astype(np.float32)  # k/16 is exact in float32
    n = images.shape[0]
    n_test = min(max(1, round(n * float(test_fraction))), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    test_idx, train_idx = np.sort(order[:n_test]), np.sort(order[n_test:])
    return DigitsSplit(images[train_idx], images[test_idx], labels[train_idx], labels[test_idx])
