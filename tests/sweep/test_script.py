"""The job script: checked against a recorded copy (multi-GPU renderings included), valid bash, units subset."""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_mirage.sweep import load_sweep, plan_sweep, render_job_script
from lm_eval_mirage.sweep.script import format_command

DATA = Path(__file__).parent / "data"
RECORD = DATA / "multi_gpu_jobs.sh"
TASKS = ("mirage_arith_add_2d", "mirage_paper_mul_2d")


def render_all() -> str:
    config = load_sweep(DATA / "multi_gpu.yaml")
    jobs = plan_sweep(config, TASKS)
    return "".join(f"##### job {job.key}\n{render_job_script(config, job)}" for job in jobs)


def test_rendered_scripts_match_the_recorded_copy():
    text = render_all()
    if os.environ.get("MIRAGE_UPDATE_RECORDS") == "1":
        RECORD.write_text(text, encoding="utf-8")
    recorded = RECORD.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(recorded.splitlines(True), text.splitlines(True), "recorded", "rendered"))
    assert text == recorded, f"job scripts changed (MIRAGE_UPDATE_RECORDS=1 rewrites {RECORD} if intended):\n{diff}"


def test_recorded_copy_has_each_multi_gpu_rendering():
    text = RECORD.read_text(encoding="utf-8")
    blocks = dict(b.split("\n", 1) for b in text.split("##### job ")[1:])
    # revisions: one job each, revision= model argument, folder name with @revision
    assert (
        "pretrained=EleutherAI/pythia-410m,revision=step1000,dtype=float16"
        in blocks["EleutherAI__pythia-410m@step1000"]
    )
    assert "revision=step143000" in blocks["EleutherAI__pythia-410m@step143000"]
    # hf data parallel: accelerate launch with one process per GPU
    launch = "python -m accelerate.commands.launch --multi_gpu --num_processes 4 --num_machines 1 --mixed_precision no --dynamo_backend no -m lm_eval_mirage.cli.main run"
    assert f"-- \\\n    {launch} \\\n    --model hf" in blocks["EleutherAI__pythia-6.9b"]
    assert "accelerate" not in blocks["EleutherAI__pythia-12b"]
    # hf sharding: parallelize=True
    assert "pretrained=EleutherAI/pythia-12b,parallelize=True" in blocks["EleutherAI__pythia-12b"]
    # vLLM: tensor and data parallel as model arguments, no accelerate
    vllm = blocks["__models__llama-70b"]
    assert "--model vllm" in vllm and "tensor_parallel_size=4,data_parallel_size=2" in vllm and "accelerate" not in vllm
    # local-completions: model= instead of pretrained=, extra arguments appended
    served = blocks["my-served-model"]
    assert "model=my-served-model,base_url=http://127.0.0.1:8000/v1/completions,num_concurrent=4" in served
    assert served.rstrip().splitlines()[-2].endswith("--seed 1234 || status=1")
    # setup and environment come first, in every job
    assert all(
        b.index("module load cuda/12.1") < b.index("export HF_HOME=/scratch/hf") < b.index("status=0")
        for b in blocks.values()
    )


def test_scripts_are_valid_bash(tmp_path):
    path = tmp_path / "jobs.sh"
    path.write_text(render_all())
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_only_the_given_units_are_rendered():
    config = load_sweep(DATA / "multi_gpu.yaml")
    job = plan_sweep(config, TASKS)[0]
    text = render_job_script(config, job, job.units[1:])
    assert "--tasks mirage_paper_mul_2d" in text and "mirage_arith_add_2d" not in text
    assert "# 1 task(s)" in text


def test_format_command_quotes_and_breaks_at_long_options():
    text = format_command(
        ["py", "-m", "step"], ["py", "-m", "mod", "run", "--model_args", "a=b c", "--log_samples", "--x", "1"]
    )
    assert (
        text == "py -m step -- \\\n    py -m mod run \\\n    --model_args 'a=b c' \\\n    --log_samples \\\n    --x 1"
    )


