"""The metrics ``rescore`` can add: the plugin's one catalogue, :mod:`lm_eval_mirage.metrics.catalog`."""

from __future__ import annotations

from lm_eval_mirage.metrics.catalog import METRICS, NOT_APPLICABLE, OUTPUT_TYPES, MetricSpec, metrics_for, parse_metric_names

__all__ = ["MetricSpec", "METRICS", "OUTPUT_TYPES", "NOT_APPLICABLE", "metrics_for", "parse_metric_names"]
