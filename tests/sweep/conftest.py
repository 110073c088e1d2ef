"""Fixtures of the sweep tests: a stand-in harness command for the step logic (the Slurm check is in tests/conftest.py)."""

from __future__ import annotations

import sys

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
