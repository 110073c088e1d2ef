"""Shared fixtures: an offline Hugging Face environment, tiny model folders, and a runner for real commands."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

# Nothing in the tests may reach a hub or write to the user's caches.
_HF_HOME = tempfile.mkdtemp(prefix="mirage-test-hf-")
os.environ.update(
    {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": _HF_HOME,
        "HF_DATASETS_CACHE": os.path.join(_HF_HOME, "datasets"),
        "TOKENIZERS_PARALLELISM": "false",
        "PYTHONHASHSEED": os.environ.get("PYTHONHASHSEED", "0"),
    }
)

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer, 64-wide GPT-2 with the character tokenizer, saved as an HF folder."""
    from lm_eval_mirage.zoo import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-random", seed=0)


def run_command(args: list[str], *, cwd: Path | None = None, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Run a console script of this environment (``lm_eval``, ``lm-eval-mirage``) as a subprocess."""
    exe = BIN / args[0]
    cmd = [str(exe) if exe.exists() else args[0], *args[1:]]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\nSTDERR:\n{proc.stderr[-8000:]}")
    return proc


@pytest.fixture
def run_cli():
    """The :func:`run_command` helper as a fixture."""
    return run_command
