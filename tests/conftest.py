"""Shared fixtures: an offline Hugging Face environment, tiny model folders, and a runner for real commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from functools import lru_cache
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
        "XDG_CACHE_HOME": os.path.join(_HF_HOME, "xdg-cache"),  # analyze's sample cache, the demo's runs
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


# --- tests marked `slurm`: skipped, with the reason, unless the one-node cluster of .ci/slurm.sh is up ------------

#: Slurm's client tools a slurm-marked test may use (submitit's Slurm executor needs srun, the sweep sbatch/sacct)
SLURM_TOOLS = ("srun", "sbatch", "squeue", "sinfo", "sacct", "scancel", "scontrol")


@lru_cache(maxsize=1)
def slurm_unavailable() -> str | None:
    """Why the one-node test cluster cannot be used, or None when it can (asked once per test session)."""
    if not os.environ.get("SLURM_CONF"):
        return "no Slurm cluster: SLURM_CONF is not set (start one: bash .ci/slurm.sh start && . /tmp/mirage-slurm/env.sh)"
    for tool in SLURM_TOOLS:
        if shutil.which(tool) is None:
            return f"no Slurm cluster: {tool} is not on PATH"
    try:
        sinfo = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
        sacct = subprocess.run(["sacct", "-n", "-X", "-o", "JobID"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Slurm cluster: sinfo/sacct failed ({exc})"
    if sinfo.returncode != 0 or not any(s.startswith(("idle", "mixed", "alloc")) for s in sinfo.stdout.split()):
        return f"no Slurm cluster: sinfo shows no usable node ({(sinfo.stdout + sinfo.stderr).strip()[:200]!r})"
    if sacct.returncode != 0:
        return f"Slurm without accounting (sacct fails: {sacct.stderr.strip()[:200]!r}); the tests need job states"
    return None


def pytest_collection_modifyitems(config, items) -> None:
    """Skip every test marked ``slurm`` with the reason when the cluster is not there (nothing else asks)."""
    marked = [item for item in items if item.get_closest_marker("slurm") is not None]
    reason = slurm_unavailable() if marked else None
    if reason:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """For fixtures of slurm-marked tests: skip (with the reason) unless the cluster is up."""
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
