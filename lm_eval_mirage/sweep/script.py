"""The job script: a pure function of the sweep and the job, so it can be shown (``--dry-run``) and checked
against a recorded copy. Submitit's batch script runs it with ``bash``; each task is one
``python -m lm_eval_mirage.sweep.step`` line that skips the task if done and commits it atomically if not.

Every value from the sweep file is data, never code, even when validation was bypassed: in commands each
is one ``shlex.quote``-d word, in comments it is quoted too and its control characters and line separators
are written as escapes (``\\n``), so no value can end a comment line. Only the file's ``setup:`` lines are
shell code, by design. Environment variable names that are not identifiers are refused (a name cannot be
quoted).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from lm_eval_mirage.sweep.config import SweepConfig
from lm_eval_mirage.sweep.plan import Job, Unit, harness_command
from lm_eval_mirage.sweep.store import SweepPaths, staged_output_path
from lm_eval_mirage.sweep.text import escape_controls

__all__ = ["comment_word", "format_command", "render_job_script", "step_command"]


def comment_word(value: object) -> str:
    r"""``value`` as one shell-quoted word that cannot leave a comment line (line breaks written as escapes).

    Example:
        >>> comment_word("step1\ntouch x")
        "'step1\\ntouch x'"
        >>> comment_word("EleutherAI/pythia-70m")
        'EleutherAI/pythia-70m'
    """
    return shlex.quote(escape_controls(str(value)))


def step_command(config: SweepConfig, job: Job, unit: Unit) -> list[str]:
    """The command line of one unit: the step wrapper followed by the harness command."""
    staging = SweepPaths(config.output).staging(unit.hash)
    step = [
        config.python,
        "-m",
        "lm_eval_mirage.sweep.step",
        "--root",
        str(config.output),
        "--folder",
        job.key,
        "--task",
        unit.task,
        "--hash",
        unit.hash,
    ]
    if not job.model.harness.log_samples:
        step.append("--no-samples")
    return [*step, "--", *harness_command(config, job, unit.task, staged_output_path(staging))]


def format_command(step: Sequence[str], command: Sequence[str], indent: str = "    ") -> str:
    """The step wrapper on one line, the launcher up to the ``run`` subcommand on the next, then one
    ``--option value`` per line."""
    start = command.index("run") + 1 if "run" in command else 1
    lines: list[list[str]] = [list(command[:start])]
    for arg in command[start:]:
        if arg.startswith("--"):
            lines.append([])
        lines[-1].append(arg)
    head = " ".join(shlex.quote(a) for a in step) + " -- \\\n"
    return head + " \\\n".join(indent + " ".join(shlex.quote(a) for a in line) for line in lines)


def render_job_script(config: SweepConfig, job: Job, units: Sequence[Unit] | None = None) -> str:
    """The bash script of one job, running ``units`` (default: all of the job's) one after the other.

    A failing task does not stop the others; the script exits 1 if any failed. Setup lines run first under
    ``set -e`` (a failed ``module load`` fails the job rather than every task).
    """
    units = job.units if units is None else tuple(units)
    m, q = job.model, comment_word
    bad_env = [k for k, _ in config.env if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k)]
    if bad_env:
        raise ValueError(f"env: {bad_env[0]!r} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
    revision = f" revision {q(job.revision)}" if job.revision and "{revision}" not in m.path else ""
    head = [
        "#!/bin/bash",
        f"# lm-eval-mirage sweep {q(config.name)}, job {q(job.key)}",
        f"# model {q(m.name)}: {q(job.path)}{revision}",
        f"# backend {q(m.harness.backend)}; parallel data={m.parallel.data} tensor={m.parallel.tensor} shard={m.parallel.shard}; gpus {m.resources.gpus}",
        f"# {len(units)} task(s); each step skips a task already done with the same configuration hash",
        "set -eu",
    ]
    body = list(config.setup)  # shell code by design: the user's own lines (module load, source ...)
    body += [f"export {k}={shlex.quote(v)}" for k, v in config.env]
    body.append("status=0")
    for unit in units:
        body.append(f"# {q(unit.task)} (config {q(unit.hash)})")
        cmd = step_command(config, job, unit)
        split = cmd.index("--")
        body.append(format_command(cmd[:split], cmd[split + 1 :]) + " || status=1")
    body.append("exit $status")
    return "\n".join(head + body) + "\n"
