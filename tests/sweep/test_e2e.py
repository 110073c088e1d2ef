"""End to end: the real ``lm-eval-mirage sweep`` command, real harness runs on tiny local models.

Local executor (always): a sweep runs, re-running it submits nothing, status and dry run report it.
Real Slurm (marker ``slurm``; skipped with the reason when the cluster of .ci/slurm.sh is not up): two models
x two tasks, one job cancelled half-way; the re-run completes only the missing task while a model with a bad
path fails, is not retried (a deterministic failure) and is reported with its cause and logs; the local executor's files equal Slurm's; ``analyze``
reads the folder. Kept small (``--limit 4``, 0-shot) because every harness run indexes the harness's tasks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from lm_eval_mirage.sweep import load_sweep, plan_sweep
from lm_eval_mirage.sweep.store import read_manifest

pytestmark = pytest.mark.slow

TASKS = ["mirage_arith_add_1d", "mirage_arith_sub_1d"]
HARNESS = {"num_fewshot": 0, "limit": 4, "batch_size": 4}
RESOURCES = {"cpus": 1, "mem_gb": 1, "time_min": 15}
LM_EVAL_MIRAGE = [str(Path(sys.executable).parent / "lm-eval-mirage")]


def write_sweep(path: Path, output: Path, models: list[dict], tasks=TASKS, retries: int = 1) -> Path:
    data = {
        "name": path.stem,
        "output": str(output),
        "tasks": tasks,
        "harness": HARNESS,
        "resources": RESOURCES,
        "retries": retries,
        "models": models,
    }
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def sweep(*args, timeout=900, check_rc=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([*LM_EVAL_MIRAGE, "sweep", *map(str, args)], capture_output=True, text=True, timeout=timeout)
    if check_rc is not None:
        assert proc.returncode == check_rc, (
            f"exit {proc.returncode}\nSTDOUT:\n{proc.stdout[-6000:]}\nSTDERR:\n{proc.stderr[-6000:]}"
        )
    return proc


def units(sweep_file: Path) -> dict[tuple[str, str], str]:
    """(model name, task) -> configuration hash."""
    config = load_sweep(sweep_file)
    return {(j.model.name, u.task): u.hash for j in plan_sweep(config, config.tasks) for u in j.units}  # no globs here


def folder_of(output: Path, hash_: str) -> dict:
    manifest = read_manifest(output, hash_)
    assert manifest is not None, f"unit {hash_} not done"
    return manifest


def metrics_of(output: Path, manifest: dict) -> tuple[dict, list]:
    """The task's metric values and its per-document samples (no dates, no timings)."""
    results = json.loads((output / manifest["results"]).read_text())
    samples_file = next(f for f in manifest["files"] if "/samples_" in f)
    samples = [json.loads(line) for line in (output / samples_file).read_text().splitlines()]
    keep = (
        "doc_id",
        "filter",
        "target",
        "resps",
        "filtered_resps",
        "exact_match",
        "token_edit_distance",
        "normalized_edit_distance",
    )
    return results["results"][manifest["task"]], [{k: s.get(k) for k in keep} for s in samples]


@pytest.fixture(scope="module")
def models(tiny_model, tmp_path_factory) -> dict[str, dict]:
    from lm_eval_mirage.zoo import build_tiny_model

    other = build_tiny_model(tmp_path_factory.mktemp("sweep-models") / "tiny-b", seed=1)
    return {
        "a": {"name": "tiny-a", "path": str(tiny_model), "params": 122816},
        "b": {"name": "tiny-b", "path": str(other), "params": 122816},
    }


# --- local executor ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local_run(models, tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep-local")
    sweep_file = write_sweep(root / "local.yaml", root / "out", [models["a"]], tasks=TASKS[:1])
    first = sweep(sweep_file, "--executor", "local", "--poll", "0.5", check_rc=0)
    return sweep_file, root / "out", first


def test_local_sweep_writes_the_harness_layout(local_run, models):
    sweep_file, out, first = local_run
    (hash_,) = units(sweep_file).values()
    manifest = folder_of(out, hash_)
    folder = out / manifest["folder"]
    assert manifest["folder"] == str(models["a"]["path"]).replace("/", "__")  # the harness's own folder name
    assert sorted(p.name.split("_2")[0] for p in folder.iterdir()) == ["results", "samples_mirage_arith_add_1d"]
    assert json.loads((out / "params.json").read_text()) == {
        manifest["folder"]: {
            "name": "tiny-a",
            "model": models["a"]["path"],
            "revision": None,
            "backend": "hf",
            "params": 122816,
        }
    }
    assert "1/1 tasks done" in first.stdout and f"--params={models['a']['path']}=122816" in first.stdout
    assert json.loads((out / ".sweep" / "state.json").read_text())["jobs"][manifest["folder"]]["executor"] == "local"


