"""Emergence analysis across a model family: collect results, score, fit the paper's model, plot, report.

Public API (pandas needed; matplotlib only for figures, ``pip install 'lm-eval-mirage[plot]'``)::

    from lm_eval_mirage.analysis import load, collect, tidy, emergence_table, write_report
    found = load(["out/"], params={"my-model": "350m"})          # Collection(table, samples, models, messages)
    report = write_report(found.table, "report/", samples=found.samples, messages=found.messages)

Any experiment can skip the harness: build a table with columns model, x, task, metric, value (optionally
family, series, filter, split, stderr, n, higher_is_better, kind) and pass it to :func:`emergence_table`,
the plotting functions or :func:`write_report`. The pure scores live in :mod:`.emergence` (numpy only).
"""

from __future__ import annotations

from lm_eval_mirage.analysis.emergence import (
    DEFAULT_THRESHOLD_FACTOR,
    bootstrap_emergence_ci,
    emergence_score,
    emergence_verdict,
    linearity_score,
    parametric_emergence_ci,
    straight_line_score,
)

__all__ = [
    "DEFAULT_THRESHOLD_FACTOR",
    "bootstrap_emergence_ci",
    "emergence_score",
    "emergence_verdict",
    "linearity_score",
    "parametric_emergence_ci",
    "straight_line_score",
    "judge_curve",
    "metric_direction",
    # pandas-based (imported on first use)
    "Collection",
    "load",
    "collect",
    "lookup_model",
    "tidy",
    "metric_kind",
    "emergence_table",
    "PowerLawFit",
    "Prediction",
    "predict",
    "fit_power_law",
    "fit_table",
    "prediction_table",
    "Report",
    "write_report",
    "summarize_task",
    "simulate_results",
    "ForecastOptions",  # the function: lm_eval_mirage.analysis.forecast.forecast (a module of the same name)
]

_LAZY = {
    "Collection": "collect",
    "load": "collect",
    "collect": "collect",
    "lookup_model": "families",
    "tidy": "table",
    "judge_curve": "verdict",
    "metric_direction": "schema",
    "metric_kind": "schema",
    "emergence_table": "table",
    "PowerLawFit": "scaling",
    "Prediction": "scaling",
    "predict": "scaling",
    "fit_power_law": "scaling",
    "fit_table": "scaling",
    "prediction_table": "scaling",
    "Report": "report",
    "write_report": "report",
    "summarize_task": "report",
    "simulate_results": "simulated_results",
    "ForecastOptions": "forecast",
}


def __getattr__(name: str):
    # pandas-based modules load on first use, so `from lm_eval_mirage.analysis import emergence_score` stays light.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"lm_eval_mirage.analysis.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'lm_eval_mirage.analysis' has no attribute {name!r}")
