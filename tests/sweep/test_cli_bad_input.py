"""Bad sweep files through the real ``lm-eval-mirage sweep`` command: one line naming the key, exit 2, nothing
written or run (the refusals themselves are tested in test_config.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

LM_EVAL_MIRAGE = str(Path(sys.executable).parent / "lm-eval-mirage")

CASES = {  # YAML of the sweep file (models or resources part), the key path and words of the error
    "newline in path": ('models: [{name: m, path: "/models/x\\ntouch PWNED"}]', "models[0].path", "control characters"),
    "newline in revision": (
        'models: [{name: m, path: org/m, revisions: [step1, "s\\n$(touch PWNED)"]}]',
        "models[0].revisions[1]",
        "line breaks",
    ),
    "line separator in a task": (
        'tasks: ["mirage_arith_add_1d\\u2028touch PWNED"]\nmodels: [{name: m}]',
        "tasks[0]",
        "control characters",
    ),
    "path ..": ("models: [{name: m, path: ..}]", "models[0].path", "inside the output folder"),
    "mem_gb nan": ("models: [{name: m}]\nresources: {mem_gb: .nan}", "resources.mem_gb", "gigabytes > 0"),
    "mem_gb inf": ("models: [{name: m}]\nresources: {mem_gb: .inf}", "resources.mem_gb", "gigabytes > 0"),
    "time_min 1e20": ("models: [{name: m}]\nresources: {time_min: 1e20}", "resources.time_min", "whole number >= 1"),
    "negative gpus": ("models: [{name: m, resources: {gpus: -1}}]", "models[0].resources.gpus", "whole number >= 0"),
}


@pytest.mark.parametrize("name", CASES)
def test_bad_sweep_file_is_one_line_exit_2_and_nothing_runs(tmp_path, name):
    body, key, words = CASES[name]
    text = "output: out\n" + ("" if body.startswith("tasks:") else "tasks: [mirage_arith_add_1d]\n") + body + "\n"
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        [LM_EVAL_MIRAGE, "sweep", str(path), "--executor", "local"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"error: {path}: {key}: expected ") and words in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"] and not list(tmp_path.parent.glob("PWNED"))
