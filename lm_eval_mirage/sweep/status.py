"""Progress of a sweep from its output folder: tasks done per job (manifests), plus the last job's id, state
and logs (``.sweep/state.json``), with live states asked from Slurm for jobs not over yet."""

from __future__ import annotations

import json
from collections.abc import Sequence

from lm_eval_mirage.sweep.config import SweepConfig
from lm_eval_mirage.sweep.failure import failure_cause, read_log_tail
from lm_eval_mirage.sweep.plan import Job
from lm_eval_mirage.sweep.scheduler import ACTIVE_STATES, local_job_alive, slurm_states
from lm_eval_mirage.sweep.store import SweepPaths
from lm_eval_mirage.sweep.summary import JobRecord, SweepSummary, analyze_command, pending_units

__all__ = ["sweep_status"]


def sweep_status(config: SweepConfig, jobs: Sequence[Job]) -> SweepSummary:
    """One record per job: tasks done, and what the last submitted job is doing or did."""
    paths = SweepPaths(config.output)
    try:
        state = json.loads(paths.state.read_text(encoding="utf-8")).get("jobs", {})
    except (FileNotFoundError, ValueError, AttributeError):
        state = {}
    records = []
    for job in jobs:
        rec = JobRecord(job.key, job.label, len(job.units))
        rec.done = rec.total - len(pending_units(config.output, job))
        old = state.get(job.key) or {}
        for name in ("job_id", "attempts", "state", "stdout", "stderr", "error", "note"):
            setattr(rec, name, old.get(name, getattr(rec, name)))
        rec.result = "done" if rec.done == rec.total else (old.get("result") or "not submitted")
        records.append((rec, old.get("executor")))
    for rec, ex in records:
        if ex == "local" and rec.done < rec.total and rec.result in ("submitted", "running") and not local_job_alive(rec.job_id or ""):
            rec.result = "interrupted"  # the sweep command that ran it is gone
    live_ids = [r.job_id for r, ex in records if ex == "slurm" and r.job_id and r.result in ("submitted", "running")]
    live = slurm_states(live_ids)
    for rec, _ in records:
        if rec.job_id in live:
            rec.state = live[rec.job_id]
            if rec.done < rec.total:
                rec.result = "running" if rec.state in ACTIVE_STATES else ("cancelled" if rec.state.startswith("CANCELLED") else "failed")
    for rec, _ in records:
        if rec.result in ("failed", "cancelled", "interrupted") and not rec.error:  # ended after the sweep command left
            rec.error = failure_cause(read_log_tail(rec.stderr, inside=paths.logs))
    return SweepSummary(config.name, config.output, [r for r, _ in records], analyze_command(config.output, list(jobs)))
