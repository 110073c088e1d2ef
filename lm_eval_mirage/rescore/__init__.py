"""Re-score saved harness runs offline, without the model.

Reads what ``lm_eval --output_path DIR --log_samples`` wrote (``results_<ts>.json`` and
``samples_<task>_<ts>.jsonl``, for one model or a tree of them, any task) and writes
``results_<ts>.rescored.json`` with the plugin's continuous metrics added next to the original ones, in the
harness's own results layout. See ``docs/rescore.md``.

Example:
    >>> from lm_eval_mirage.rescore import METRICS
    >>> METRICS["brier_score"].output_type
    'multiple_choice'
"""

from lm_eval_mirage.metrics.catalog import METRICS, MetricSpec, metrics_for, parse_metric_names
from lm_eval_mirage.rescore.runner import (
    RESCORED_SUFFIX,
    OutputError,
    Problem,
    RescoreReport,
    RunReport,
    find_results_files,
    rescore,
    rescore_results_file,
)

__all__ = [
    "METRICS",
    "MetricSpec",
    "OutputError",
    "Problem",
    "RESCORED_SUFFIX",
    "RescoreReport",
    "RunReport",
    "find_results_files",
    "metrics_for",
    "parse_metric_names",
    "rescore",
    "rescore_results_file",
]
