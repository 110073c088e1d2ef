"""``lm-eval-mirage sweep``: run a model-family sweep as scheduler jobs (Slurm or local), resumable per task."""

from __future__ import annotations

import argparse
import shutil
import sys

SWEEP_INSTALL_HINT = "running jobs needs submitit: pip install 'lm-eval-mirage[sweep]'"
HELP = "run a sweep file (models x tasks) as Slurm or local jobs; resumable; 'sweep status FILE' shows progress"
DESCRIPTION = """\
Run the tasks of a sweep file over a model family as scheduler jobs (one job per model and revision, one
harness run per task). Finished tasks are skipped (same configuration hash), so after a crash or a scancel
the same command runs only what is missing. Failed jobs are retried (`retries:` in the file), then listed
with their logs; the exit status is 1 unless every task is done. The output folder is what
`lm-eval-mirage analyze` reads. File format: docs/sweep.md.

examples:
  lm-eval-mirage sweep pythia.yaml --dry-run            # show the jobs and job scripts, submit nothing
  lm-eval-mirage sweep pythia.yaml                      # submit to Slurm (if sbatch is here) and wait
  lm-eval-mirage sweep pythia.yaml --no-wait            # submit and return; follow with 'sweep status'
  lm-eval-mirage sweep status pythia.yaml               # tasks done per job, job states, log paths
  lm-eval-mirage sweep pythia.yaml --executor local     # run the jobs on this machine instead

a minimal sweep file:
  output: runs/pythia-arith
  tasks: ["mirage_arith_add_*"]
  harness: {num_fewshot: 2, batch_size: auto}
  resources: {gpus: 1, cpus: 8, mem_gb: 32, time_min: 240, partition: gpu}
  models:
    - {name: pythia-70m, path: EleutherAI/pythia-70m, params: 70426624}
    - {name: pythia-160m, path: EleutherAI/pythia-160m, params: 162322944}
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "args", nargs="+", metavar="[status] SWEEP.yaml", help="the sweep file; 'status FILE' shows progress"
    )
    parser.add_argument(
        "--executor",
        choices=("auto", "slurm", "local"),
        default="auto",
        help="where jobs run: slurm, local (this machine), auto = slurm when sbatch is on PATH (default)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the jobs and rendered job scripts; submit nothing"
    )
    parser.add_argument("--no-wait", action="store_true", help="submit and return (exit 0) without following the jobs")
    parser.add_argument("--status", action="store_true", help="same as 'sweep status FILE'")
    parser.add_argument(
        "--poll",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between job state checks (default 10 for Slurm, 1 locally)",
    )


def _noter():
    """``note(message)``: a ``note: ...`` line on stderr, once per message (a refused state file, for instance)."""
    seen: set[str] = set()

    def note(message: str) -> None:
        if message not in seen:
            seen.add(message)
            print(f"note: {message}", file=sys.stderr, flush=True)

    return note


def _load(path: str):
    from lm_eval_mirage.sweep import expand_tasks, load_sweep, plan_sweep

    config = load_sweep(path)
    return config, plan_sweep(config, expand_tasks(config))


def run(args: argparse.Namespace) -> int:
    from lm_eval_mirage.sweep import SweepConfigError
    from lm_eval_mirage.sweep.state import StateFileError

    words = list(args.args)
    status = args.status
    if len(words) == 2 and words[0] == "status":
        status, words = True, words[1:]
    if len(words) != 1:
        print(f"error: expected one sweep file (or 'status FILE'), got {' '.join(words)!r}", file=sys.stderr)
        return 2
    executor = args.executor
    if executor == "auto":
        executor = "slurm" if shutil.which("sbatch") else "local"
    note = _noter()
    try:
        config, jobs = _load(words[0])
        if status:
            from lm_eval_mirage.sweep.status import sweep_status

            print(sweep_status(config, jobs, note).format())
            return 0
        if args.dry_run:
            print(_dry_run(config, jobs, executor, note))
            return 0
        try:
            from lm_eval_mirage.sweep.execute import run_sweep
        except ModuleNotFoundError as exc:
            if exc.name != "submitit":
                raise
            print(
                f"lm-eval-mirage sweep: error: {SWEEP_INSTALL_HINT} (--dry-run and 'sweep status' work without it)",
                file=sys.stderr,
            )
            return 2

        n_units = sum(len(j.units) for j in jobs)
        print(
            f"sweep {config.name!r}: {len(jobs)} job(s), {n_units} task run(s), executor {executor}, output {config.output}",
            flush=True,
        )
        summary = run_sweep(
            config,
            jobs,
            executor=executor,
            wait=not args.no_wait,
            poll_s=args.poll,
            echo=lambda line: print(line, flush=True),
            note=note,
        )
    except (SweepConfigError, StateFileError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "\ninterrupted: submitted Slurm jobs keep running; 'lm-eval-mirage sweep status FILE' follows them, "
            "running the sweep again resumes",
            file=sys.stderr,
        )
        return 130
    print(summary.format())
    if args.no_wait:
        print(f"follow with: lm-eval-mirage sweep status {words[0]}")
        return 0
    return 0 if summary.ok else 1


def _dry_run(config, jobs, executor: str, note) -> str:
    from lm_eval_mirage.sweep.script import render_job_script
    from lm_eval_mirage.sweep.store import SweepPaths
    from lm_eval_mirage.sweep.summary import pending_units

    paths = SweepPaths(config.output)
    out = [f"sweep {config.name!r} -> {config.output} (executor {executor}; dry run: nothing written or submitted)"]
    todo = []
    width = max(len(j.key) for j in jobs)
    out.append(f"  {'job':<{width}}  to run  done  resources")
    for job in jobs:
        pending = pending_units(config.output, job, note)
        r = job.model.resources
        res = f"gpus={r.gpus} cpus={r.cpus or '-'} mem_gb={r.mem_gb or '-'} time_min={r.time_min or '-'}"
        out.append(f"  {job.key:<{width}}  {len(pending):>6}  {len(job.units) - len(pending):>4}  {res}")
        if pending:
            todo.append((job, pending))
    for job, pending in todo:
        out += ["", f"----- job script {paths.script(job.key)}", render_job_script(config, job, pending).rstrip()]
    if executor == "slurm" and todo:
        try:
            out += [
                "",
                "----- submitit batch script (first job's resources)",
                _sbatch_preview(config, todo[0][0]).rstrip(),
            ]
        except ModuleNotFoundError as exc:
            out.append(
                f"(no batch script preview: {SWEEP_INSTALL_HINT})"
                if exc.name == "submitit"
                else f"(no batch script preview: {exc})"
            )
        except Exception as exc:  # a private submitit function: never let a preview break the dry run  # noqa: BLE001
            out.append(f"(no batch script preview: {exc})")
    if not todo:
        out.append("nothing to run: every task is done")
    return "\n".join(out)


def _sbatch_preview(config, job) -> str:
    """submitit's sbatch script for the job's resources, rendered in a throwaway folder."""
    import tempfile
    from pathlib import Path

    import submitit

    from lm_eval_mirage.sweep.execute import executor_parameters, submitit_python
    from lm_eval_mirage.sweep.store import SweepPaths

    logs = str(SweepPaths(config.output).logs)
    with tempfile.TemporaryDirectory() as tmp:
        ex = submitit.AutoExecutor(folder=Path(tmp) / "%j", cluster="slurm", slurm_python=submitit_python(config))
        ex.update_parameters(**executor_parameters(job.model.resources, name=f"sweep-{config.name}", cluster="slurm"))
        slurm = ex._executor
        text = slurm._make_submission_file_text(slurm._submitit_command_str, "uid")
        return text.replace(str(Path(tmp).resolve()), logs).replace(tmp, logs)
