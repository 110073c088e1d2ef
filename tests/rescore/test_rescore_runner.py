"""lm_eval_mirage.rescore.runner on runs written by the harness's own writer (no model needed)."""

from __future__ import annotations

import hashlib
import json
import statistics
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from lm_eval_mirage.metrics import harness as adapters
from lm_eval_mirage.metrics.choice import brier_score
from lm_eval_mirage.rescore import RESCORED_SUFFIX, find_results_files, rescore


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_a_tree_is_rescored_next_to_the_originals_which_stay_untouched(layout, tmp_path):
    from lm_eval.api.metrics import mean, mean_stderr
    from lm_eval.utils import get_latest_filename, make_table

    originals = [layout.make_run(tmp_path / "runs", "m1"), layout.make_run(tmp_path / "runs", "m2")]
    before = {f: digest(f.parent) for f in originals}
    report = rescore(tmp_path / "runs")
    assert report.exit_status == 0 and report.skipped == 0
    assert [r.results_file for r in report.runs] == sorted(originals)
    for run in report.runs:
        folder = run.results_file.parent
        assert run.output_file == folder / (run.results_file.stem + RESCORED_SUFFIX + ".json")
        after = digest(folder)
        assert {k: v for k, v in after.items() if k in before[run.results_file]} == before[run.results_file]
        assert set(after) - set(before[run.results_file]) == {run.output_file.name}  # no temporary files left
        assert run.output_file.stat().st_mode & 0o777 == run.results_file.stat().st_mode & 0o777
        new = json.loads(run.output_file.read_text())
        old = json.loads(run.results_file.read_text())
        for key in ("configs", "versions", "n-shot", "n-samples", "config", "task_hashes", "model_name"):
            assert new[key] == old[key]
        res = new["results"]
        # original values kept, new ones added
        assert res["t_gen"]["exact_match,parsed"] == 0.5 and res["t_mc"]["acc,none"] == 0.5
        for f in ("parsed", "raw"):
            outs = [o.split(" ")[0] if f == "parsed" else o for o in layout.OUTPUTS]
            ted = [adapters.token_edit_distance(references=[t], predictions=[o]) for t, o in zip(layout.TARGETS, outs)]
            assert res["t_gen"][f"token_edit_distance,{f}"] == mean(ted)
            assert res["t_gen"][f"token_edit_distance_stderr,{f}"] == mean_stderr(ted)
        bs = [brier_score(g, lls) for g, lls in zip(layout.MC_GOLD, layout.MC_LLS)]
        assert res["t_mc"]["brier_score,none"] == pytest.approx(statistics.fmean(bs), abs=1e-15)
        assert res["t_mc"]["ece_stderr,none"] == "N/A"
        assert new["higher_is_better"]["t_mc"]["brier_score"] is False
        assert new["higher_is_better"]["t_gen"]["digit_accuracy"] is True
        assert new["rescore"]["source_results"] == run.results_file.name and new["rescore"]["skipped"] == 0
        assert new["rescore"]["counts"]["t_gen"]["scored"] == {"parsed": 6, "raw": 6}
        # any tool that reads harness results reads it; the harness's own "latest" picks it
        table = make_table(new)
        assert "token_edit_distance" in table and "brier_score" in table and "acc" in table
        names = [str(p) for p in folder.glob("results_*.json")]
        assert get_latest_filename(names) == str(run.output_file)


def test_out_mirrors_the_tree_and_writes_nothing_beside_the_originals(layout, tmp_path):
    original = layout.make_run(tmp_path / "runs" / "family", "m1")
    before = digest(original.parent)
    report = rescore(tmp_path / "runs", out=tmp_path / "out", metrics=("brier_score",))
    (run,) = report.runs
    assert run.output_file == tmp_path / "out" / "family" / "m1" / (original.stem + ".rescored.json")
    assert digest(original.parent) == before
    new = json.loads(run.output_file.read_text())
    assert "brier_score,none" in new["results"]["t_mc"] and "ece,none" not in new["results"]["t_mc"]
    assert not any(k.startswith("token_edit") for k in new["results"]["t_gen"])
    assert any("none of the requested metrics" in n for n in run.notes)