@pytest.mark.parametrize("word", ["$(touch /tmp/pwned)", "a;b", "it's"])
def test_values_are_shell_quoted(tmp_path, word):
    # a value from the sweep file reaches bash as one word, never as code
    script = tmp_path / "s.sh"
    script.write_text(format_command(["printf", "%s\\n"], [word]).replace(" -- \\\n   ", ""))
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [word]


# --- hostile values, validation bypassed: the renderer alone must keep them data ---------------------------------

EVIL = [
    "a\ntouch pwned_newline",
    "b'; touch pwned_quote; '",
    "$(touch pwned_subst)",
    "`touch pwned_backtick`",
    "c; touch pwned_semi",
    "d\u2028touch pwned_ls",
    "e\u2029f\u0085g",
    "h\rtouch pwned_cr",
    '"; touch pwned_dq; "',
    "i && touch pwned_and",
    "j\\",
    "--k \\\n touch pwned_cont",
]


def evil_job(tmp_path: Path, evil: str):
    """A sweep whose every value is ``evil``, built without the validator, run by a stub ``python`` that logs its argv."""
    from lm_eval_mirage.sweep.config import HarnessOptions, ModelSpec, SweepConfig

    log = tmp_path / "calls.jsonl"
    stub = tmp_path / "stub-python"
    stub.write_text(
        f"#!{sys.executable}\nimport json, os, sys\n"
        f"open({str(log)!r}, 'a').write(json.dumps({{'argv': sys.argv[1:], 'env': os.environ.get('EVIL')}}) + '\\n')\n"
    )
    stub.chmod(0o755)
    model = ModelSpec(
        name=evil,
        path=f"/models/{evil}",
        model_args=(("dtype", evil),),
        revisions=(evil,),
        harness=HarnessOptions(device=evil, gen_kwargs=evil, extra_args=("--evil", evil)),
    )
    config = SweepConfig(
        name=evil,
        output=tmp_path / "out" / evil,
        tasks=(evil,),
        models=(model,),
        include_path=tmp_path / evil,
        env=(("EVIL", evil),),
        python=str(stub),
    )
    (job,) = plan_sweep(config, [evil, f"second {evil}"])
    return config, job, log


@pytest.mark.parametrize("evil", EVIL, ids=[repr(e)[:24] for e in EVIL])
def test_hostile_values_stay_data_in_comments_and_commands(tmp_path, evil):
    from lm_eval_mirage.sweep.script import step_command

    config, job, log = evil_job(tmp_path, evil)
    script = tmp_path / "job.sh"
    script.write_text(render_job_script(config, job))
    subprocess.run(["bash", "-n", str(script)], check=True)
    work = tmp_path / "cwd"
    work.mkdir()
    before = {p for p in tmp_path.rglob("*")}
    proc = subprocess.run(["bash", str(script)], cwd=work, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # the only effect: the intended commands ran, each once, with every value as one argument, unchanged
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c["argv"] for c in calls] == [step_command(config, job, u)[1:] for u in job.units]
    assert all(c["env"] == evil for c in calls)
    assert {p for p in tmp_path.rglob("*")} - before == {log}
    assert not list(work.iterdir()) and not list(tmp_path.rglob("pwned*"))


def test_comments_cannot_be_ended_by_a_value(tmp_path):
    config, job, _ = evil_job(tmp_path, "x\ny\u2028z\rw")
    header = render_job_script(config, job).split("set -eu")[0].rstrip("\n").split("\n")  # bash ends lines at \n only
    assert len(header) == 5 and all(line.startswith("#") for line in header) and "x\\ny\\u2028z\\rw" in header[2]


def test_an_environment_name_that_is_not_an_identifier_is_refused(tmp_path):
    import dataclasses

    config, job, _ = evil_job(tmp_path, "v")
    with pytest.raises(ValueError, match="not an environment variable name"):
        render_job_script(dataclasses.replace(config, env=(("A=1; touch x; B", "v"),)), job)
