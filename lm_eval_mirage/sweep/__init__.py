"""Model-family sweeps on a scheduler: one job per (model, revision), one resumable unit per task.

Light on purpose (jobs import :mod:`lm_eval_mirage.sweep.step`, which needs only the store): the names
below are imported on first use, pydantic with the sweep file's schema, submitit only by
:mod:`lm_eval_mirage.sweep.execute`, the harness only when task globs are expanded.

- :mod:`~lm_eval_mirage.sweep.config`: the sweep file, parsed and validated
- :mod:`~lm_eval_mirage.sweep.plan`: task expansion, jobs, configuration hashes, harness commands
- :mod:`~lm_eval_mirage.sweep.script`: the job script (a pure function, checked against a recorded copy)
- :mod:`~lm_eval_mirage.sweep.store`: output folder, manifests, atomic commits, ``params.json``
- :mod:`~lm_eval_mirage.sweep.step`: one task inside a job (skip if done, run, commit)
- :mod:`~lm_eval_mirage.sweep.execute`: submitit Slurm/local executors, retries, state
- :mod:`~lm_eval_mirage.sweep.scheduler`: job states asked from Slurm (``sacct``, ``squeue``) or local processes
- :mod:`~lm_eval_mirage.sweep.summary`, :mod:`~lm_eval_mirage.sweep.status`: what is done, what failed, logs
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> submodule; imported on first use, so a job's ``step`` does not import pydantic or the planner
_LAZY = {
    "SweepConfig": "config",
    "SweepConfigError": "config",
    "load_sweep": "config",
    "parse_sweep": "config",
    "Job": "plan",
    "Unit": "plan",
    "config_hash": "plan",
    "expand_tasks": "plan",
    "plan_sweep": "plan",
    "render_job_script": "script",
}

__all__ = [
    "Job",
    "SweepConfig",
    "SweepConfigError",
    "Unit",
    "config_hash",
    "expand_tasks",
    "load_sweep",
    "parse_sweep",
    "plan_sweep",
    "render_job_script",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"lm_eval_mirage.sweep.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'lm_eval_mirage.sweep' has no attribute {name!r}")
