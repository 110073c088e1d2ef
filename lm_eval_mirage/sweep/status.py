"""Progress of a sweep from its output folder: tasks done per job (manifests), plus the last job's id, state
and logs (``.sweep/state.json``), with live states asked from Slurm for jobs not over yet.

Every state file is checked before use (:mod:`lm_eval_mirage.sweep.state`): a damaged or foreign one gives
one note naming the file and is left out, and the status reports the rest.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from lm_eval_mirage.sweep.config import SweepConfig
from lm_eval_mirage.sweep.failure import failure_cause, read_log_tail
from lm_eval_mirage.sweep.plan import Job
from lm_eval_mirage.sweep.scheduler import ACTIVE_STATES, local_job_alive, slurm_states
from lm_eval_mirage.sweep.state import StateFileError, SweepPaths, read_job_states
from lm_eval_mirage.sweep.summary import JobRecord, SweepSummary, analyze_command, pending_units

__all__ = ["sweep_status"]


def _to_stderr(message: str) -> None:
    print(f"note: {message}", file=sys.stderr, flush=True)


def _recorded_states(paths: SweepPaths, note: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    try:
        return read_job_states(paths, note)
    except StateFileError as exc:
        note(f"{exc} (ignored: no job ids or states from it)")
        return {}


def sweep_status(config: SweepConfig, jobs: Sequence[Job], note: Callable[[str], None] | None = None) -> SweepSummary:
    """One record per job: tasks done, and what the last submitted job is doing or did.

    ``note`` (default: a ``note: ...`` line on stderr) gets one line per state file or entry refused.
    """
    note = note or _to_stderr
    paths = SweepPaths(config.output)
    state = _recorded_states(paths, note)
    records = []
    for job in jobs:
        rec = JobRecord(job.key, job.label, len(job.units))
        rec.done = rec.total - len(pending_units(config.output, job, note))
        old = state.get(job.key) or {}
        for name in ("job_id", "attempts", "state", "stdout", "stderr", "error", "note"):
            if old.get(name) is not None:
                setattr(rec, name, old[name])
        rec.result = "done" if rec.done == rec.total else (old.get("result") or "not submitted")
        records.append((rec, old.get("executor")))
    for rec, ex in records:
        if (
            ex == "local"
            and rec.done < rec.total
            and rec.result in ("submitted", "running")
            and not local_job_alive(rec.job_id or "")
        ):
            rec.result = "interrupted"  # the sweep command that ran it is gone
    live_ids = [r.job_id for r, ex in records if ex == "slurm" and r.job_id and r.result in ("submitted", "running")]
    live = slurm_states(live_ids)
    for rec, _ in records:
        if rec.job_id in live:
            rec.state = live[rec.job_id]
            if rec.done < rec.total:
                rec.result = (
                    "running"
                    if rec.state in ACTIVE_STATES
                    else ("cancelled" if rec.state.startswith("CANCELLED") else "failed")
                )
    _read_causes([r for r, _ in records], paths)
    return SweepSummary(config.name, config.output, [r for r, _ in records], analyze_command(config.output, list(jobs)))


def _read_causes(records: list[JobRecord], paths: SweepPaths) -> None:
    """The error line of jobs that ended after the sweep command left, from their logs (only inside .sweep/logs)."""
    ended = [r for r in records if r.result in ("failed", "cancelled", "interrupted") and not r.error]
    if not ended:
        return
    try:
        logs = paths.logs
    except StateFileError:  # logs behind a link: read none (the entries naming them were refused already)
        return
    for rec in ended:
        rec.error = failure_cause(read_log_tail(rec.stderr, inside=logs))
