"""lm-eval-mirage: is that emergent ability a mirage? Continuous and discontinuous metrics side by side
for EleutherAI's lm-evaluation-harness.

Importing the package registers its metrics with the harness (idempotent).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__", "register", "tasks_path"]

from lm_eval_mirage.tasks import tasks_path


def register() -> None:
    """Register the plugin's metrics with the harness (idempotent)."""
    from lm_eval_mirage.metrics.harness import register as _register_metrics

    _register_metrics()


register()
