"""Job states from the scheduler, asked directly (no submitit import): Slurm's controller and accounting,
and the local executor's processes."""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Sequence
from pathlib import Path

__all__ = ["ACTIVE_STATES", "local_job_alive", "slurm_states"]

#: scheduler states of a job that is not over (Slurm's, plus submitit's local RUNNING)
ACTIVE_STATES = frozenset(
    {
        "PENDING",
        "RUNNING",
        "REQUEUED",
        "CONFIGURING",
        "COMPLETING",
        "SUSPENDED",
        "RESIZING",
        "REQUEUE_HOLD",
        "REQUEUE_FED",
        "SIGNALING",
        "STAGE_OUT",
        "PREEMPTED",
        "READY",
    }
)


def _run(cmd: list[str]) -> str | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def slurm_states(job_ids: Sequence[str]) -> dict[str, str]:
    """``{job id: state}`` for Slurm jobs (``123`` or array tasks ``123_4``); ids Slurm no longer knows are left out.

    Two calls: ``sacct`` (accounting: every job, but it can lag behind, and an array task cancelled while
    pending never reaches it) and ``squeue -t all`` (the controller: current, for jobs that ended less than
    ``MinJobAge`` ago). The controller wins where both know a job.
    """
    if not job_ids:
        return {}
    wanted = set(map(str, job_ids))
    states: dict[str, str] = {}
    base = sorted({j.split("_")[0] for j in wanted})
    out = _run(["sacct", "-n", "-X", "-P", "-o", "JobID,State", "-j", ",".join(base)])
    for line in (out or "").splitlines():
        jid, _, state = line.partition("|")
        if jid.strip() in wanted and state.split():
            states[jid.strip()] = state.split()[0].upper()  # "CANCELLED by 0" -> CANCELLED
    # no -j: squeue fails outright when one of the ids has been purged
    out = _run(["squeue", "-h", "-r", "-t", "all", "-u", getpass.getuser(), "-o", "%i|%T"])
    for line in (out or "").splitlines():
        jid, _, state = line.partition("|")
        if jid.strip() in wanted and state.strip():
            states[jid.strip()] = state.strip().upper()
    return states


def local_job_alive(job_id: str) -> bool:
    """Whether the local executor's job (its controller process id) is still running."""
    try:
        return "submitit" in Path(f"/proc/{int(job_id)}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return False
