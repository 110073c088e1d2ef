"""Deprecated name of :mod:`lm_eval_mirage.analysis.simulated_results` (kept for existing imports)."""

from __future__ import annotations

import warnings

from lm_eval_mirage.analysis.simulated_results import DEFAULT_MODELS, DEFAULT_TASKS, simulate_results

__all__ = ["DEFAULT_MODELS", "DEFAULT_TASKS", "simulate_results"]

warnings.warn(
    "lm_eval_mirage.analysis.synthetic is deprecated: import lm_eval_mirage.analysis.simulated_results",
    DeprecationWarning,
    stacklevel=2,
)
