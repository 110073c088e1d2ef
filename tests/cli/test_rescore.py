"""``lm-eval-mirage rescore`` end to end: a run logged by the plain ``lm_eval`` command on a tiny offline model,
re-scored by the real command, compared with the same metrics computed online in the same run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_mirage.tasks import tasks_path

LIMIT = 8

# Two twins per output type: "_plain" logs only the harness's usual metrics (what a user already has);
# the other computes the added metrics online in the same run, on the same docs and prompts.
_GEN = """\
task: {name}
dataset_path: json
dataset_kwargs: {{data_files: {{test: {data}/gen.jsonl}}}}
test_split: test
output_type: generate_until
doc_to_text: "Q: What is {{{{a}}}} plus {{{{b}}}}? A:"
doc_to_target: "{{{{answer}}}}"
generation_kwargs: {{until: ["\\n"], do_sample: false, max_gen_toks: 6}}
filter_list:
  - name: parsed
    filter: [{{function: regex, regex_pattern: "(-?\\\\d+)", group_select: 0, fallback: ""}}, {{function: take_first}}]
  - name: raw
    filter: [{{function: take_first}}]
metric_list:
  - metric: exact_match
{extra}metadata: {{version: 1}}
"""
_GEN_EXTRA = "".join(
    f"  - metric: !function lm_eval_mirage.metrics.harness.{m}\n    aggregation: mean\n    higher_is_better: {hib}\n"
    for m, hib in (("token_edit_distance", "false"), ("normalized_edit_distance", "false"), ("digit_accuracy", "true"))
)
_MC = """\
task: {name}
dataset_path: json
dataset_kwargs: {{data_files: {{test: {data}/mc.jsonl}}}}
test_split: test
output_type: multiple_choice
doc_to_text: "Q: {{{{question}}}} A:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - metric: acc
{extra}metadata: {{version: 1}}
"""
_LL = """\
include: {template}
task: rs_arith_ll
dataset_kwargs: {{operation: add, digits: 2, mode: exact}}
"""


def _write_tasks(folder: Path) -> Path:
    data = folder / "data"
    data.mkdir(parents=True)
    with open(data / "gen.jsonl", "w") as fh:
        for i in range(12):
            a, b = 13 + 7 * i, 40 + 5 * i
            fh.write(json.dumps({"a": a, "b": b, "answer": str(a + b)}) + "\n")
    with open(data / "mc.jsonl", "w") as fh:
        for i in range(12):
            choices = [str(10 + (i * 7 + j * 13) % 90) for j in range(4)]
            fh.write(json.dumps({"question": f"Pick {i}", "choices": choices, "label": i % 4}) + "\n")
    tasks = folder / "tasks"
    tasks.mkdir()
    (tasks / "gen_plain.yaml").write_text(_GEN.format(name="rs_gen_plain", data=data, extra=""))
    (tasks / "gen_online.yaml").write_text(_GEN.format(name="rs_gen_online", data=data, extra=_GEN_EXTRA))
    (tasks / "mc_plain.yaml").write_text(_MC.format(name="rs_mc_plain", data=data, extra=""))
    (tasks / "mc_online.yaml").write_text(_MC.format(name="rs_mc_online", data=data, extra="  - metric: brier_score\n"))
    (tasks / "arith_ll.yaml").write_text(_LL.format(template=Path(tasks_path()) / "arith" / "_arith_ll_yaml"))
    return tasks


@pytest.fixture(scope="module")
def logged_run(tiny_model, tmp_path_factory) -> Path:
    """One plain ``lm_eval --log_samples`` run of all twins; returns its --output_path."""
    root = tmp_path_factory.mktemp("rescore_e2e")
    tasks = _write_tasks(root)
    out = root / "out"
    cmd = [
        str(Path(sys.executable).parent / "lm_eval"),
        "run",
        "--include_path",
        str(tasks),
        "--tasks",
        "rs_gen_plain,rs_gen_online,rs_mc_plain,rs_mc_online,rs_arith_ll",
        "--model",
        "hf",
        "--model_args",
        f"pretrained={tiny_model}",
        "--limit",
        str(LIMIT),
        "--log_samples",
        "--output_path",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=os.environ.copy())
    assert proc.returncode == 0, f"lm_eval exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    return out


def _results(folder: Path, rescored: bool) -> dict:
    pattern = "results_*.rescored.json" if rescored else "results_*[0-9].json"
    (path,) = sorted(folder.rglob(pattern))
    return json.loads(path.read_text())


@pytest.mark.slow
def test_rescore_adds_the_metrics_with_the_online_values(logged_run, tmp_path, run_cli):
    run = tmp_path / "run"
    shutil.copytree(logged_run, run)
    proc = run_cli(["lm-eval-mirage", "rescore", str(run)])
    assert proc.returncode == 0
    # the printed table shows the added metrics next to the original ones
    for name in (
        "exact_match",
        "token_edit_distance",
        "acc",
        "brier_score",
        "correct_choice_prob",
        "ece",
        "target_logprob",
    ):
        assert f"|{name}" in proc.stdout.replace(" ", "")
    online, new = _results(run, False), _results(run, True)
    res = new["results"]
    # generation: the plain task re-scored == its twin computed online, every value and stderr, bit for bit
    for metric in ("token_edit_distance", "normalized_edit_distance", "digit_accuracy"):
        for f in ("parsed", "raw"):
            for key in (f"{metric},{f}", f"{metric}_stderr,{f}"):
                assert res["rs_gen_plain"][key] == online["results"]["rs_gen_online"][key], key
                assert res["rs_gen_online"][key] == online["results"]["rs_gen_online"][key], key
    assert res["rs_gen_plain"]["exact_match,parsed"] == online["results"]["rs_gen_plain"]["exact_match,parsed"]
    # multiple choice: the harness's built-in brier_score, bit for bit
    assert res["rs_mc_plain"]["brier_score,none"] == online["results"]["rs_mc_online"]["brier_score,none"]
    assert (
        f"{res['rs_mc_plain']['brier_score,none']:.4f}"
        == f"{online['results']['rs_mc_online']['brier_score,none']:.4f}"
    )
    assert res["rs_mc_plain"]["acc,none"] == online["results"]["rs_mc_plain"]["acc,none"]
    for metric in ("binary_brier_score", "correct_choice_prob", "correct_choice_logprob", "ece"):
        assert isinstance(res["rs_mc_plain"][f"{metric},none"], float)
    # loglikelihood: the plugin's likelihood task computed these online (stock hf: token counts, no token_logprobs)
    for key, value in online["results"]["rs_arith_ll"].items():
        if key.split(",")[0].removesuffix("_stderr") in (
            "target_logprob",
            "target_prob",
            "greedy_exact_match",
            "per_token_logprob",
            "per_token_prob",
            "target_tokens",
        ):
            assert res["rs_arith_ll"][key] == value, key
    assert "token_logprobs" in new["rescore"]["unavailable"]["rs_arith_ll"]
    assert "unavailable: rs_arith_ll token_logprobs" in proc.stdout


@pytest.mark.slow
def test_a_corrupted_samples_file_is_reported_not_fatal(logged_run, tmp_path, run_cli):
    run = tmp_path / "run"
    shutil.copytree(logged_run, run)
    (samples,) = run.rglob("samples_rs_mc_plain_*.jsonl")
    text = samples.read_text().splitlines(keepends=True)
    text[2] = "{not json}\n"
    samples.write_text("".join(text[:-1]) + text[-1][: len(text[-1]) // 2])  # and a job killed mid-line
    before = samples.read_bytes()
    proc = run_cli(
        ["lm-eval-mirage", "rescore", str(run), "--metrics", "brier_score", "--out", str(tmp_path / "out")], check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert f"{samples}:3: malformed JSON" in proc.stderr
    assert f"{samples}:{LIMIT}: truncated JSON" in proc.stderr
    assert samples.read_bytes() == before
    new = _results(tmp_path / "out", True)
    assert new["rescore"]["skipped"] == 2 and new["rescore"]["counts"]["rs_mc_plain"]["scored"] == {"none": LIMIT - 2}
    assert isinstance(new["results"]["rs_mc_plain"]["brier_score,none"], float)
    assert "token_edit_distance,parsed" not in new["results"]["rs_gen_plain"]
    assert not list(run.rglob("*.rescored.json"))  # --out: nothing beside the originals


def test_usage_errors_exit_2(tmp_path, run_main):
    proc = run_main(["lm-eval-mirage", "rescore", str(tmp_path / "missing")], check=False)
    assert proc.returncode == 2 and "neither a results file nor a folder" in proc.stderr
    proc = run_main(["lm-eval-mirage", "rescore", str(tmp_path), "--metrics", "accuracy"], check=False)
    assert proc.returncode == 2 and "unknown metric(s) ['accuracy']" in proc.stderr


@pytest.mark.slow
def test_bad_values_in_a_real_run_cost_only_their_lines(logged_run, tmp_path, run_cli):
    """Issue 14 on a real ``lm_eval --log_samples`` run: a JSON true and a NaN as log-likelihoods, a 5000-digit
    doc_id, 200k nested brackets; each costs its line, named as file:line, and everything else is written."""
    run = tmp_path / "run"
    shutil.copytree(logged_run, run)
    (mc,) = run.rglob("samples_rs_mc_plain_*.jsonl")
    (gen,) = run.rglob("samples_rs_gen_plain_*.jsonl")
    mc_lines = [json.loads(x) for x in mc.read_text().splitlines()]
    mc_lines[0]["filtered_resps"][0][0] = True
    mc_lines[1]["filtered_resps"][1][0] = float("nan")
    mc.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in mc_lines))
    gen_lines = gen.read_text().splitlines(keepends=True)
    gen_lines[0] = gen_lines[0].replace('{"doc_id": 0,', '{"doc_id": ' + "9" * 5000 + ",", 1)
    gen_lines[1] = gen_lines[1].replace('"doc": {', '"doc": {"x": ' + "[" * 200_000 + "]" * 200_000 + ", ", 1)
    gen.write_text("".join(gen_lines))
    proc = run_cli(["lm-eval-mirage", "rescore", str(run), "--quiet"], check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert f"{mc}:1: filtered_resps[0][0] must be a log-likelihood (a number <= 0), got True" in proc.stderr
    assert f"{mc}:2: filtered_resps[1][0] must be a log-likelihood (a number <= 0), got nan" in proc.stderr
    assert f"{gen}:1: unreadable JSON (Exceeds the limit (4300 digits)" in proc.stderr
    assert f"{gen}:2: JSON nested deeper than the reader allows" in proc.stderr
    new = _results(run, True)
    counts = new["rescore"]["counts"]
    assert counts["rs_mc_plain"]["scored"] == {"none": LIMIT - 2} and counts["rs_mc_online"]["skipped"] == 0
    assert sum(counts["rs_gen_plain"]["scored"].values()) == 2 * LIMIT - 2  # the two lines are of one filter or two
    assert new["rescore"]["skipped"] == 4 and new["rescore"]["skipped_by_file"] == {mc.name: 2, gen.name: 2}
    assert isinstance(new["results"]["rs_mc_plain"]["correct_choice_logprob,none"], float)
    assert isinstance(new["results"]["rs_arith_ll"]["target_logprob,none"], float)
