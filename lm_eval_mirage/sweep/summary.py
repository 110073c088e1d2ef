"""What a sweep run (or ``sweep status``) reports: one record per job, and the table printed at the end."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval_mirage.sweep.plan import Job, Unit
from lm_eval_mirage.sweep.state import StateFileError
from lm_eval_mirage.sweep.store import is_done

__all__ = ["JobRecord", "SweepSummary", "analyze_command", "pending_units"]


def pending_units(root: Path, job: Job, note: Callable[[str], None] | None = None) -> list[Unit]:
    """The job's units without a valid manifest.

    A manifest that is refused (damaged or foreign, see :mod:`lm_eval_mirage.sweep.state`) leaves its unit
    pending, with one ``note``; without ``note`` the :class:`StateFileError` is raised.
    """
    pending = []
    for unit in job.units:
        try:
            done = is_done(root, unit.hash)
        except StateFileError as exc:
            if note is None:
                raise
            note(f"{exc} (refused: the task counts as not done)")
            done = False
        if not done:
            pending.append(unit)
    return pending


@dataclass
class JobRecord:
    """What happened to one job in this run of the sweep."""

    key: str
    label: str
    total: int
    done: int = 0
    result: str = "waiting"  # one of lm_eval_mirage.sweep.state.JOB_RESULTS
    job_id: str | None = None
    attempts: int = 0
    state: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    error: str | None = None  # the last error line of the job's log (sweep.failure.failure_cause)
    note: str | None = None  # why a failed job was not retried

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def analyze_command(output: Path, jobs: list[Job]) -> str:
    """The ``analyze`` command for the sweep's folder, with the parameter counts the sweep file gives."""
    params = {j.path: j.model.params for j in jobs if j.model.params is not None}
    words = ["lm-eval-mirage", "analyze", str(output), *(f"--params={path}={n}" for path, n in params.items())]
    return " ".join(shlex.quote(w) for w in words)


@dataclass
class SweepSummary:
    name: str
    output: Path
    records: list[JobRecord] = field(default_factory=list)
    analyze: str | None = None

    @property
    def failed(self) -> list[JobRecord]:
        return [r for r in self.records if r.result in ("failed", "cancelled")]

    @property
    def ok(self) -> bool:
        return all(r.done == r.total for r in self.records)

    def format(self) -> str:
        done = sum(r.done for r in self.records)
        total = sum(r.total for r in self.records)
        lines = [
            f"sweep {self.name!r} -> {self.output}: {done}/{total} tasks done"
            + (f"; {len(self.failed)} job(s) failed" if self.failed else "")
        ]
        width = max([len(r.key) for r in self.records] + [3])
        lines.append(f"  {'job':<{width}}  tasks    result        job id      attempts")
        for r in self.records:
            lines.append(
                f"  {r.key:<{width}}  {f'{r.done}/{r.total}':<7}  {r.result:<12}  {r.job_id or '-':<10}  {r.attempts}"
            )
            if r.result in ("failed", "cancelled"):
                if r.state or r.error:
                    lines.append(f"      {r.state or ''} {r.error or ''}".rstrip())
                if r.note:
                    lines.append(f"      {r.note}")
                for log in (r.stderr, r.stdout):
                    if log:
                        lines.append(f"      log: {log}")
        if self.ok and self.analyze:
            lines.append(f"analyze: {self.analyze}")
        return "\n".join(lines)
