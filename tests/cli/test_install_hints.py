"""Commands whose optional extra is missing end in one line saying what to install, exit 2, no traceback.

The package is made unimportable for the real console script by a ``sitecustomize`` on ``PYTHONPATH`` that
puts a finder refusing it in front of ``sys.meta_path`` (what Python reports when it is not installed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

LM_EVAL_MIRAGE = str(Path(sys.executable).parent / "lm-eval-mirage")

SITECUSTOMIZE = '''
import os, sys

class _NotInstalled:
    """Refuses the packages named in MIRAGE_TEST_UNINSTALLED as if they were not installed."""
    names = set(os.environ.get("MIRAGE_TEST_UNINSTALLED", "").split(","))

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
'''


def without(tmp_path: Path, *packages: str) -> dict[str, str]:
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    path = os.pathsep.join(p for p in (str(shim), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "MIRAGE_TEST_UNINSTALLED": ",".join(packages)}


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([LM_EVAL_MIRAGE, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def test_the_shim_hides_the_package(tmp_path):
    env = without(tmp_path, "submitit")
    proc = subprocess.run([sys.executable, "-c", "import submitit"], capture_output=True, text=True, env=env)
    assert proc.returncode == 1 and "ModuleNotFoundError: No module named 'submitit'" in proc.stderr


@pytest.fixture
def sweep_file(tmp_path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text("output: out\ntasks: [mirage_arith_add_1d]\nmodels: [{name: m, path: org/m}]\n")
    return path


def test_sweep_without_submitit_says_what_to_install(tmp_path, sweep_file):
    env = without(tmp_path, "submitit")
    proc = run(["sweep", str(sweep_file), "--executor", "local"], env, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "lm-eval-mirage sweep: error: running jobs needs submitit: pip install 'lm-eval-mirage[sweep]' "
        "(--dry-run and 'sweep status' work without it)"
    ]
    assert not (tmp_path / "out").exists()
    # what does not run jobs still works
    assert run(["sweep", "status", str(sweep_file)], env, tmp_path).returncode == 0
    dry = run(["sweep", str(sweep_file), "--dry-run", "--executor", "slurm"], env, tmp_path)
    assert (
        dry.returncode == 0
        and "(no batch script preview: running jobs needs submitit: pip install 'lm-eval-mirage[sweep]')" in dry.stdout
    )


def test_demo_without_matplotlib_says_what_to_install(tmp_path):
    env = without(tmp_path, "matplotlib")
    proc = run(
        ["demo", "--out", str(tmp_path / "demo"), "--families", "simulated", "--members", "2", "--limit", "5"],
        env,
        tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "lm-eval-mirage demo: error: plots need matplotlib: pip install 'lm-eval-mirage[plot]' (or pip install matplotlib); or run with --no-plots"
    ]
    assert not (tmp_path / "demo").exists()
