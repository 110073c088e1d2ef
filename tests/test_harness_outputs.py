"""The harness's output layout (lm_eval_mirage.harness_outputs), checked against the harness's own writer and
functions, on files of both layouts, and against task names that try to leave the run folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lm_eval_mirage import harness_outputs as layout

DATA = Path(__file__).parent / "analysis" / "data"
PYTHIA_2023 = DATA / "pythia_2023"
REAL_GEN = DATA / "harness_0.4.13"


def _harness_run(tmp_path: Path, model: str = "org/m", task: str = "t") -> Path:
    """A results file and its samples file as the harness's EvaluationTracker writes them."""
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(tmp_path))
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf",
        model_args=f"pretrained={model}",
        system_instruction=None,
        chat_template=None,
        fewshot_as_multiturn=False,
    )
    results = {
        "results": {task: {"acc,none": 0.5}},
        "configs": {task: {}},
        "versions": {task: 1.0},
        "n-shot": {task: 3},
        "config": {"model": "hf", "model_args": f"pretrained={model}"},
    }
    line = {
        "doc_id": 0,
        "doc": {"q": "q"},
        "arguments": [("q", "a")],
        "resps": [],
        "filtered_resps": [],
        "target": "a",
        "filter": "none",
        "doc_hash": "d",
        "prompt_hash": "p",
        "target_hash": "t",
    }
    tracker.save_results_aggregated(results=results, samples={task: [line]})
    tracker.save_results_samples(task_name=task, samples=[line])
    (found,) = (tmp_path / layout.model_folder_name(model)).glob("results_*.json")
    return found


def test_names_match_what_the_harness_writes(tmp_path):
    results = _harness_run(tmp_path)
    run = layout.read_results_file(results)
    assert results.parent.name == layout.model_folder_name("org/m") == "org__m"
    assert results.name == layout.results_file_name(run.date_id)
    assert layout.find_samples_file(run, "t") == results.parent / layout.samples_file_name("t", run.date_id)
    assert layout.samples_file_task(layout.find_samples_file(run, "t")) == "t"
    assert run.layout == "0.4" and run.num_fewshot("t") == 3 and run.model_name == "org/m" and not run.rescored


def test_rescored_copies_share_the_timestamp_and_their_samples_come_first(tmp_path):
    results = _harness_run(tmp_path)
    copy = layout.rescored_results_path(results)
    assert copy.name.endswith(".rescored.json") and layout.date_id(copy) == layout.date_id(results)
    shutil.copy(results, copy)
    run = layout.read_results_file(copy)
    assert run.rescored
    plain = layout.find_samples_file(run, "t")
    assert plain is not None and not layout.is_rescored(plain)
    rescored = layout.samples_path(results.parent, "t", run.date_id, rescored=True)
    rescored.write_text(plain.read_text())
    assert layout.find_samples_file(run, "t") == rescored
    assert layout.find_results_files([tmp_path]) == [results]  # rescore's copies only on request
    assert layout.find_results_files([tmp_path], rescored=True) == sorted([results, copy])


def test_the_2023_layout_is_read_by_content():
    runs, unreadable = layout.scan_results([PYTHIA_2023])
    assert unreadable == [] and len(runs) == 5
    by_name = {r.path.name: r for r in runs}
    old = by_name["70m-5shot_step143000.json"]
    assert old.layout == "2023" and old.model_name == "EleutherAI/pythia-v1.1-70m" and old.revision == "step143000"
    assert old.model_args == {"pretrained": "EleutherAI/pythia-v1.1-70m", "revision": "step143000"}
    assert old.num_fewshot("lambada_openai") == 5 and by_name["70m_step143000.json"].num_fewshot("piqa") == 0
    assert old.num_problems("piqa") is None  # the old layout does not say
    assert old.label == "EleutherAI/pythia-v1.1-70m@step143000"


