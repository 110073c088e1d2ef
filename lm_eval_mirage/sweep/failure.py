"""Why a job failed, from its log, and whether running it again could help.

The cause shown in the summary is the last error line the job's tasks wrote (a Python exception line such
as ``OSError: ...``, or an ``error:`` line), read from the tail of the job's stderr log and ignoring
submitit's own report of the job script's exit.

The retry rule: a job is **not** retried when its failure is deterministic, that is when all of

- the job script ran to its end by itself (its exit status came back: ``job script ... exited N``),
- every task still missing was run in this attempt and reported ``FAILED`` by its step (the harness exited
  with an error, or exited 0 without its files), and
- nothing in the log looks transient: running out of (GPU) memory, a kill by a signal, a network or hub
  error (connection, timeout, HTTP 429/5xx), NCCL or CUDA errors, a full or unavailable resource.

The same command on the same inputs then fails the same way (a bad model path, a missing task, a bad
option). Everything else (time limit, preemption, a dead node, a job killed before it reached a task) is
retried up to ``retries`` times.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from lm_eval_mirage.sweep.text import printable

__all__ = ["JOB_SCRIPT_EXITED", "failure_cause", "is_deterministic", "read_log_tail"]

#: the line JobScript's error leaves in the log when the job script ended by itself
JOB_SCRIPT_EXITED = re.compile(r"job script \S+ exited (-?\d+)")
_EXCEPTION = re.compile(
    r"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Failure|Warning: error)\b.*|.*\berror: .*)$"
)
_TRANSIENT = re.compile(
    r"out of memory|OutOfMemory|CUDA error|NCCL|ConnectionError|Connection (?:reset|refused|aborted)|Timeout|timed out|"
    r"Temporary failure|temporarily unavailable|Too Many Requests|HTTP(?:Error| Error)? ?(?:429|5\d\d)|\b(?:429|50[234]) (?:Client|Server) Error|"
    r"BrokenPipe|Killed|Bus error|Segmentation fault|DUE TO (?:TIME LIMIT|PREEMPTION|NODE FAILURE)|the harness exited -\d+|No space left",
    re.IGNORECASE,
)
_SUBMITIT_REPORT = re.compile(r"^submitit ERROR .*$", re.MULTILINE)


def read_log_tail(path: str | Path | None, max_bytes: int = 1 << 20, *, inside: str | Path | None = None) -> str:
    """The last ``max_bytes`` of a log as text ('' when it is missing, unreadable, not a regular file (a FIFO
    would block), or not under ``inside``: a path read from ``state.json`` is data, and must not make us
    read files elsewhere)."""
    if not path:
        return ""
    try:
        if inside is not None and not Path(path).resolve().is_relative_to(Path(inside).resolve()):
            return ""
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            return ""
        with os.fdopen(fd, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            return fh.read().decode("utf-8", errors="replace")
    except (OSError, RuntimeError, ValueError):  # RuntimeError: a loop of links; ValueError: a NUL in the path
        return ""


def _tasks_part(log: str) -> str:
    """The log up to submitit's report of the job function's exception (the tasks' own output)."""
    found = _SUBMITIT_REPORT.search(log)
    return log[: found.start()] if found else log


def failure_cause(log: str, limit: int = 300) -> str | None:
    """The last error line the job's tasks wrote, or None.

    Example:
        >>> failure_cause("Traceback (most recent call last):\\n  File x\\nOSError: no config.json in /m\\n"
        ...               "[sweep 10:00:00] m t: FAILED, the harness exited 1\\nsubmitit ERROR (..) - Submitted job triggered an exception\\n"
        ...               "RuntimeError: job script j.sh exited 1\\n")
        'OSError: no config.json in /m'
    """
    lines = [line.strip() for line in _tasks_part(log).splitlines() if line.strip()]
    found = next((line for line in reversed(lines) if _EXCEPTION.match(line)), None)
    if found is None:
        found = next((line for line in reversed(lines) if ": FAILED" in line), None)
    return None if found is None else printable(found, limit)  # a log line may carry terminal escapes


def is_deterministic(log: str, folder: str, missing_tasks: Sequence[str]) -> bool:
    """Whether running the job's missing tasks again would fail the same way (the rule in the module docstring).

    Example:
        >>> log = "OSError: bad path\\n[sweep 10:00:00] m t: FAILED, the harness exited 1\\nRuntimeError: job script j.sh exited 1\\n"
        >>> is_deterministic(log, "m", ["t"]), is_deterministic(log, "m", ["t", "u"])
        (True, False)
        >>> is_deterministic(log.replace("bad path", "CUDA out of memory"), "m", ["t"])
        False
    """
    if not missing_tasks or not JOB_SCRIPT_EXITED.search(log):
        return False
    tasks_part = _tasks_part(log)
    for task in missing_tasks:
        if not re.search(rf"\] {re.escape(folder)} {re.escape(task)}: FAILED", tasks_part):
            return False
    return not _TRANSIENT.search(tasks_part)