def corrupt(samples_file: Path) -> None:
    lines = samples_file.read_bytes().split(b"\n")[:-1]
    lines[1] = lines[1][:50]  # cut mid-line (a killed job), newline kept
    lines[3] = b'{"doc_id": 3, "filter": "parsed", "target": "7"}'  # missing filtered_resps
    lines[4] = lines[4].replace(b'"doc": {', b'"doc": {"x": "\xff", ')  # broken UTF-8
    lines.insert(6, lines[5])  # a duplicate sample
    lines.insert(7, b"  ")  # a blank line: not a sample, not a problem
    samples_file.write_bytes(b"\n".join(lines) + b"\n" + lines[-1][:30])  # and a cut last line


def test_bad_lines_are_reported_with_file_and_line_and_skipped(layout, tmp_path):
    from lm_eval.api.metrics import mean

    results_file = layout.make_run(tmp_path, "m1")
    (samples_file,) = results_file.parent.glob("samples_t_gen_*.jsonl")
    corrupt(samples_file)
    snapshot = samples_file.read_bytes()
    report = rescore(tmp_path)
    (run,) = report.runs
    assert report.exit_status == 1
    where = {(Path(p.file).name, p.line): p.reason for p in run.problems}
    name = samples_file.name
    assert "truncated JSON" in where[(name, 2)]
    assert "missing field 'filtered_resps'" in where[(name, 4)]
    assert "invalid UTF-8" in where[(name, 5)]
    assert "duplicate sample (doc_id 5, filter 'parsed')" in where[(name, 7)]
    assert "truncated JSON" in where[(name, 15)]
    assert run.skipped == 5
    assert samples_file.read_bytes() == snapshot
    new = json.loads(run.output_file.read_text())
    assert new["rescore"]["skipped"] == 5 and len(new["rescore"]["problems"]) == 5
    kept = [0, 2, 5]  # the parsed-filter samples that survived
    ted = [
        adapters.token_edit_distance(references=[layout.TARGETS[i]], predictions=[layout.OUTPUTS[i].split(" ")[0]])
        for i in kept
    ]
    assert new["results"]["t_gen"]["token_edit_distance,parsed"] == mean(ted)
    assert new["rescore"]["counts"]["t_gen"]["scored"]["parsed"] == 3


def test_strict_mode_gives_the_same_values(layout, tmp_path):
    layout.make_run(tmp_path, "m1")
    fast = json.loads(rescore(tmp_path).runs[0].output_file.read_text())["results"]
    strict = json.loads(rescore(tmp_path, strict=True).runs[0].output_file.read_text())["results"]
    assert fast == strict


def test_missing_samples_unknown_types_and_stray_files_are_counted(layout, tmp_path):
    tasks = {
        "t_gen": (
            layout.gen_config("t_gen"),
            {"sample_len": 6},
            layout.gen_samples(filters=("none",))[:4],
        ),  # 2 lines missing
        "t_odd": ({"task": "t_odd", "output_type": "ranking"}, {"sample_len": 2}, layout.gen_samples(2, ("none",))),
        "t_ppl": (
            {"task": "t_ppl", "output_type": "loglikelihood_rolling"},
            {"sample_len": 1},
            layout.gen_samples(1, ("none",)),
        ),
    }
    results_file = layout.write_run(tmp_path, "m1", tasks)
    folder = results_file.parent
    ts = results_file.stem[len("results_") :]
    (folder / f"samples_t_gone_{ts}.jsonl").write_text("{}\n")
    cfg = json.loads(results_file.read_text())
    cfg["configs"]["t_nolog"] = layout.mc_config("t_nolog")
    results_file.write_text(json.dumps(cfg))
    report = rescore(results_file)
    (run,) = report.runs
    reasons = " | ".join(str(p) for p in run.problems)
    assert "2 samples missing: the results file reports 6 per filter, the samples file has 4 lines" in reasons
    assert "unknown output_type 'ranking': 2 lines skipped" in reasons
    assert f"samples_t_gone_{ts}.jsonl: samples file of a task the results file does not list" in reasons
    assert "no samples file for task 't_nolog' (was the run logged with --log_samples?)" in reasons
    assert run.skipped == 2 + 2 + 1 + 1
    assert any("loglikelihood_rolling" in n for n in run.notes)
    assert report.exit_status == 1


