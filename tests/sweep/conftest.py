"""Fixtures of the sweep tests: a stand-in harness command for the step logic, and the Slurm cluster check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from functools import lru_cache

import pytest

#: Writes what the harness writes for ``--output_path DIR/run.json`` (``run_<date>.json`` and a samples file),
#: or misbehaves on request: argv = output_path task mode (ok | fail | nofile | wrongtask | nosamples).
FAKE_HARNESS = r"""
import json, sys, time
from pathlib import Path
out, task, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
if mode == "fail":
    sys.exit(7)
date = time.strftime("%Y-%m-%dT%H-%M-%S") + f".{time.time_ns() % 10**6:06d}"
name = "other_task" if mode == "wrongtask" else task
if mode != "nofile":
    (out.parent / f"{out.stem}_{date}.json").write_text(json.dumps({"results": {name: {"exact_match,parsed": 0.5}}}))
if mode not in ("nofile", "nosamples"):
    (out.parent / f"samples_{name}_{date}.jsonl").write_text(json.dumps({"doc_id": 0, "exact_match": 0.5}) + "\n")
"""


@pytest.fixture
def fake_harness():
    """``fake_harness(output_path, task, mode="ok")`` -> the command list."""

    def command(output_path, task: str, mode: str = "ok") -> list[str]:
        return [sys.executable, "-c", FAKE_HARNESS, str(output_path), task, mode]

    return command


@lru_cache(maxsize=1)
def slurm_unavailable() -> str | None:
    """Why the one-node test cluster cannot be used, or None when it can."""
    if not os.environ.get("SLURM_CONF"):
        return "no Slurm cluster: SLURM_CONF is not set (start one: bash .ci/slurm.sh start && . /tmp/mirage-slurm/env.sh)"
    for tool in ("sbatch", "sinfo", "sacct", "scancel"):
        if shutil.which(tool) is None:
            return f"no Slurm cluster: {tool} is not on PATH"
    try:
        sinfo = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
        sacct = subprocess.run(["sacct", "-n", "-X", "-o", "JobID"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "no Slurm cluster: sinfo/sacct timed out"
    if sinfo.returncode != 0 or not any(s.startswith(("idle", "mixed", "alloc")) for s in sinfo.stdout.split()):
        return f"no Slurm cluster: sinfo shows no usable node ({(sinfo.stdout + sinfo.stderr).strip()[:200]!r})"
    if sacct.returncode != 0:
        return f"Slurm without accounting (sacct fails: {sacct.stderr.strip()[:200]!r}); the tests need job states"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Skip (with the reason) unless the cluster of .ci/slurm.sh, with accounting, is up."""
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
