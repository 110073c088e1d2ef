"""One unit inside a job: ``python -m lm_eval_mirage.sweep.step --root OUT --folder F --task T --hash H -- CMD...``

Skips the unit if it is done; otherwise rolls back a cut commit, empties the staging folder, runs the
harness command, checks its files and commits them (see :mod:`lm_eval_mirage.sweep.store`). Exit status:
0 done or skipped, the harness's status if it failed, 3 if it exited 0 without the expected files (or the
folder or hash given is not one the sweep writes), 4 if a file of the state folder about this task (its
manifest, its commit journal) is refused: the sweep did not write it as it is, and nothing is done with it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from lm_eval_mirage.sweep.state import HASH_LENGTH, StateFileError, is_config_hash
from lm_eval_mirage.sweep.store import SweepPaths, UnitOutputError, commit_unit, inside_folder, is_done, rollback_unit

__all__ = ["EXIT_BAD_OUTPUT", "EXIT_BAD_STATE", "main", "run_unit"]

EXIT_BAD_OUTPUT = 3
EXIT_BAD_STATE = 4


def _say(message: str) -> None:
    print(f"[sweep {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_unit(
    root: Path, *, folder: str, task: str, hash_: str, command: Sequence[str], log_samples: bool = True
) -> int:
    """Run one unit (see the module docstring); returns the exit status."""
    try:
        inside_folder(root, folder)  # before the harness runs: its results could never be committed
    except UnitOutputError as exc:
        _say(f"{folder!r} {task}: FAILED: {exc}")
        return EXIT_BAD_OUTPUT
    if not is_config_hash(hash_):  # it names files under .sweep/
        _say(f"{folder} {task}: FAILED: {hash_!r} is not a configuration hash ({HASH_LENGTH} lowercase hex digits)")
        return EXIT_BAD_OUTPUT
    try:
        if is_done(root, hash_):
            _say(f"{folder} {task}: done before (config {hash_}), skipped")
            return 0
        removed = rollback_unit(root, hash_)
        staging = _fresh_staging(SweepPaths(root), hash_)
    except StateFileError as exc:
        _say(
            f"{folder} {task}: FAILED: {exc} (refused, nothing done with it; move the file away to run the task again)"
        )
        return EXIT_BAD_STATE
    if removed:
        _say(f"{folder} {task}: rolled back a cut commit: removed {removed}")
    _say(f"{folder} {task}: running (config {hash_}): {' '.join(command)}")
    start = time.time()
    status = subprocess.call(list(command))
    if status != 0:
        _say(f"{folder} {task}: FAILED, the harness exited {status}")
        return status
    job_id = (
        os.environ.get("SLURM_ARRAY_JOB_ID")
        and f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ.get('SLURM_ARRAY_TASK_ID')}"
    )
    extra = {
        "command": list(command),
        "seconds": round(time.time() - start, 3),
        "job_id": job_id or os.environ.get("SLURM_JOB_ID"),
    }
    try:
        manifest = commit_unit(
            root,
            hash_=hash_,
            folder=folder,
            task=task,
            staging=staging,
            log_samples=log_samples,
            extra=extra,
            note=lambda message: _say(f"{folder} {task}: note: {message}"),
        )
    except UnitOutputError as exc:
        _say(f"{folder} {task}: FAILED: {exc}")
        return EXIT_BAD_OUTPUT
    except StateFileError as exc:
        _say(f"{folder} {task}: FAILED: {exc} (refused, nothing done with it)")
        return EXIT_BAD_STATE
    _say(f"{folder} {task}: done in {extra['seconds']:.1f} s -> {manifest['results']}")
    return 0


def _fresh_staging(paths: SweepPaths, hash_: str) -> Path:
    """An empty staging folder for the unit (what a killed run left there is removed)."""
    staging = paths.staging(hash_)  # checked: no link on the way, so nothing outside is removed
    if staging.is_dir():
        shutil.rmtree(staging)
    elif os.path.lexists(staging):
        staging.unlink()
    staging.mkdir(parents=True)
    return staging


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        print(
            "usage: python -m lm_eval_mirage.sweep.step --root OUT --folder F --task T --hash H [--no-samples] -- COMMAND...",
            file=sys.stderr,
        )
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m lm_eval_mirage.sweep.step")
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--task", required=True)
    parser.add_argument("--hash", required=True, dest="hash_")
    parser.add_argument("--no-samples", action="store_true")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1 :]
    if not command:
        parser.error("no command after --")
    return run_unit(
        args.root,
        folder=args.folder,
        task=args.task,
        hash_=args.hash_,
        command=command,
        log_samples=not args.no_samples,
    )


if __name__ == "__main__":
    raise SystemExit(main())
