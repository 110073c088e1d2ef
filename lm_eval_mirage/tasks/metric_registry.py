"""Harness registration of the plugin's likelihood and choice metrics, and their online aggregations.

The harness looks every ``metric_list`` name up in its registry (an unknown name falls back to a hub lookup),
so the names computed by ``process_results`` (:class:`~lm_eval_mirage.tasks.mirage_task.MirageTask`, the
``_ll`` tasks) get registry entries. Their aggregations come from the one catalogue
(:mod:`lm_eval_mirage.metrics.catalog`), the same ones ``rescore`` applies offline.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from lm_eval_mirage.metrics import choice
from lm_eval_mirage.metrics.catalog import METRICS
from lm_eval_mirage.metrics.likelihood import pooled_token_logprob

__all__ = ["ece_aggregation", "ece_equal_width_aggregation", "np_mean_aggregation", "online_aggregation", "register"]


def _pairs(items: Sequence[Sequence[float]]) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    items = [tuple(i) for i in items if not math.isnan(i[0])]
    return tuple(zip(*items)) if items else None  # type: ignore[return-value]


def ece_aggregation(items: Sequence[Sequence[float]]) -> float:
    """Aggregate per-sample ``(confidence, correct)`` pairs into HELM's 10-bin equal-mass ECE (metric ``ece``).

    Example:
        >>> round(ece_aggregation([(0.9, 1), (0.9, 0)]), 12)
        0.4
    """
    pairs = _pairs(items)
    return float("nan") if pairs is None else choice.expected_calibration_error_equal_mass(*pairs, n_bins=10)


def ece_equal_width_aggregation(items: Sequence[Sequence[float]]) -> float:
    """Aggregate per-sample ``(confidence, correct)`` pairs into the 10-bin equal-width ECE (``ece_equal_width``).

    Example:
        >>> round(ece_equal_width_aggregation([(0.95, 1), (0.55, 0)]), 12)
        0.3
    """
    pairs = _pairs(items)
    return float("nan") if pairs is None else choice.expected_calibration_error_equal_width(*pairs, n_bins=10)


def np_mean_aggregation(items: Sequence[float]) -> float:
    """``numpy.mean``: what the harness's built-in ``brier_score`` aggregation computes (and ``rescore``).

    Example:
        >>> np_mean_aggregation([0.25, 0.75])
        0.5
    """
    import numpy as np

    return float(np.mean(np.asarray(items, dtype=float)))


def online_aggregation(name: str) -> Callable[[Sequence[Any]], float]:
    """The aggregation function of a catalogue metric, as the harness calls it (a list of per-sample values)."""
    kind = METRICS[name].aggregation
    if kind == "mean":
        from lm_eval.api.metrics import mean

        return mean
    return {
        "np_mean": np_mean_aggregation,
        "ece": ece_aggregation,
        "ece_equal_width": ece_equal_width_aggregation,
        "pooled": pooled_token_logprob,
    }[kind]


def _computed_by_process_results(*args: Any, **kwargs: Any) -> float:
    raise RuntimeError("this metric is computed by lm_eval_mirage.tasks.mirage_task.MirageTask.process_results")


def register() -> None:
    """Give the multiple-choice and likelihood names registry entries (idempotent)."""
    import lm_eval.api.metrics  # noqa: F401  (built-ins first; see metrics.harness.register)
    from lm_eval.api.registry import metric_registry, register_metric

    for name, spec in METRICS.items():
        if spec.output_type != "generate_until" and metric_registry.get(name, None) is None:
            register_metric(
                metric=name, higher_is_better=spec.higher_is_better, output_type=spec.output_type, aggregation="mean"
            )(_computed_by_process_results)
