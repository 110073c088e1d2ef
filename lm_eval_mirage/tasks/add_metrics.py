"""The public names for adding the plugin's continuous metrics to ANY harness task, without copying it.

Three ways in (see the README): ``lm-eval-mirage run --add_metrics ...`` (writes the YAML recipes of
:mod:`lm_eval_mirage.tasks.recipes`), :func:`with_metrics` from Python, and a YAML recipe of your own that
``include:``s the original task file and sets ``class: !function lm_eval_mirage.tasks.add_metrics.MirageTask``
and ``metric_list``. The work is done in :mod:`~lm_eval_mirage.tasks.mirage_task` (the task class),
:mod:`~lm_eval_mirage.tasks.recipes` (config rewriting), :mod:`~lm_eval_mirage.metrics.per_sample`
(sample -> metric values) and :mod:`~lm_eval_mirage.metrics.catalog` (which metrics exist).
"""

from __future__ import annotations

from lm_eval_mirage.tasks.mirage_task import MirageTask
from lm_eval_mirage.tasks.recipes import with_metrics

__all__ = ["MirageTask", "with_metrics"]
