"""Bootstrap intervals of many curves at once, in bounded memory, identical to one curve at a time.

:func:`~lm_eval_mirage.analysis.emergence.bootstrap_emergence_ci` weights every problem of a paired curve by
its draw counts in each replicate: a (replicates x problems) multinomial-weights matrix that depends only on
the number of problems, the replicates and the seed. :func:`bootstrap_emergence_cis` builds that matrix once
per number of problems and multiplies it with the values of all the models of all the curves that share it,
in one matrix product (the values of 16 models x 5 metrics are 80 columns of one product instead of 5 products
of 16), then scores each curve's replicates as the single-curve function does: the same values, bit for bit.
Memory is bounded by ``max_bytes`` (default 256 MB: a matrix of 1000 replicates for up to 33,000 problems);
matrices that fit are kept for the next curves, within the same bound; above it the product is taken over
chunks of replicates (same random stream; the last bits of an interval can then differ from the one-shot
function's).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from lm_eval_mirage.analysis.emergence import (
    _breakthroughness_rows,
    bootstrap_emergence_ci,
)

__all__ = ["bootstrap_emergence_cis", "DEFAULT_MAX_BYTES"]

#: Memory for the weights (a chunk of them, or the kept matrices), in bytes.
DEFAULT_MAX_BYTES = 256 * 2**20
_KEPT: OrderedDict[tuple[int, int, int], np.ndarray] = OrderedDict()


def _draw_counts(rng: np.random.Generator, rows: int, n: int, out: np.ndarray) -> None:
    """The next ``rows`` replicates' draw counts into ``out`` (float64), temporaries of some 16 MB at most."""
    step = max(1, 2**20 // n)
    for r0 in range(0, rows, step):
        r = min(step, rows - r0)
        idx = rng.integers(0, n, size=(r, n))
        out[r0 : r0 + r] = np.bincount((idx + np.arange(r)[:, None] * n).ravel(), minlength=r * n).reshape(r, n)


def _weights(n: int, n_boot: int, seed: int, max_bytes: int):
    """(row offset, weights) of the (n_boot x n) draw counts of ``emergence._bootstrap_counts``: the whole
    matrix when it fits in ``max_bytes`` (kept for the next curves, up to ``max_bytes`` in all), else chunks
    of replicates (a matrix product over chunks can differ from the whole one in the last bits)."""
    key = (n, n_boot, seed)
    if key in _KEPT:
        _KEPT.move_to_end(key)
        yield 0, _KEPT[key]
        return
    rng = np.random.default_rng(seed)
    if n_boot * n * 8 <= max_bytes:
        while _KEPT and sum(a.nbytes for a in _KEPT.values()) + n_boot * n * 8 > max_bytes:
            _KEPT.popitem(last=False)
        whole = np.empty((n_boot, n))
        _draw_counts(rng, n_boot, n, whole)
        whole.setflags(write=False)
        _KEPT[key] = whole
        yield 0, whole
        return
    rows = max(1, max_bytes // (8 * n))
    chunk = np.empty((rows, n))
    for r0 in range(0, n_boot, rows):
        r = min(rows, n_boot - r0)
        _draw_counts(rng, r, n, chunk[:r])
        yield r0, chunk[:r]


def bootstrap_emergence_cis(
    curves: Sequence[tuple[Sequence[Sequence[float]], bool, bool | None]],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[tuple[float, float]]:
    """:func:`~lm_eval_mirage.analysis.emergence.bootstrap_emergence_ci` of each ``(samples, higher_is_better,
    paired)``, the same values; paired curves with equal numbers of problems share one weights matrix product.

    Example:
        >>> em = [[0] * 50, [0] * 49 + [1], [1] * 10 + [0] * 40, [1] * 45 + [0] * 5]
        >>> bootstrap_emergence_cis([(em, True, True), (em[::-1], False, True)], n_boot=200) == [
        ...     bootstrap_emergence_ci(em, n_boot=200), bootstrap_emergence_ci(em[::-1], higher_is_better=False, n_boot=200)]
        True
    """
    if n_boot < 10:
        raise ValueError(f"n_boot={n_boot}: use at least 10 replicates")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level={level}: must be in (0, 1)")
    out: list[tuple[float, float] | None] = [None] * len(curves)
    by_n: dict[int, list[tuple[int, np.ndarray, bool]]] = {}
    for i, (samples, higher, paired) in enumerate(curves):
        arrays = [np.asarray(s, dtype=float).reshape(-1) for s in samples]
        sizes = {a.size for a in arrays}
        if (
            paired is False
            or len(arrays) < 2
            or len(sizes) != 1
            or 0 in sizes
            or any(np.isnan(a).any() for a in arrays)
        ):
            out[i] = bootstrap_emergence_ci(
                samples, higher_is_better=higher, n_boot=n_boot, level=level, seed=seed, paired=paired
            )
            continue
        by_n.setdefault(arrays[0].size, []).append((i, np.vstack(arrays), higher))
    tail = (1.0 - level) / 2.0
    for n, items in by_n.items():
        values = np.vstack([m for _, m, _ in items])  # (models of all curves) x problems
        means = np.empty((n_boot, values.shape[0]))
        for r0, counts in _weights(n, n_boot, seed, max_bytes):
            means[r0 : r0 + counts.shape[0]] = counts @ values.T
        means /= n
        col = 0
        for i, m, higher in items:
            block = np.ascontiguousarray(means[:, col : col + m.shape[0]])
            col += m.shape[0]
            scores = _breakthroughness_rows(block if higher else -block)
            low, high = np.quantile(scores, [tail, 1.0 - tail], method="inverted_cdf")
            out[i] = (float(low), float(high))
    return [(math.nan, math.nan) if ci is None else ci for ci in out]
