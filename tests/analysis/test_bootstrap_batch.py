"""The batched bootstrap gives each curve the interval of the one-curve function, bit for bit, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from lm_eval_mirage.analysis import bootstrap_batch
from lm_eval_mirage.analysis.bootstrap_batch import bootstrap_emergence_cis
from lm_eval_mirage.analysis.emergence import bootstrap_emergence_ci


def _curves(seed: int = 5) -> list[tuple]:
    rng = np.random.default_rng(seed)
    curves = []
    for n in (7, 40, 40, 333, 1000, 2000):
        for m in (2, 3, 5, 16):
            binary = rng.random() < 0.5
            arrays = [
                (rng.random(n) < rng.random()).astype(float) if binary else rng.normal(size=n) * 3 for _ in range(m)
            ]
            curves.append((arrays, bool(rng.integers(2)), True))
    curves.append(([rng.random(10), rng.random(12)], True, None))  # unequal sizes: unpaired
    curves.append(([rng.random(10), np.r_[rng.random(9), np.nan]], False, False))  # a NaN: unpaired
    curves.append(([rng.random(10)], True, True))  # one model: no interval
    return curves


@pytest.mark.parametrize("seed", [0, 11])
def test_same_intervals_as_one_curve_at_a_time(seed, monkeypatch):
    curves = _curves()
    expected = [bootstrap_emergence_ci(a, higher_is_better=h, paired=p, seed=seed, n_boot=300) for a, h, p in curves]
    monkeypatch.setattr(bootstrap_batch, "_KEPT", type(bootstrap_batch._KEPT)())
    got = bootstrap_emergence_cis(curves, seed=seed, n_boot=300)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a == b or (np.isnan(a).all() and np.isnan(b).all())
    again = bootstrap_emergence_cis(curves, seed=seed, n_boot=300)  # weights kept from the first call
    assert [tuple(map(str, g)) for g in again] == [tuple(map(str, g)) for g in got]


def test_memory_bound_is_kept_and_chunks_are_deterministic(monkeypatch):
    monkeypatch.setattr(bootstrap_batch, "_KEPT", type(bootstrap_batch._KEPT)())
    curves = [c for c in _curves() if len(c[0]) > 1]
    small = 300 * 1000 * 8  # fits n <= 1000 only
    first = bootstrap_emergence_cis(curves, n_boot=300, max_bytes=small)
    assert sum(a.nbytes for a in bootstrap_batch._KEPT.values()) <= small
    assert all(key[0] <= 1000 for key in bootstrap_batch._KEPT)
    assert bootstrap_emergence_cis(curves, n_boot=300, max_bytes=small) == first
    with pytest.raises(ValueError, match="n_boot=5"):
        bootstrap_emergence_cis(curves, n_boot=5)