def test_local_rerun_submits_nothing_and_status_shows_done(local_run):
    sweep_file, out, _ = local_run
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and ".sweep" not in p.parts}
    again = sweep(sweep_file, "--executor", "local", check_rc=0)
    assert "submitted" not in again.stdout and "already done" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and ".sweep" not in p.parts} == before
    status = sweep("status", sweep_file, check_rc=0)
    assert "1/1 tasks done" in status.stdout and " done " in status.stdout


def test_dry_run_prints_jobs_and_scripts_and_writes_nothing(models, tmp_path):
    sweep_file = write_sweep(tmp_path / "dry.yaml", tmp_path / "out", [models["a"], models["b"]])
    proc = sweep(sweep_file, "--dry-run", "--executor", "local", check_rc=0)
    assert proc.stdout.count("----- job script") == 2 and proc.stdout.count("--tasks mirage_arith_sub_1d") == 2
    assert not (tmp_path / "out").exists()
    bad = sweep(
        write_sweep(tmp_path / "bad.yaml", tmp_path / "out", [models["a"]], tasks=["no_such_task_*"]), "--dry-run"
    )
    assert bad.returncode == 2 and "tasks: 'no_such_task_*' matches no task" in bad.stderr


def test_local_bad_model_path_fails_once_with_its_cause(tmp_path):
    # deterministic: the harness cannot load the model; retrying would fail the same way
    broken = {"name": "broken", "path": str(tmp_path / "no-such-model")}
    sweep_file = write_sweep(tmp_path / "bad.yaml", tmp_path / "out", [broken], tasks=TASKS[:1], retries=2)
    proc = sweep(sweep_file, "--executor", "local", "--poll", "0.5", check_rc=1)
    lines = proc.stdout.splitlines()
    assert not any(ln.startswith("retrying ") for ln in lines), proc.stdout
    i = next(i for i, ln in enumerate(lines) if ln.startswith("  ") and ln.split()[0].endswith("no-such-model"))
    assert (
        lines[i].split()[1:3] == ["0/1", "failed"] and lines[i].split()[-1] == "1"
    )  # one attempt of the three allowed
    cause = lines[i + 1].strip()
    assert "Error" in cause and "no-such-model" in cause and "job script" not in cause, proc.stdout
    assert lines[i + 2].strip().startswith("not retried: every missing task failed in the harness")
    status = sweep("status", sweep_file, check_rc=0)
    assert cause.split(" ", 1)[1] in status.stdout  # the cause is kept for `sweep status`


# --- real Slurm ----------------------------------------------------------------------------------------------------


