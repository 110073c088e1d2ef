"""Model-family sweeps on a scheduler: one job per (model, revision), one resumable unit per task.

Light on purpose (jobs import :mod:`lm_eval_mirage.sweep.step`): submitit is imported only by
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

from lm_eval_mirage.sweep.config import SweepConfig, SweepConfigError, load_sweep, parse_sweep
from lm_eval_mirage.sweep.plan import Job, Unit, config_hash, expand_tasks, plan_sweep
from lm_eval_mirage.sweep.script import render_job_script

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