def test_rescoring_again_and_rescored_files_are_left_alone(layout, tmp_path):
    layout.make_run(tmp_path, "m1")
    first = rescore(tmp_path).runs[0].output_file
    assert find_results_files(tmp_path) == [p for p in tmp_path.rglob("results_*.json") if ".rescored" not in p.name]
    second = rescore(tmp_path).runs[0].output_file
    assert first == second
    report = rescore(first)  # pointing at an output explicitly
    assert report.runs[0].output_file is None and "written by rescore" in report.runs[0].notes[0]
    with pytest.raises(FileNotFoundError, match="neither a results file nor a folder"):
        rescore(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no results_"):
        rescore(tmp_path / "empty")


def test_an_unreadable_results_file_is_reported(layout, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "results_2026-01-01T00-00-00.0.json").write_text('{"results": {')
    report = rescore(tmp_path)
    assert report.exit_status == 1 and "cannot read results file" in report.runs[0].problems[0].reason


def test_write_samples_adds_per_sample_values(layout, tmp_path):
    results_file = layout.make_run(tmp_path, "m1")
    (run,) = rescore(tmp_path, write_samples=True).runs
    gen_out = next(p for p in run.samples_outputs if "t_gen" in p.name)
    mc_out = next(p for p in run.samples_outputs if "t_mc" in p.name)
    assert gen_out.name.endswith(".rescored.jsonl") and gen_out.parent == results_file.parent
    lines = [json.loads(x) for x in gen_out.read_text().splitlines()]
    assert len(lines) == 12 and lines[0]["metrics"] == [
        "exact_match",
        "token_edit_distance",
        "normalized_edit_distance",
        "digit_accuracy",
    ]
    assert lines[0]["token_edit_distance"] == 1.0 and lines[0]["doc_hash"]
    mc_lines = [json.loads(x) for x in mc_out.read_text().splitlines()]
    assert (
        mc_lines[0]["brier_score"] == brier_score(layout.MC_GOLD[0], layout.MC_LLS[0]) and len(mc_lines[0]["ece"]) == 2
    )


def test_no_bootstrap_means_no_stderr(layout, tmp_path):
    layout.make_run(tmp_path, "m1", bootstrap_iters=0)
    new = json.loads(rescore(tmp_path).runs[0].output_file.read_text())
    assert new["results"]["t_gen"]["token_edit_distance_stderr,raw"] == "N/A"


def test_loglikelihood_with_per_token_values_equals_the_online_computation(layout, tmp_path):
    """Per-sample values made by the plugin's own process_results from hf-mirage responses, aggregated by
    the harness's mean and the plugin's pooled aggregation, as an online run does."""
    from lm_eval.api.metrics import mean, mean_stderr

    from lm_eval_mirage.models.result import LoglikelihoodResult
    from lm_eval_mirage.tasks import likelihood as task_ll

    rng = np.random.default_rng(5)
    per_sample, samples = [], []
    for i in range(9):
        tokens = (-rng.exponential(2.0, size=int(rng.integers(1, 6)))).tolist()
        resp = LoglikelihoodResult(
            float(np.float32(sum(tokens))), bool(i % 3 == 0), tokens, list(range(len(tokens))), [True] * len(tokens)
        )
        metrics = task_ll.process_results({"answer": "12"}, [resp])
        per_sample.append(metrics)
        samples.append(layout.sample(i, " 12\n", [("Q:", " 12\n")], [[resp]], [resp], "none", metrics))
    keys = [
        "greedy_exact_match",
        "target_logprob",
        "target_prob",
        "per_token_logprob",
        "per_token_prob",
        "target_tokens",
    ]
    entry = {"sample_len": 9}
    for k in keys:
        entry[f"{k},none"] = mean([m[k] for m in per_sample])
        entry[f"{k}_stderr,none"] = mean_stderr([m[k] for m in per_sample])
    entry["token_logprobs,none"] = task_ll.pooled_token_logprob([m["token_logprobs"] for m in per_sample])
    layout.write_run(
        tmp_path,
        "m1",
        {"t_ll": (layout.ll_config("t_ll", process_results="<function process_results>"), entry, samples)},
    )
    (run,) = rescore(tmp_path).runs
    new = json.loads(run.output_file.read_text())
    for key, online in entry.items():
        assert new["results"]["t_ll"][key] == online, key
    assert set(new["rescore"]["replaced"]["t_ll"]) >= {f"{k},none" for k in keys}


def test_loglikelihood_without_per_token_values_marks_them_unavailable(layout, tmp_path):
    samples = [
        layout.sample(
            i, " x", [("Q:", " x")], [[(-1.5 * (i + 1), i == 0)]], [(-1.5 * (i + 1), i == 0)], "none", {"acc": 0}
        )
        for i in range(3)
    ]
    layout.write_run(tmp_path, "m1", {"t_ll": (layout.ll_config("t_ll"), {"sample_len": 3}, samples)})
    (run,) = rescore(tmp_path).runs
    res = json.loads(run.output_file.read_text())
    assert res["results"]["t_ll"]["target_logprob,none"] == -3.0
    assert res["results"]["t_ll"]["greedy_exact_match,none"] == pytest.approx(1 / 3)
    assert "per_token_logprob,none" not in res["results"]["t_ll"]
    assert "no per-token values" in res["rescore"]["unavailable"]["t_ll"]["per_token_logprob"]
    assert "hf-mirage" in run.unavailable["t_ll"]["token_logprobs"]
    assert run.skipped == 0


def test_logged_text_is_data_never_code(layout, tmp_path):
    marker = tmp_path / "pwned"
    doc = {"q": f"!!python/object/apply:os.system ['touch {marker}']", "yaml": "!function os.system"}
    samples = [layout.sample(0, "1", [("Q:", {"until": ["\n"]})], [["1"]], ["1"], "none", {}, doc=doc)]
    config = layout.gen_config("t_gen") | {
        "custom_dataset": "!function os.system",
        "process_docs": "!!python/name:os.system",
    }
    layout.write_run(tmp_path, "m1", {"t_gen": (config, {"sample_len": 1}, samples)})
    report = rescore(tmp_path, strict=True)
    assert report.exit_status == 0 and not marker.exists()


def _peak_bytes(root: Path) -> int:
    tracemalloc.start()
    try:
        rescore(root)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_grows_by_bytes_per_sample_not_by_file_size(layout, tmp_path):
    for n, name in ((2000, "small"), (8000, "large")):
        samples = [
            layout.sample(
                i,
                layout.TARGETS[i % 6],
                [("Q: " + "x" * 600, {"until": ["\n"]})],
                [[layout.OUTPUTS[i % 6]]],
                [layout.OUTPUTS[i % 6]],
                "none",
                {},
            )
            for i in range(n)
        ]
        layout.write_run(tmp_path / name, "m1", {"t_gen": (layout.gen_config("t_gen"), {"sample_len": n}, samples)})
    small, large = _peak_bytes(tmp_path / "small"), _peak_bytes(tmp_path / "large")
    # 6,000 more lines of ~900 bytes: a reader that kept them would grow by > 5 MB
    assert large - small < 6000 * 100, (small, large)
