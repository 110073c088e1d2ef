"""The job script: checked against a recorded copy (multi-GPU renderings included), valid bash, units subset."""

from __future__ import annotations

import difflib
import os
import subprocess
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
    assert "pretrained=EleutherAI/pythia-410m,revision=step1000,dtype=float16" in blocks["EleutherAI__pythia-410m@step1000"]
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
    assert all(b.index("module load cuda/12.1") < b.index("export HF_HOME=/scratch/hf") < b.index("status=0") for b in blocks.values())


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
    text = format_command(["py", "-m", "step"], ["py", "-m", "mod", "run", "--model_args", "a=b c", "--log_samples", "--x", "1"])
    assert text == "py -m step -- \\\n    py -m mod run \\\n    --model_args 'a=b c' \\\n    --log_samples \\\n    --x 1"


@pytest.mark.parametrize("word", ["$(touch /tmp/pwned)", "a;b", "it's"])
def test_values_are_shell_quoted(tmp_path, word):
    # a value from the sweep file reaches bash as one word, never as code
    script = tmp_path / "s.sh"
    script.write_text(format_command(["printf", "%s\\n"], [word]).replace(" -- \\\n   ", ""))
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [word]