def test_scan_skips_other_json_and_hidden_folders_and_names_unreadable_files(tmp_path):
    shutil.copytree(PYTHIA_2023 / "pythia-70m", tmp_path / "p")
    (tmp_path / "p" / "config.json").write_text(json.dumps({"results": "not tasks", "config": {}}))
    (tmp_path / "p" / "broken.json").write_bytes(b"\xff\xfe{")
    (tmp_path / "p" / "deep.json").write_text("[" * 200_000 + "]" * 200_000)
    (tmp_path / ".cache").mkdir()
    shutil.copy(tmp_path / "p" / "zero-shot" / "70m_step143000.json", tmp_path / ".cache" / "x.json")
    runs, unreadable = layout.scan_results([tmp_path])
    assert sorted(r.path.name for r in runs) == ["70m-5shot_step143000.json", "70m_step143000.json"]
    assert sorted((e.path.name, e.reason.split(" (")[0]) for e in unreadable) == [
        ("broken.json", "not UTF-8 text"),
        ("deep.json", "JSON nested too deeply to read"),
    ]
    with pytest.raises(layout.NotResultsFileError, match=r"config\.json: not an lm-eval results file"):
        layout.scan_results([tmp_path / "p" / "config.json"])  # a file given explicitly must be one
    with pytest.raises(FileNotFoundError, match="does not exist"):
        layout.scan_results([tmp_path / "nope"])


@pytest.mark.parametrize("task", ["x/../../../escaped", "..", ".", "a\\b", "t\x00", "t\nrm", "", 7])
def test_task_names_that_leave_the_folder_are_refused(tmp_path, task):
    with pytest.raises(layout.UnsafeTaskNameError, match=r"results_x\.json: task name .* refused"):
        layout.samples_path(tmp_path, task, "T", source="results_x.json")


@pytest.mark.parametrize("task", ["hendrycksTest-abstract_algebra", "a..b", "crows_pairs_english_age", "mmlu (5-shot)"])
def test_ordinary_task_names_stay_in_the_folder(tmp_path, task):
    path = layout.samples_path(tmp_path, task, "T")
    assert path.parent == tmp_path and path.name == f"samples_{task}_T.jsonl"


def test_model_args_strings_and_dicts():
    assert layout.parse_model_args("pretrained=a/b, revision=0100,dtype=float16,trust_remote_code=True,junk") == {
        "pretrained": "a/b",
        "revision": "0100",
        "dtype": "float16",
        "trust_remote_code": True,
    }
    assert layout.parse_model_args({"pretrained": "a", "revision": "step1"}) == {"pretrained": "a", "revision": "step1"}
    assert layout.parse_model_args("") == {} and layout.parse_model_args(None) == {}


@pytest.mark.slow
def test_rescore_refuses_an_escaping_task_name_and_writes_nothing_outside(tmp_path, run_cli):
    run_dir = tmp_path / "tree" / "runs"
    shutil.copytree(REAL_GEN, run_dir)
    results = next(run_dir.rglob("results_*.json"))
    data = json.loads(results.read_text())
    evil = "x/../../../escaped"
    data["configs"][evil] = data["configs"]["mirage_arith_add_2d"]
    data["results"][evil] = data["results"]["mirage_arith_add_2d"]
    results.write_text(json.dumps(data))
    ts = layout.date_id(results)
    # a samples file the evil name would reach: .../<model>/samples_x/../../../escaped_<ts>.jsonl
    target = (results.parent / f"samples_{evil}_{ts}.jsonl").resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(next(results.parent.glob("samples_mirage_arith_add_2d_*.jsonl")), target)
    before = sorted(p for p in tmp_path.rglob("*"))
    proc = run_cli(["lm-eval-mirage", "rescore", str(run_dir), "--write-samples"], check=False)
    assert proc.returncode == 1, proc.stderr
    assert f"task name {evil!r} refused" in proc.stdout + proc.stderr
    new = sorted(set(tmp_path.rglob("*")) - set(before))
    assert new and all(p.parent == results.parent and layout.is_rescored(p) for p in new), new
    written = json.loads(layout.rescored_results_path(results).read_text())
    assert "mirage_arith_add_2d" in written["rescore"]["added"] and evil not in written["rescore"]["added"]
