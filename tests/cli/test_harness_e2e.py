"""The real harness command line, as a subprocess, on a tiny offline model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_mirage.tasks import tasks_path

GEN_METRICS = ("exact_match", "token_edit_distance", "normalized_edit_distance", "digit_accuracy")


def _only(pattern: str, folder: Path) -> Path:
    found = sorted(folder.rglob(pattern))
    assert len(found) == 1, f"expected one {pattern} under {folder}, found {found}"
    return found[0]


def _check_outputs(out: Path, limit: int) -> tuple[dict, list[dict]]:
    results = json.loads(_only("results_*.json", out).read_text())
    task = results["results"]["mirage_arith_add_2d"]
    for metric in GEN_METRICS:
        for filt in ("parsed", "raw"):
            assert isinstance(task[f"{metric},{filt}"], float), (metric, filt)
            assert f"{metric}_stderr,{filt}" in task
    assert results["higher_is_better"]["mirage_arith_add_2d"]["token_edit_distance"] is False
    assert results["configs"]["mirage_arith_add_2d"]["metadata"]["seed"] == 1234
    samples = [json.loads(line) for line in _only("samples_mirage_arith_add_2d_*.jsonl", out).read_text().splitlines()]
    assert len(samples) == 2 * limit  # one line per doc per filter
    for s in samples:
        assert s["doc"]["answer_digits"] in (2, 3)
        assert s["target"] == s["doc"]["answer"]
        for metric in GEN_METRICS:
            assert metric in s
        # Per-sample values agree with the pure functions on the logged output.
        from lm_eval_mirage.metrics import token_edit_distance

        assert s["token_edit_distance"] == token_edit_distance(s["target"], s["filtered_resps"][0])
    # Aggregates are the means of the per-sample values.
    parsed = [s for s in samples if s["filter"] == "parsed"]
    mean = sum(s["token_edit_distance"] for s in parsed) / len(parsed)
    assert task["token_edit_distance,parsed"] == pytest.approx(mean)
    return results, samples


@pytest.mark.slow
def test_plain_lm_eval_with_include_path(tiny_model, tmp_path, run_cli):
    limit = 6
    run_cli(
        [
            "lm_eval",
            "--include_path",
            tasks_path(),
            "--tasks",
            "mirage_arith_add_2d",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model}",
            "--limit",
            str(limit),
            "--log_samples",
            "--output_path",
            str(tmp_path / "out"),
        ]
    )
    results, samples = _check_outputs(tmp_path / "out", limit)
    # 2-shot by default, few-shot examples from the train split, GPT-3 prompt style.
    prompt = samples[0]["arguments"]["gen_args_0"]["arg_0"]
    assert prompt.count("Q: What is") == 3 and prompt.endswith("? A:")
    assert results["n-shot"]["mirage_arith_add_2d"] == 2


@pytest.mark.slow
def test_lm_eval_mirage_run_is_a_drop_in_with_metadata(tiny_model, tmp_path, run_cli):
    limit = 4
    run_cli(
        [
            "lm-eval-mirage",
            "run",
            "--tasks",
            "mirage_arith_add_2d",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model}",
            "--limit",
            str(limit),
            "--num_fewshot",
            "0",
            "--metadata",
            '{"num_problems": 20, "seed": 99}',
            "--log_samples",
            "--output_path",
            str(tmp_path / "out"),
        ]
    )
    results, samples = _check_outputs_loose(tmp_path / "out", limit)
    assert results["configs"]["mirage_arith_add_2d"]["metadata"]["seed"] == 99
    assert results["n-samples"]["mirage_arith_add_2d"]["original"] == 20
    prompt = samples[0]["arguments"]["gen_args_0"]["arg_0"]
    assert prompt.count("Q: What is") == 1


def _check_outputs_loose(out: Path, limit: int):
    results = json.loads(_only("results_*.json", out).read_text())
    samples = [json.loads(line) for line in _only("samples_*.jsonl", out).read_text().splitlines()]
    assert len(samples) == 2 * limit
    assert "token_edit_distance,parsed" in results["results"]["mirage_arith_add_2d"]
    return results, samples


@pytest.mark.slow
def test_bad_metadata_fails_with_a_named_error(tiny_model, tmp_path, run_cli):
    proc = run_cli(
        [
            "lm-eval-mirage",
            "run",
            "--tasks",
            "mirage_arith_add_2d",
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model}",
            "--limit",
            "2",
            "--metadata",
            '{"num_problems": 0}',
            "--output_path",
            str(tmp_path / "out"),
        ],
        check=False,
    )
    assert proc.returncode != 0
    assert "num_problems=0 must be an integer >= 1" in proc.stderr
    assert not list((tmp_path).rglob("results_*.json"))


@pytest.mark.slow
def test_ls_lists_the_plugin_tasks(run_cli):
    proc = run_cli(["lm-eval-mirage", "ls", "tags"])
    for tag in ("mirage_arith", "mirage_arith_add", "mirage_paper"):
        assert tag in proc.stdout


def test_tasks_path_prints_the_yaml_folder(run_cli):
    proc = run_cli(["lm-eval-mirage", "tasks-path"])
    assert Path(proc.stdout.strip()) == Path(tasks_path())
    assert (Path(proc.stdout.strip()) / "arith" / "mirage_arith_mul_10d.yaml").is_file()


def test_unknown_subcommand_exits_non_zero(run_main):
    proc = run_main(["lm-eval-mirage", "frobnicate"], check=False)
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr
