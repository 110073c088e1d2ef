"""The driver's own logic without a scheduler: resource mapping, retry decisions, summary and status, the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from lm_eval_mirage.cli.main import main
from lm_eval_mirage.sweep.config import Resources, parse_sweep
from lm_eval_mirage.sweep.execute import DEFAULT_TIME_MIN, _Runner, _Tracked, executor_parameters
from lm_eval_mirage.sweep.plan import plan_sweep
from lm_eval_mirage.sweep.scheduler import slurm_states
from lm_eval_mirage.sweep.status import sweep_status
from lm_eval_mirage.sweep.store import atomic_write_json
from lm_eval_mirage.sweep.summary import JobRecord, SweepSummary, analyze_command


def test_resources_map_to_submitit_names():
    r = Resources(
        gpus=4,
        cpus=16,
        mem_gb=128,
        time_min=90,
        partition="gpu",
        account="lab",
        array_parallelism=8,
        slurm=(("constraint", "a100"), ("qos", "high")),
    )
    assert executor_parameters(r, name="sweep-x", cluster="slurm") == {
        "name": "sweep-x",
        "timeout_min": 90,
        "nodes": 1,
        "tasks_per_node": 1,
        "gpus_per_node": 4,
        "cpus_per_task": 16,
        "mem_gb": 128,
        "slurm_partition": "gpu",
        "slurm_account": "lab",
        "slurm_array_parallelism": 8,
        "slurm_additional_parameters": {"constraint": "a100", "qos": "high"},
    }
    # locally: no Slurm-only keys; no GPU request at all when none is asked (a 0 would still be sent to sbatch)
    assert executor_parameters(Resources(partition="gpu"), name="n", cluster="local") == {
        "name": "n",
        "timeout_min": DEFAULT_TIME_MIN,
        "nodes": 1,
        "tasks_per_node": 1,
    }


ALL_RESOURCES = Resources(
    gpus=1, cpus=2, mem_gb=4, time_min=5, partition="p", account="a", array_parallelism=2, slurm=(("qos", "q"),)
)


@pytest.mark.parametrize("cluster", ["local", pytest.param("slurm", marks=pytest.mark.slurm)])
def test_parameters_are_accepted_by_submitit(tmp_path, cluster):
    # submitit's Slurm executor refuses to start without srun: that half is marked slurm (skipped without it)
    import submitit

    ex = submitit.AutoExecutor(folder=tmp_path / cluster, cluster=cluster)
    ex.update_parameters(**executor_parameters(ALL_RESOURCES, name="n", cluster=cluster))


CONFIG = {"output": "OUT", "tasks": ["t1", "t2"], "retries": 1, "models": [{"name": "a", "path": "org/a"}]}


def runner(tmp_path, **changes):
    config = parse_sweep(
        {**CONFIG, "output": str(tmp_path / "out"), **changes}, base_dir=tmp_path, source=tmp_path / "s.yaml"
    )
    jobs = plan_sweep(config, config.tasks)
    messages: list[str] = []
    return _Runner(config, jobs, cluster="local", wait=True, poll_s=0, echo=messages.append), jobs, messages


def finish(r, job, state, attempt, tmp_path):
    handle = SimpleNamespace(job_id="7", paths=SimpleNamespace(result_pickle=tmp_path / "no.pkl"))
    t = _Tracked(job, handle, attempt, "local")
    t.state = state
    r.tracked[job.key] = t
    r.records[job.key].job_id = "7"
    return r._finish(t)


def mark_done(tmp_path, unit, folder):
    (tmp_path / "out" / folder).mkdir(parents=True, exist_ok=True)
    (tmp_path / "out" / folder / f"results_{unit.hash}.json").write_text("{}")
    atomic_write_json(
        tmp_path / "out" / ".sweep" / "done" / f"{unit.hash}.json",
        {
            "hash": unit.hash,
            "task": unit.task,
            "folder": folder,
            "files": [f"{folder}/results_{unit.hash}.json"],
            "results": f"{folder}/results_{unit.hash}.json",
        },
    )


def test_failed_job_is_retried_until_retries_run_out(tmp_path):
    r, (job,), messages = runner(tmp_path)
    assert finish(r, job, "FAILED", 1, tmp_path) == (job, 2)
    assert finish(r, job, "FAILED", 2, tmp_path) is None
    assert r.records[job.key].result == "failed" and "0/2 tasks done" in messages[-1]


def test_cancelled_job_is_not_retried(tmp_path):
    r, (job,), _ = runner(tmp_path, retries=3)
    assert finish(r, job, "CANCELLED", 1, tmp_path) is None
    assert r.records[job.key].result == "cancelled"


def test_success_is_judged_by_the_manifests_not_the_exit_state(tmp_path):
    r, (job,), _ = runner(tmp_path)
    mark_done(tmp_path, job.units[0], job.key)
    assert finish(r, job, "COMPLETED", 1, tmp_path) == (job, 2)  # exited fine, but a task is missing
    assert r.records[job.key].done == 1
    mark_done(tmp_path, job.units[1], job.key)
    assert finish(r, job, "FAILED", 2, tmp_path) is None and r.records[job.key].result == "done"


def test_summary_lists_failures_with_logs_and_the_analyze_command(tmp_path):
    ok = JobRecord("m1", "m1", 2, done=2, result="done", job_id="1_0", attempts=1)
    bad = JobRecord(
        "m2",
        "m2",
        2,
        done=0,
        result="failed",
        job_id="1_1",
        attempts=2,
        state="FAILED",
        stdout="/l/1_1.out",
        stderr="/l/1_1.err",
        error="RuntimeError: job script exited 1",
    )
    text = SweepSummary("s", Path("/o"), [ok, bad], "lm-eval-mirage analyze /o").format()
    assert "2/4 tasks done; 1 job(s) failed" in text and "log: /l/1_1.err" in text and "log: /l/1_1.out" in text
    assert "RuntimeError: job script exited 1" in text and "analyze" not in text  # no report offered while incomplete
    assert (
        SweepSummary("s", Path("/o"), [ok], "lm-eval-mirage analyze /o")
        .format()
        .endswith("analyze: lm-eval-mirage analyze /o")
    )


def test_analyze_command_passes_the_parameter_counts_once_per_model(tmp_path):
    config = parse_sweep(
        {**CONFIG, "models": [{"name": "a", "path": "org/a", "params": 10, "revisions": ["s1", "s2"]}, {"name": "b"}]},
        base_dir=tmp_path,
    )
    assert analyze_command(Path("/o p"), plan_sweep(config, ["t"])) == "lm-eval-mirage analyze '/o p' --params=org/a=10"


def test_status_combines_manifests_and_the_recorded_jobs(tmp_path):
    r, (job,), _ = runner(tmp_path)
    mark_done(tmp_path, job.units[0], job.key)
    log = str(tmp_path / "out" / ".sweep" / "logs" / "41" / "41_0_log.err")
    atomic_write_json(
        tmp_path / "out" / ".sweep" / "state.json",
        {
            "jobs": {
                job.key: {
                    "job_id": "41",
                    "attempts": 2,
                    "result": "failed",
                    "state": "FAILED",
                    "stderr": log,
                    "executor": "local",
                }
            }
        },
    )
    (rec,) = sweep_status(r.config, r.jobs).records
    assert (rec.done, rec.total, rec.result, rec.job_id, rec.attempts, rec.stderr) == (1, 2, "failed", "41", 2, log)


def write_file(tmp_path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({**CONFIG, "output": "out", "tasks": ["mirage_arith_add_1d"]}))
    return path


@pytest.mark.parametrize("argv", [["status", "{f}"], ["{f}", "--status"]])
def test_cli_status_forms(tmp_path, capsys, argv):
    f = write_file(tmp_path)
    assert main(["sweep", *(a.format(f=f) for a in argv)]) == 0
    out = capsys.readouterr().out
    assert "0/1 tasks done" in out and "not submitted" in out


def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys):
    f = write_file(tmp_path)
    assert main(["sweep", str(f), str(f)]) == 2
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "expected one sweep file" in err and "missing.yaml' does not exist" in err


def fake_tools(tmp_path, monkeypatch, sacct: str | None, squeue: str) -> None:
    """``sacct``/``squeue`` stand-ins on PATH printing fixed tables (``sacct=None``: accounting is off)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("sacct", sacct), ("squeue", squeue)):
        body = (
            f"printf '%s' '{text}'"
            if text is not None
            else "echo 'sacct: error: Slurm accounting storage is disabled' >&2; exit 1"
        )
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


def test_slurm_states_prefers_the_controller_and_drops_unknown_ids(tmp_path, monkeypatch):
    # 7_0 was cancelled while pending: accounting never saw it; 6 started after accounting's last word
    fake_tools(
        tmp_path,
        monkeypatch,
        sacct="5_0|COMPLETED\n5_1|CANCELLED by 0\n6|PENDING\n9|FAILED\n",
        squeue="5_1|CANCELLED\n6|RUNNING\n7_0|CANCELLED\n",
    )
    assert slurm_states(["5_0", "5_1", "6", "7_0", "8"]) == {
        "5_0": "COMPLETED",
        "5_1": "CANCELLED",
        "6": "RUNNING",
        "7_0": "CANCELLED",
    }


def test_slurm_states_without_accounting(tmp_path, monkeypatch):
    fake_tools(tmp_path, monkeypatch, sacct=None, squeue="3|PENDING\n")
    assert slurm_states(["3", "4"]) == {"3": "PENDING"}
    assert slurm_states([]) == {}


def failed_log(tmp_path, job, transient: bool = False, folder: str = "out/.sweep/logs/7") -> str:
    """The recorded log of a job whose model path does not exist, renamed to this job's folder and tasks."""
    text = (Path(__file__).parent / "data" / "failed_job.err").read_text(encoding="utf-8")
    text = (
        text.replace("__tmp__h3fail__no-such-model", job.key)
        .replace("mirage_arith_add_1d", "t1")
        .replace("mirage_arith_sub_1d", "t2")
    )
    if transient:
        text = text.replace("OSError: Repo id", "torch.OutOfMemoryError: CUDA out of memory. Repo id")
    path = tmp_path / folder / "job.err"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_deterministic_failure_is_not_retried_and_its_cause_is_shown(tmp_path):
    r, (job,), messages = runner(tmp_path, retries=3)
    r.records[job.key].stderr = failed_log(tmp_path, job)
    assert finish(r, job, "FINISHED", 1, tmp_path) is None
    rec = r.records[job.key]
    assert (
        rec.result == "failed"
        and rec.error.startswith("OSError: Repo id must be in the form")
        and rec.note.startswith("not retried")
    )
    assert any("tasks done: OSError: Repo id" in m for m in messages)
    text = SweepSummary("s", tmp_path, [rec]).format()
    assert "      OSError: Repo id must be in the form" in text and "not retried: every missing task failed" in text


