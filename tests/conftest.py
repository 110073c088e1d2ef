"""Shared fixtures: an offline Hugging Face environment, tiny model folders, runners for real commands
(as a subprocess, or in this process), and the rules that keep the suite right under pytest-xdist.

Under xdist (``-n auto --dist loadscope`` in pyproject.toml) every worker is its own pytest session, and
each test module runs on one worker, so a module-scoped fixture (a harness run that several tests read) is
built once. A session-scoped fixture runs once per worker: one that builds something costly and the same
for all (a model folder) goes through :func:`shared_folder`, which builds it once per test run.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
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


def pytest_addoption(parser, pluginmanager) -> None:
    """Without pytest-xdist (``-p no:xdist``, or not installed) the ``-n auto --dist loadscope`` of
    pyproject.toml's addopts would be unknown options: take them, and run in this process."""
    if pluginmanager.has_plugin("xdist"):
        return
    group = parser.getgroup("xdist", "pytest-xdist is not loaded: these options are ignored")
    # the private call is xdist's own: pytest keeps lowercase short options (-n) for plugins that use it
    group._addoption("-n", "--numprocesses", dest="numprocesses", default=None, help="ignored without pytest-xdist")
    group._addoption("--dist", dest="dist", default="no", help="ignored without pytest-xdist")


def pytest_report_header(config) -> str | None:
    if not config.pluginmanager.has_plugin("xdist") and config.getoption("numprocesses", None) not in (None, "0", 0):
        return "pytest-xdist is not loaded: -n is ignored, the tests run in this process"
    return None


def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """``build(folder)`` once per test run, whichever xdist worker asks first; the others wait, then read it.

    The folder lives beside the workers' own temporary folders (``<basetemp>/popen-gwN`` under xdist), so it
    is new for every run. A build that fails leaves no folder behind: the next worker to ask tries again,
    and fails the same way. Tests must not change what they get (copy it first).
    """
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    folder = root / "shared" / name
    folder.parent.mkdir(parents=True, exist_ok=True)
    done = folder.with_name(folder.name + ".done")
    with FileLock(str(folder) + ".lock"):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            try:
                build(folder)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            done.touch()
    return folder


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer, 64-wide GPT-2 with the character tokenizer, saved as an HF folder
    (one folder for the whole run, shared by the xdist workers)."""
    from lm_eval_mirage.zoo import build_tiny_model

    return shared_folder(tmp_path_factory, "tiny-random", lambda folder: build_tiny_model(folder, seed=0))


#: ``lm-eval-mirage`` subcommands that start the harness (they index its ~14,700 task files: seconds each)
HARNESS_SUBCOMMANDS = frozenset({"run", "ls", "validate", "demo", "control", "sweep"})


def starts_the_harness(args: Sequence[str]) -> bool:
    """Whether the command line ``args`` starts an ``lm_eval`` harness run (or listing)."""
    name = Path(args[0]).name
    return name == "lm_eval" or (name == "lm-eval-mirage" and len(args) > 1 and args[1] in HARNESS_SUBCOMMANDS)


def run_command(
    args: list[str], *, cwd: Path | None = None, timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess:
    """Run a console script of this environment (``lm_eval``, ``lm-eval-mirage``) as a subprocess."""
    exe = BIN / args[0]
    cmd = [str(exe) if exe.exists() else args[0], *args[1:]]
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-4000:]}\nSTDERR:\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture
def run_cli(request):
    """The :func:`run_command` helper as a fixture; a test that starts the harness this way must be marked
    ``slow`` (``-m "not slow"`` is the quick run), or call the command in this process with ``run_main``."""
    slow = request.node.get_closest_marker("slow") is not None

    def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
        if starts_the_harness(args) and not slow:
            command = " ".join(args[:2])
            pytest.fail(
                f"{request.node.nodeid} starts the harness in a subprocess ({command}): mark it "
                "@pytest.mark.slow, or run the command in this process with the run_main fixture"
            )
        return run_command(args, **kwargs)

    return run


def run_in_process(args: list[str], *, check: bool = True) -> subprocess.CompletedProcess:
    """``lm-eval-mirage ARGS`` as :func:`lm_eval_mirage.cli.main` in this process: exit status, stdout and
    stderr as the console script gives them (a ``SystemExit`` message goes to stderr with status 1, as
    Python's), without a new interpreter. An exception the command does not handle propagates: the test
    fails on it, where the console script would print a traceback."""
    from lm_eval_mirage.cli import main

    if Path(args[0]).name != "lm-eval-mirage":
        raise ValueError(f"run_in_process runs lm-eval-mirage only, got {args[0]!r}")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args[1:]))
        except SystemExit as exc:
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
            status = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    proc = subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())
    if check and proc.returncode != 0:
        output = f"STDOUT:\n{proc.stdout[-4000:]}\nSTDERR:\n{proc.stderr[-8000:]}"
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\n{output}")
    return proc


@pytest.fixture
def run_main():
    """The :func:`run_in_process` helper as a fixture: for argument and error tests, where a subprocess adds
    only its start-up (each command keeps at least one test through the real console script)."""
    return run_in_process


# --- tests marked `slurm`: skipped, with the reason, unless the one-node cluster of .ci/slurm.sh is up ------------

#: Slurm's client tools a slurm-marked test may use (submitit's Slurm executor needs srun, the sweep sbatch/sacct)
SLURM_TOOLS = ("srun", "sbatch", "squeue", "sinfo", "sacct", "scancel", "scontrol")


@lru_cache(maxsize=1)
def slurm_unavailable() -> str | None:
    """Why the one-node test cluster cannot be used, or None when it can (asked once per test session)."""
    if not os.environ.get("SLURM_CONF"):
        return (
            "no Slurm cluster: SLURM_CONF is not set (start one: bash .ci/slurm.sh start && . /tmp/mirage-slurm/env.sh)"
        )
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
