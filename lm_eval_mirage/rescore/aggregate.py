"""Per-sample values -> the harness's ``"metric,filter"`` and ``"metric_stderr,filter"`` entries.

Values are kept in ``array('d')`` (8 bytes each, no Python float objects), so a million samples cost 8 MB per
metric and filter, and are aggregated with the harness's own functions in the order of the samples file,
which is the order of the online run: the results equal an online run's bit for bit.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

import numpy as np

from lm_eval_mirage.metrics.catalog import MetricSpec
from lm_eval_mirage.metrics.choice import expected_calibration_error_equal_mass, expected_calibration_error_equal_width
from lm_eval_mirage.metrics.likelihood import mean_logprob

__all__ = ["Accumulator", "harness_mean", "harness_mean_stderr"]


def harness_mean(values: Iterable[float]) -> float:
    """``lm_eval.api.metrics.mean``: ``sum(values) / len(values)``."""
    from lm_eval.api.metrics import mean

    return mean(values)


def harness_mean_stderr(values: Iterable[float]) -> float:
    """``lm_eval.api.metrics.mean_stderr``: sample standard deviation / sqrt(n)."""
    from lm_eval.api.metrics import mean_stderr

    return mean_stderr(values)


class Accumulator:
    """Collects one task's per-sample values by (metric, filter) and aggregates them like the harness."""

    def __init__(self, specs: list[MetricSpec]):
        self.specs = specs
        self._by_filter: dict[str, dict[str, Any]] = {}  # filter -> metric -> array or (array, array)
        self.filters: dict[str, int] = {}  # filter -> samples scored, in first-seen order

    def add(self, filter_key: str, scores: dict[str, Any]) -> None:
        per = self._by_filter.get(filter_key)
        if per is None:
            per = self._by_filter[filter_key] = {}
            self.filters[filter_key] = 0
        self.filters[filter_key] += 1
        for name, value in scores.items():
            store = per.get(name)
            if store is None:
                store = per[name] = (array("d"), array("d")) if isinstance(value, tuple) else array("d")
            if type(value) is float:  # the common case first: this runs once per metric per sample
                store.append(value)
            elif isinstance(value, tuple):  # (confidence, correct) for ECE
                store[0].append(value[0])
                store[1].append(value[1])
            elif isinstance(value, list):  # per-token log-probs, pooled over all samples
                store.extend(value)
            else:
                store.append(value)

    def count(self, name: str, filter_key: str) -> int:
        """Number of samples that gave ``name`` under ``filter_key`` (tokens for pooled metrics)."""
        store = self._by_filter.get(filter_key, {}).get(name)
        if store is None:
            return 0
        return len(store[0]) if isinstance(store, tuple) else len(store)

    def results(self, *, bootstrap_iters: int = 100000) -> dict[str, Any]:
        """``{"metric,filter": value, "metric_stderr,filter": stderr | "N/A"}`` in filter then catalog order.

        ``bootstrap_iters <= 0`` gives ``"N/A"`` stderrs, as the harness does.
        """
        out: dict[str, Any] = {}
        for filter_key in self.filters:
            per = self._by_filter[filter_key]
            for spec in self.specs:
                if spec.name not in per:
                    continue
                value, stderr = self._aggregate(spec, per[spec.name])
                out[f"{spec.name},{filter_key}"] = value
                out[f"{spec.name}_stderr,{filter_key}"] = stderr if bootstrap_iters > 0 else "N/A"
        return out

    def _aggregate(self, spec: MetricSpec, values: Any) -> tuple[float, Any]:
        if spec.aggregation in ("ece", "ece_equal_width"):
            ece = (
                expected_calibration_error_equal_mass
                if spec.aggregation == "ece"
                else expected_calibration_error_equal_width
            )
            conf, hit = values
            return ece(np.frombuffer(conf), np.frombuffer(hit)), "N/A"
        if spec.aggregation == "pooled":
            return mean_logprob(values), "N/A"
        stderr = harness_mean_stderr(values) if len(values) > 1 else "N/A"
        if spec.aggregation == "np_mean":
            return float(np.mean(np.frombuffer(values))), stderr
        value = harness_mean(values)
        return (float(value) if not isinstance(value, float) else value), stderr
