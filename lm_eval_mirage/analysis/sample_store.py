"""The per-problem values of a whole collection, as compact arrays per (model, task) file.

:class:`SampleStore` is what :func:`lm_eval_mirage.analysis.collect.load` fills from the samples files and what
:func:`lm_eval_mirage.analysis.table.emergence_table` reads for its bootstrap intervals: memory grows with the
problems (some 30-60 bytes per samples line) but never holds a Python object per line. The long pandas table of
earlier versions (:data:`~lm_eval_mirage.analysis.schema.SAMPLE_COLUMNS`, one row per line and metric) is built
on demand only (:meth:`SampleStore.frame`, ``Collection.samples``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np

from lm_eval_mirage.analysis.sample_arrays import FileSamples
from lm_eval_mirage.analysis.schema import SAMPLE_COLUMNS

__all__ = ["SampleStore", "CurveArrays", "sample_index"]

#: (doc_ids, target_digits, values) of one model on one (task, metric, filter), sorted by doc_id.
CurveArrays = tuple[np.ndarray, np.ndarray, np.ndarray]


class SampleStore:
    """Compact per-problem arrays: one :class:`~lm_eval_mirage.analysis.sample_arrays.FileSamples` per
    (model, task), in the order they were added."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, str], FileSamples] = {}

    def add(self, model: str, task: str, found: FileSamples) -> None:
        """Add the samples of ``model`` on ``task`` (one file per pair; a second one replaces the first)."""
        self._files[(model, task)] = found

    @property
    def empty(self) -> bool:
        """No per-problem value at all."""
        return not any(f.values.size and (f.present is None or f.present.any()) for f in self._files.values())

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(f.nbytes for f in self._files.values())

    def __len__(self) -> int:
        """Number of per-problem values (the rows of :meth:`frame`)."""
        return sum(int(f.values.size if f.present is None else f.present.sum()) for f in self._files.values())

    def items(self) -> Iterator[tuple[tuple[str, str], FileSamples]]:
        """((model, task), arrays) in the order added."""
        return iter(self._files.items())

    def curve(self, model: str, task: str, metric: str, filt: str) -> CurveArrays | None:
        """(doc_ids, target_digits, values) of one model, in line order; None when it has none."""
        found = self._files.get((model, task))
        if found is None or metric not in found.metrics or filt not in found.filters:
            return None
        m = found.metrics.index(metric)
        keep = found.filter_code == found.filters.index(filt)
        if found.present is not None:
            keep &= found.present[m]
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return None
        return found.doc_id[idx], found.target_digits[idx], found.values[m, idx]

    def keys(self) -> dict[tuple[str, str, str], list[str]]:
        """(task, metric, filter) -> the models with values for it (in the order added)."""
        out: dict[tuple[str, str, str], list[str]] = {}
        for (model, task), found in self._files.items():
            for metric, filt, _ in found.groups():
                out.setdefault((task, metric, filt), []).append(model)
        return out

    def frame(self):
        """The long table (:data:`~lm_eval_mirage.analysis.schema.SAMPLE_COLUMNS`), one row per value: for API
        users and small collections (it costs some 100 bytes per row). Rows are grouped by (model, task,
        metric, filter), in line order within a group."""
        import pandas as pd

        parts = []
        for (model, task), found in self._files.items():
            for metric, filt, idx in found.groups():
                m = found.metrics.index(metric)
                doc = found.doc_id[idx]
                parts.append(
                    pd.DataFrame(
                        {
                            "model": model,
                            "task": task,
                            "metric": metric,
                            "filter": filt,
                            "doc_id": doc.astype(object) if doc.dtype.kind == "U" else doc,
                            "target_digits": found.target_digits[idx],
                            "value": found.values[m, idx],
                        }
                    )
                )
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(SAMPLE_COLUMNS))
        df = df[list(SAMPLE_COLUMNS)]
        for col in ("model", "task", "metric", "filter"):
            df[col] = df[col].astype("category")
        return df

    @classmethod
    def from_frame(cls, samples) -> SampleStore:
        """A store from the long table (:data:`~lm_eval_mirage.analysis.schema.SAMPLE_COLUMNS`), e.g. one
        built by hand; its rows keep their order within each (model, task, metric, filter)."""
        store = cls()
        for (model, task), g in samples.groupby(["model", "task"], observed=True, sort=False):
            metrics = tuple(sorted(str(m) for m in g["metric"].unique()))
            filters = tuple(str(f) for f in g["filter"].unique())
            n = len(g)
            values = np.full((len(metrics), n), np.nan)
            present = np.zeros((len(metrics), n), dtype=bool)
            rows = np.arange(n)
            m_idx = np.searchsorted(np.array(metrics), g["metric"].astype(str).to_numpy())
            values[m_idx, rows] = g["value"].to_numpy(dtype=float)
            present[m_idx, rows] = True
            doc = g["doc_id"].to_numpy()
            doc = doc.astype(np.int64) if all(isinstance(d, (int, np.integer)) for d in doc) else doc.astype(str)
            codes = np.array([filters.index(str(f)) for f in g["filter"]], dtype=np.int32)
            store.add(
                str(model),
                str(task),
                FileSamples(
                    doc,
                    g["target_digits"].to_numpy(dtype=float),
                    codes,
                    filters,
                    metrics,
                    values,
                    present,
                ),
            )
        return store


class _Curves(Mapping):
    """model -> :data:`CurveArrays` sorted by doc_id (stable), computed on first use."""

    def __init__(self, store: SampleStore, task: str, metric: str, filt: str, models: list[str]):
        self._store, self._key, self._models, self._done = store, (task, metric, filt), models, {}

    def __getitem__(self, model: str) -> CurveArrays:
        if model not in self._done:
            if model not in self._models:
                raise KeyError(model)
            doc, digits, values = self._store.curve(model, *self._key)
            order = np.argsort(doc, kind="stable")
            self._done[model] = (doc[order], digits[order], values[order])
        return self._done[model]

    def __iter__(self) -> Iterator[str]:
        return iter(self._models)

    def __len__(self) -> int:
        return len(self._models)


class _Index(dict):
    """(task, metric, filter) -> :class:`_Curves`; only the last key's sorted arrays are kept in memory."""

    def __init__(self, store: SampleStore):
        super().__init__((k, models) for k, models in store.keys().items())
        self._store, self._last = store, None

    def get(self, key, default=None):
        if key not in self:
            return default
        return self[key]

    def __getitem__(self, key) -> _Curves:
        if self._last is None or self._last[0] != key:
            self._last = (key, _Curves(self._store, *key, dict.__getitem__(self, key)))
        return self._last[1]


def sample_index(samples) -> Mapping[tuple[str, str, str], Mapping[str, CurveArrays]]:
    """(task, metric, filter) -> model -> (doc_ids, target_digits, values) sorted by doc_id, from a
    :class:`SampleStore` or the long table (:data:`~lm_eval_mirage.analysis.schema.SAMPLE_COLUMNS`)."""
    store = samples if isinstance(samples, SampleStore) else SampleStore.from_frame(samples)
    return _Index(store)
