"""Running a planned sweep through submitit (Slurm or local executor): submit, follow, retry, summarise.

Each job is submitit's own batch script running :class:`JobScript`, which runs the rendered job script with
bash. Jobs with the same resources go in one job array (``array_parallelism`` caps how many run at once; the
local executor runs that many at a time, default 1). A job whose tasks are not all done when it ends is
submitted again, with only its missing tasks, up to ``retries`` times, except when it was cancelled (a
``scancel`` means stop) or its failure is deterministic (every missing task failed in the harness with nothing
transient in the log: the rule is in :mod:`lm_eval_mirage.sweep.failure`); the summary shows the last error
line of the job's log. Job ids, states and log paths go to ``.sweep/state.json`` after every change, so
``sweep status`` and a later run (which does not submit a job still queued or running) can find them.
What is read back from there is checked first (:func:`lm_eval_mirage.sweep.state.read_job_states`): a job
id names log folders and a log path is read, so an entry of the wrong form is dropped with a note.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import submitit

from lm_eval_mirage._io import atomic_path
from lm_eval_mirage.sweep.config import Resources, SweepConfig
from lm_eval_mirage.sweep.failure import failure_cause, is_deterministic, read_log_tail
from lm_eval_mirage.sweep.plan import Job, Unit
from lm_eval_mirage.sweep.scheduler import ACTIVE_STATES, local_job_alive, slurm_states
from lm_eval_mirage.sweep.script import render_job_script
from lm_eval_mirage.sweep.state import EXECUTORS, StateFileError, read_job_states
from lm_eval_mirage.sweep.store import SweepPaths, atomic_write_json, atomic_write_text, is_plain_folder, update_params
from lm_eval_mirage.sweep.summary import JobRecord, SweepSummary, analyze_command, pending_units

__all__ = ["EXECUTORS", "JobScript", "executor_parameters", "run_sweep", "submitit_python", "write_params"]

#: without a time limit in the sweep file, jobs get a day (submitit's own defaults are 2 to 5 minutes)
DEFAULT_TIME_MIN = 24 * 60


class JobScript(submitit.helpers.Checkpointable):
    """The function a submitit job runs: ``bash SCRIPT``, output straight into the job's log.

    Checkpointable: when Slurm preempts the job or its time runs out, submitit requeues it, and the script
    skips the tasks finished before.
    """

    def __init__(self, script: str) -> None:
        self.script = script

    def __call__(self) -> dict[str, Any]:
        # scancel sends SIGTERM, which submitit's job process ignores ("Bypassing signal SIGTERM": it waits for
        # SIGUSR2 to checkpoint). Without forwarding it, the script ran on into its next task until Slurm's
        # KillWait SIGKILL, and could commit a task after the job was cancelled. Forward it to the script's
        # process group: the running step finishes a commit it has begun (_io.defer_signals), then stops.
        proc = subprocess.Popen(["bash", self.script], start_new_session=True)
        stopped: list[int] = []

        def forward(signum: int, frame: Any) -> None:
            stopped.append(signum)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signum)

        try:
            previous = signal.signal(signal.SIGTERM, forward)
        except ValueError:  # not the main thread: nothing to forward from
            previous = None
        try:
            status = proc.wait()
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        if stopped:
            raise RuntimeError(
                f"job script {self.script} stopped by SIGTERM (cancelled); tasks not done are left for a rerun"
            )
        if status != 0:
            raise RuntimeError(
                f"job script {self.script} exited {status}; the failing task(s) are marked FAILED in this job's log"
            )
        return {"script": self.script, "status": status}


def executor_parameters(resources: Resources, *, name: str, cluster: str) -> dict[str, Any]:
    """submitit ``update_parameters`` keywords for a job's resources (backend-neutral names mapped).

    Example:
        >>> executor_parameters(Resources(gpus=2, partition="gpu"), name="sweep", cluster="slurm")["slurm_partition"]
        'gpu'
    """
    p: dict[str, Any] = {
        "name": name,
        "timeout_min": resources.time_min or DEFAULT_TIME_MIN,
        "nodes": 1,
        "tasks_per_node": 1,
    }
    if resources.gpus:
        p["gpus_per_node"] = resources.gpus
    if resources.cpus:
        p["cpus_per_task"] = resources.cpus
    if resources.mem_gb:
        p["mem_gb"] = resources.mem_gb
    if cluster == "slurm":
        if resources.partition:
            p["slurm_partition"] = resources.partition
        if resources.account:
            p["slurm_account"] = resources.account
        if resources.array_parallelism:
            p["slurm_array_parallelism"] = resources.array_parallelism
        if resources.slurm:
            p["slurm_additional_parameters"] = dict(resources.slurm)
    return p


def submitit_python(config: SweepConfig) -> str:
    """The interpreter for submitit's batch script, shell-quoted: submitit writes it into the script as given.

    Example:
        >>> from pathlib import Path
        >>> submitit_python(SweepConfig("s", Path("/o"), ("t",), (), python="/opt/my env/python"))
        "'/opt/my env/python'"
    """
    return shlex.quote(config.python)


def write_params(config: SweepConfig, jobs: Sequence[Job]) -> None:
    """Record each (model, revision) folder's model, revision, backend and parameter count in ``params.json``."""
    entries = {
        job.key: {
            "name": job.model.name,
            "model": job.path,
            "revision": job.revision,
            "backend": job.model.harness.backend,
            "params": job.model.params,
        }
        for job in jobs
    }
    update_params(config.output, entries)