def test_a_transient_failure_is_retried_with_its_cause_shown(tmp_path):
    r, (job,), _ = runner(tmp_path, retries=3)
    r.records[job.key].stderr = failed_log(tmp_path, job, transient=True)
    assert finish(r, job, "FINISHED", 1, tmp_path) == (job, 2)
    assert (
        r.records[job.key].error.startswith("torch.OutOfMemoryError: CUDA out of memory")
        and r.records[job.key].note is None
    )


def test_status_reads_the_cause_of_a_job_that_failed_after_the_sweep_command_left(tmp_path):
    r, (job,), _ = runner(tmp_path)
    for log, read in (
        (failed_log(tmp_path, job, folder="out/.sweep/logs/41"), True),
        (failed_log(tmp_path, job, folder="elsewhere"), False),
    ):  # a log path in state.json is data: never read outside the logs
        atomic_write_json(
            tmp_path / "out" / ".sweep" / "state.json",
            {
                "jobs": {
                    job.key: {
                        "job_id": "41",
                        "attempts": 1,
                        "result": "failed",
                        "state": "FAILED",
                        "stderr": log,
                        "executor": "local",
                    }
                }
            },
        )
        (rec,) = sweep_status(r.config, r.jobs).records
        assert (rec.error or "").startswith("OSError: Repo id must be in the form") == read


def test_the_interpreter_reaches_submitits_script_as_one_quoted_word(tmp_path):
    import shlex

    import submitit

    from lm_eval_mirage.sweep.execute import submitit_python

    config = parse_sweep({**CONFIG, "python": "/opt/my env/py; touch pwned"}, base_dir=tmp_path)
    ex = submitit.AutoExecutor(folder=tmp_path / "logs", cluster="local", local_python=submitit_python(config))
    assert shlex.split(ex._executor._submitit_command_str)[0] == "/opt/my env/py; touch pwned"


def test_a_job_folder_that_climbs_out_gets_no_job_script(tmp_path):
    import dataclasses

    r, (job,), _ = runner(tmp_path)
    with pytest.raises(RuntimeError, match="not a plain folder inside"):
        r._script(dataclasses.replace(job, key="../../escaped"), job.units)
    assert not list(tmp_path.rglob("*.sh"))


def test_job_script_stops_its_tasks_on_sigterm_even_under_submitit(tmp_path):
    """scancel sends SIGTERM; submitit's job process bypasses it. JobScript must forward it to the script so
    the next task never starts (before: it ran on until Slurm's KillWait and could commit after the cancel)."""
    import signal
    import subprocess
    import sys
    import time

    started, second = tmp_path / "started", tmp_path / "second-task-ran"
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/bash\nset -eu\ntouch {started}\nsleep 30 || true\ntouch {second}\n")
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda *a: print('bypassing SIGTERM', flush=True))  # as submitit does\n"
        "from lm_eval_mirage.sweep.execute import JobScript\n"
        f"try:\n    JobScript({str(script)!r})()\nexcept RuntimeError as exc:\n    print(exc)\n    sys.exit(3)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), proc.communicate(timeout=30)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - t0 < 10, "the job did not stop promptly"
    assert proc.returncode == 3, out + err
    assert "stopped by SIGTERM (cancelled)" in out
    time.sleep(0.5)
    assert not second.exists()  # the script did not go on to its next step