def _wait_for(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while not predicate():
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(
                f"sweep exited {proc.returncode} before {what}\nSTDOUT:\n{out[-4000:]}\nSTDERR:\n{err[-4000:]}"
            )
        if time.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def cancelled_run(slurm_cluster, models, tmp_path_factory):
    """Two models x two tasks submitted to Slurm with --no-wait, then followed by a second sweep command;
    model a's job is scancelled once its first task is done."""
    root = tmp_path_factory.mktemp("sweep-slurm")
    out = root / "out"
    sweep_file = write_sweep(root / "family.yaml", out, [models["a"], models["b"]])
    hashes = units(sweep_file)
    submitted = sweep(sweep_file, "--executor", "slurm", "--no-wait", check_rc=0)
    proc = subprocess.Popen(
        [*LM_EVAL_MIRAGE, "sweep", str(sweep_file), "--executor", "slurm", "--poll", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(
            lambda: read_manifest(out, hashes[("tiny-a", TASKS[0])]) is not None, 600, "tiny-a's first task", proc
        )
        folder_a = read_manifest(out, hashes[("tiny-a", TASKS[0])])["folder"]
        job_a = json.loads((out / ".sweep" / "state.json").read_text())["jobs"][folder_a]["job_id"]
        subprocess.run(["scancel", job_a], check=True, timeout=60)
        stdout, stderr = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    return {
        "file": sweep_file,
        "out": out,
        "hashes": hashes,
        "rc": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
        "job_a": job_a,
        "submitted": submitted,
    }


@pytest.mark.slurm
def test_no_wait_submits_and_a_second_command_follows_the_same_jobs(cancelled_run):
    r = cancelled_run
    first, second = r["submitted"].stdout, r["stdout"]
    assert (
        sum(ln.startswith("submitted ") for ln in first.splitlines()) == 2
        and "follow with: lm-eval-mirage sweep status" in first
    )
    assert second.count("following it instead of submitting again") == 2
    assert not any(ln.startswith(("submitted ", "retrying ")) for ln in second.splitlines())


@pytest.mark.slurm
def test_cancelled_job_is_reported_and_the_other_finishes(cancelled_run):
    r = cancelled_run
    out, h = r["out"], r["hashes"]
    assert r["rc"] == 1, r["stdout"] + r["stderr"]
    done = {key: read_manifest(out, hash_) is not None for key, hash_ in h.items()}
    assert done == {
        ("tiny-a", TASKS[0]): True,
        ("tiny-a", TASKS[1]): False,
        ("tiny-b", TASKS[0]): True,
        ("tiny-b", TASKS[1]): True,
    }
    folder_a = read_manifest(out, h[("tiny-a", TASKS[0])])["folder"]
    row = next(ln.split() for ln in r["stdout"].splitlines() if ln.startswith("  ") and ln.split()[0] == folder_a)
    assert row[1:4] == ["1/2", "cancelled", r["job_a"]]
    logs = [ln.split("log: ", 1)[1] for ln in r["stdout"].splitlines() if "log: " in ln]
    assert logs and all(Path(p).is_file() for p in logs)
    # the cancelled task left nothing a reader of the folder could mistake for a result
    assert sorted(p.name.split("_2")[0] for p in (out / folder_a).iterdir()) == [
        "results",
        "samples_mirage_arith_add_1d",
    ]
    assert all(".sweep" not in p.relative_to(out).parts for p in out.rglob("results*.json"))
    status = sweep("status", r["file"], check_rc=0)
    assert "3/4 tasks done" in status.stdout and "cancelled" in status.stdout


@pytest.fixture(scope="module")
def resumed_run(cancelled_run, models):
    """The same sweep again, plus a model whose path does not exist."""
    r = cancelled_run
    out = r["out"]
    # the model folders (params.json legitimately gains the new model)
    before = {p: p.stat().st_mtime_ns for p in out.glob("*/*") if p.is_file() and ".sweep" not in p.parts}
    broken = {"name": "broken", "path": str(out.parent / "no-such-model")}
    sweep_file = write_sweep(r["file"].with_name("family-plus.yaml"), out, [models["a"], models["b"], broken])
    proc = sweep(sweep_file, "--executor", "slurm", "--poll", "1")
    return {**r, "file2": sweep_file, "before": before, "proc": proc}


@pytest.mark.slurm
def test_rerun_completes_only_the_missing_task(resumed_run):
    r = resumed_run
    out, h, proc = r["out"], r["hashes"], r["proc"]
    assert all(read_manifest(out, hash_) is not None for hash_ in h.values()), proc.stdout + proc.stderr
    # nothing finished before was run again or touched
    assert {p: p.stat().st_mtime_ns for p in r["before"]} == r["before"]
    after = {p for p in out.glob("*/*") if p.is_file() and ".sweep" not in p.parts}
    new = sorted(p.name.split("_2")[0] for p in after - set(r["before"]))
    assert new == ["results", "samples_mirage_arith_sub_1d"]
    folder_a, folder_b = (read_manifest(out, h[(m, TASKS[0])])["folder"] for m in ("tiny-a", "tiny-b"))
    assert f"submitted {folder_a} (1 task(s))" in proc.stdout
    assert folder_b not in " ".join(ln for ln in proc.stdout.splitlines() if ln.startswith("submitted "))
    assert "already done" in next(
        ln for ln in proc.stdout.splitlines() if ln.startswith("  ") and ln.split()[0] == folder_b
    )


@pytest.mark.slurm
def test_bad_model_is_not_retried_and_reported_with_its_cause_and_logs(resumed_run):
    proc = resumed_run["proc"]
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.startswith("  ") and ln.split()[0].endswith("no-such-model"))
    row = lines[i].split()
    assert row[1:3] == ["0/2", "failed"] and row[-1] == "1"  # a deterministic failure: not retried despite retries: 1
    assert not any(ln.startswith("retrying ") and "no-such-model" in ln for ln in lines)
    assert "Error" in lines[i + 1] and "no-such-model" in lines[i + 1] and "not retried" in lines[i + 2]
    logs = [ln.split("log: ", 1)[1] for ln in lines if "log: " in ln]
    assert logs and all(Path(p).is_file() for p in logs)
    err_log = next(Path(p) for p in logs if p.endswith(".err")).read_text()
    assert "no-such-model" in err_log and "FAILED, the harness exited" in err_log
    assert "4/6 tasks done; 1 job(s) failed" in proc.stdout  # tiny-a 2, tiny-b 2, broken 0


@pytest.mark.slurm
def test_local_executor_gives_the_same_results_as_slurm(resumed_run, local_run):
    _, local_out, _ = local_run
    (hash_,) = units(local_run[0]).values()
    assert hash_ == resumed_run["hashes"][("tiny-a", TASKS[0])]  # same unit, same configuration
    slurm_values = metrics_of(resumed_run["out"], folder_of(resumed_run["out"], hash_))
    local_values = metrics_of(local_out, folder_of(local_out, hash_))
    assert slurm_values == local_values and slurm_values[1]


@pytest.mark.slurm
def test_analyze_reads_the_sweep_folder(resumed_run, tmp_path):
    out = resumed_run["out"]
    proc = subprocess.run(
        [*LM_EVAL_MIRAGE, "analyze", str(out), "--out", str(tmp_path / "report"), "--no-plots", "--quiet"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 model(s), 2 task(s)" in proc.stdout
