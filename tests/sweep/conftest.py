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


#: A stand-in ``python:`` for whole sweeps through the real command: the harness run (``-m lm_eval_mirage.cli.main
#: run ...``) writes what the harness writes into its --output_path folder; everything else (submitit's job
#: process, the sweep's step) runs in the real interpreter, unchanged.
STUB_PYTHON = r"""#!{python}
import json, os, sys, time
from pathlib import Path
args = sys.argv[1:]
if args[:2] == ["-m", "lm_eval_mirage.cli.main"] and "run" in args:
    out, task = Path(args[args.index("--output_path") + 1]), args[args.index("--tasks") + 1]
    date = time.strftime("%Y-%m-%dT%H-%M-%S") + f".{{time.time_ns() % 10**6:06d}}"
    (out.parent / f"{{out.stem}}_{{date}}.json").write_text(json.dumps({{"results": {{task: {{"exact_match,none": 0.5}}}}}}))
    (out.parent / f"samples_{{task}}_{{date}}.jsonl").write_text(json.dumps({{"doc_id": 0, "exact_match": 0.5}}) + "\n")
    sys.exit(0)
os.execv(sys.executable, [sys.executable, *args])
"""


@pytest.fixture
def stub_python(tmp_path):
    """Path of an executable ``python`` for sweep files that fakes the harness run (see STUB_PYTHON)."""
    path = tmp_path / "stub-python"
    path.write_text(STUB_PYTHON.format(python=sys.executable))
    path.chmod(0o755)
    return path