class _Tracked:
    """A submitted (or found running) job being followed."""

    def __init__(self, job: Job, handle: Any, attempt: int, cluster: str, *, submitted_here: bool = True) -> None:
        self.job, self.handle, self.attempt, self.cluster = job, handle, attempt, cluster
        # a job of an earlier run: its result pickle is not read (its path comes from state.json; a pickle runs code)
        self.submitted_here = submitted_here
        self.state = "PENDING"
        self.gone_since: float | None = None


class _Runner:
    def __init__(
        self,
        config: SweepConfig,
        jobs: Sequence[Job],
        *,
        cluster: str,
        wait: bool,
        poll_s: float,
        echo: Callable[[str], None],
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.config, self.jobs, self.cluster, self.wait, self.poll_s, self.echo = (
            config,
            list(jobs),
            cluster,
            wait,
            poll_s,
            echo,
        )
        self._note, self._noted = note or (lambda message: echo(f"note: {message}")), set()
        self.paths = SweepPaths(config.output)
        self.records = {j.key: JobRecord(j.key, j.label, len(j.units)) for j in jobs}
        self.state_file: dict[str, Any] = {}
        self.executors: dict[Resources, Any] = {}
        self.tracked: dict[str, _Tracked] = {}
        self.queue: list[tuple[Job, int]] = []  # local executor: waiting for a free slot

    # --- bookkeeping ---------------------------------------------------------------------------------------
    def note(self, message: str) -> None:
        """Say ``message`` once (the poll loop reads the same state files again and again)."""
        if message not in self._noted:
            self._noted.add(message)
            self._note(message)

    def _load_state(self) -> None:
        """The job records of earlier runs, checked; a damaged state.json is noted and replaced on the next save."""
        if self.paths.state.is_dir():  # os.replace cannot put the new state file there
            raise StateFileError(
                f"{self.paths.state}: is a folder; expected the sweep's state file (move the folder away)"
            )
        try:
            jobs = read_job_states(self.paths, self.note)
        except StateFileError as exc:
            self.note(f"{exc} (ignored: replaced by this run's job records)")
            jobs = {}
        self.state_file = {"jobs": jobs}

    def _save_state(self) -> None:
        self.state_file.update(
            {"sweep": self.config.name, "executor": self.cluster, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        )
        for key, rec in self.records.items():
            if rec.job_id is not None:
                self.state_file["jobs"][key] = {**rec.as_dict(), "executor": self.cluster}
        atomic_write_json(self.paths.state, self.state_file)

    def _count(self, job: Job) -> list[Unit]:
        pending = pending_units(self.config.output, job, self.note)
        self.records[job.key].done = len(job.units) - len(pending)
        return pending

    # --- submission ----------------------------------------------------------------------------------------
    def _executor(self, resources: Resources) -> Any:
        if resources not in self.executors:
            python = submitit_python(self.config)
            ex = submitit.AutoExecutor(
                folder=self.paths.logs / "%j", cluster=self.cluster, slurm_python=python, local_python=python
            )
            ex.update_parameters(
                **executor_parameters(resources, name=f"sweep-{self.config.name}", cluster=self.cluster)
            )
            self.executors[resources] = ex
        return self.executors[resources]

    def _script(self, job: Job, units: Sequence[Unit]) -> str:
        if not is_plain_folder(
            job.key
        ):  # the sweep file is checked for this; the script's name must not climb out either
            raise RuntimeError(f"job folder {job.key!r} is not a plain folder inside {self.config.output}: refused")
        path = self.paths.script(job.key)
        atomic_write_text(path, render_job_script(self.config, job, units))
        return str(path)

    def _submit(self, batch: Sequence[tuple[Job, int]]) -> None:
        groups: dict[Resources, list[tuple[Job, int, str]]] = {}
        for job, attempt in batch:
            groups.setdefault(job.model.resources, []).append((job, attempt, self._script(job, self._count(job))))
        for resources, items in groups.items():
            ex = self._executor(resources)
            handles = []
            if self.cluster == "slurm":
                with ex.batch():
                    handles = [ex.submit(JobScript(script)) for _, _, script in items]
            else:
                handles = [ex.submit(JobScript(script)) for _, _, script in items]
            for (job, attempt, _), handle in zip(items, handles):
                rec = self.records[job.key]
                rec.job_id, rec.attempts, rec.result, rec.state = str(handle.job_id), attempt, "submitted", "PENDING"
                rec.stdout, rec.stderr, rec.error, rec.note = (
                    str(handle.paths.stdout),
                    str(handle.paths.stderr),
                    None,
                    None,
                )
                self.tracked[job.key] = _Tracked(job, handle, attempt, self.cluster)
                what = "retrying" if attempt > 1 else "submitted"
                self.echo(f"{what} {job.key} ({rec.total - rec.done} task(s)) as job {rec.job_id}, log {rec.stderr}")
        self._save_state()

    def _reattach(self, job: Job) -> bool:
        """Follow a job that an earlier run submitted and that is still queued or running, instead of a new one."""
        old = self.state_file["jobs"].get(job.key)
        if not old or old.get("executor") != self.cluster or not old.get("job_id"):
            return False
        job_id = str(old["job_id"])
        if self.cluster == "local":
            alive = local_job_alive(job_id)
            if alive:
                self.echo(f"{job.key}: local job {job_id} of an earlier run is still running: not submitted again")
                rec = self.records[job.key]
                rec.job_id, rec.result, rec.state, rec.stdout, rec.stderr = (
                    job_id,
                    "running",
                    "RUNNING",
                    old.get("stdout"),
                    old.get("stderr"),
                )
            return alive
        state = slurm_states([job_id]).get(job_id, "UNKNOWN")
        if state not in ACTIVE_STATES:
            return False
        handle = submitit.SlurmJob(folder=self.paths.logs / "%j", job_id=job_id)
        rec = self.records[job.key]
        rec.job_id, rec.attempts, rec.result, rec.state = job_id, int(old.get("attempts") or 1), "running", state
        rec.stdout, rec.stderr = str(handle.paths.stdout), str(handle.paths.stderr)
        self.tracked[job.key] = _Tracked(job, handle, rec.attempts, "slurm", submitted_here=False)
        self.echo(f"{job.key}: job {job_id} of an earlier run is {state}: following it instead of submitting again")
        return True

    # --- following -----------------------------------------------------------------------------------------
    def _poll(self) -> list[_Tracked]:
        """Refresh states; returns the jobs that are over."""
        live = slurm_states([str(t.handle.job_id) for t in self.tracked.values()]) if self.cluster == "slurm" else {}
        over = []
        for t in self.tracked.values():
            if t.cluster == "local":
                state = str(t.handle.state).upper()
            else:
                state = live.get(str(t.handle.job_id), "UNKNOWN")
                if state == "UNKNOWN":
                    # neither the controller nor accounting knows the job (any more): over, after a grace period
                    # for a scheduler that is slow to answer
                    t.gone_since = t.gone_since or time.time()
                    if time.time() - t.gone_since > max(3 * self.poll_s, 30):
                        state = "GONE"
                else:
                    t.gone_since = None
            if state != t.state:
                t.state = state
                self.records[t.job.key].state = state
                if state == "RUNNING":
                    self.records[t.job.key].result = "running"
            if state not in ACTIVE_STATES and state != "UNKNOWN":
                over.append(t)
        return over

    def _error_of(self, t: _Tracked) -> str | None:
        if not t.submitted_here or not t.handle.paths.result_pickle.exists():
            return None
        try:
            exc = t.handle.exception()
        except Exception as e:  # an unreadable result is itself the error  # noqa: BLE001
            return str(e).strip().splitlines()[-1]
        if exc is None:
            return None
        lines = [ln for ln in str(exc).splitlines() if ln.strip() and not ln.startswith("-")]
        return next((ln.strip() for ln in reversed(lines) if "Error" in ln), lines[-1] if lines else None)

    def _finish(self, t: _Tracked) -> tuple[Job, int] | None:
        """Record a job that is over; returns (job, next attempt) when it should run again."""
        del self.tracked[t.job.key]
        rec = self.records[t.job.key]
        pending = self._count(t.job)
        if not pending:
            rec.result, rec.error = "done", None
            self.echo(f"{t.job.key}: done ({rec.done}/{rec.total} tasks, job {rec.job_id})")
            return None
        log = read_log_tail(rec.stderr, inside=self.paths.logs)
        rec.error = failure_cause(log) or self._error_of(t)
        cancelled = t.state.startswith("CANCELLED")
        rec.result = "cancelled" if cancelled else "failed"
        self.echo(
            f"{t.job.key}: {rec.result} ({t.state}), {rec.done}/{rec.total} tasks done: {rec.error or 'no error line in the log'}; "
            f"log {rec.stderr}"
        )
        if cancelled or t.attempt > self.config.retries:
            return None
        if is_deterministic(log, t.job.key, [u.task for u in pending]):
            rec.note = "not retried: every missing task failed in the harness, nothing transient in the log (same inputs, same failure)"
            self.echo(f"{t.job.key}: {rec.note}")
            return None
        return (t.job, t.attempt + 1)

    def run(self) -> SweepSummary:
        self.paths.book.mkdir(parents=True, exist_ok=True)
        write_params(self.config, self.jobs)
        if self.config.source is not None and self.config.source.is_file():
            with atomic_path(self.paths.book / "sweep.yaml") as tmp:  # replaces, never writes through, a link there
                shutil.copyfile(self.config.source, tmp)
        self._load_state()
        todo: list[tuple[Job, int]] = []
        for job in self.jobs:
            if not self._count(job):
                self.records[job.key].result = "already done"
            elif not self._reattach(job):
                todo.append((job, 1))
        # the local executor runs array_parallelism jobs at a time (default 1: one machine, maybe one GPU)
        slots = min(m.resources.array_parallelism or 1 for m in self.config.models) if self.cluster == "local" else None
        if slots is None:
            self._submit(todo)
        else:
            self.queue = todo
        self._fill_local(slots)
        if not self.wait:
            self._save_state()
            return self._summary()
        from tqdm import tqdm

        total = sum(r.total for r in self.records.values())
        with tqdm(
            total=total,
            initial=sum(r.done for r in self.records.values()),
            unit="task",
            desc=f"sweep {self.config.name}",
            disable=None,
            file=sys.stderr,
        ) as bar:
            while self.tracked or self.queue:
                time.sleep(self.poll_s)
                retry = [again for t in self._poll() if (again := self._finish(t)) is not None]
                if retry and slots is None:
                    self._submit(retry)
                else:
                    self.queue.extend(retry)
                self._fill_local(slots)
                for t in self.tracked.values():
                    self._count(t.job)
                bar.update(sum(r.done for r in self.records.values()) - bar.n)
                self._save_state()
        return self._summary()

    def _fill_local(self, slots: int | None) -> None:
        if slots is None:
            return
        while self.queue and len(self.tracked) < slots:
            self._submit([self.queue.pop(0)])

    def _summary(self) -> SweepSummary:
        summary = SweepSummary(
            self.config.name,
            self.config.output,
            list(self.records.values()),
            analyze_command(self.config.output, self.jobs),
        )
        atomic_write_json(
            self.paths.summary,
            {"sweep": self.config.name, "ok": summary.ok, "jobs": [r.as_dict() for r in summary.records]},
        )
        return summary


def run_sweep(
    config: SweepConfig,
    jobs: Sequence[Job],
    *,
    executor: str = "slurm",
    wait: bool = True,
    poll_s: float | None = None,
    echo: Callable[[str], None] = print,
    note: Callable[[str], None] | None = None,
) -> SweepSummary:
    """Submit the jobs with missing tasks, follow them (unless ``wait=False``), retry failures, summarise.

    ``echo`` gets the progress lines; ``note`` (default: ``echo("note: ...")``) one line per state file or
    entry refused (see :mod:`lm_eval_mirage.sweep.state`), each once.

    Returns:
        The summary; ``summary.ok`` is True when every task of every job is done.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"executor: expected one of {', '.join(EXECUTORS)}, got {executor!r}")
    if executor == "local" and not wait:
        raise RuntimeError(
            "--no-wait needs the slurm executor: local jobs run under this command (array_parallelism at a time)"
        )
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise RuntimeError("executor 'slurm': no sbatch on PATH (use --executor local to run on this machine)")
    poll = (
        poll_s if poll_s is not None else float(os.environ.get("MIRAGE_SWEEP_POLL_S", 10 if executor == "slurm" else 1))
    )
    return _Runner(config, jobs, cluster=executor, wait=wait, poll_s=poll, echo=echo, note=note).run()
