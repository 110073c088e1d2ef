"""Reading harness outputs: recorded real runs, and runs written in their schema for each edge case."""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict

import numpy as np
import pytest

from lm_eval_mirage.analysis.collect import (
    collect,
    find_results_files,
    load,
    params_from_folder,
    parse_model_args,
)
from lm_eval_mirage.analysis.families import PYTHIA_TOKENS_PER_STEP

from .conftest import REAL_GEN, REAL_LL


def test_real_generation_run():
    found = load([REAL_GEN], progress=False)
    t = found.table
    assert set(t["task"]) == {"mirage_arith_add_2d", "mirage_arith_mul_1d"}
    assert set(t["filter"]) == {"parsed", "raw"}
    assert found.models.loc[0, "params"] == 122816  # the harness's model_num_parameters
    assert found.models.loc[0, "params_source"] == "results file"
    row = t[
        (t.task == "mirage_arith_add_2d")
        & (t.metric == "token_edit_distance")
        & (t["filter"] == "parsed")
        & (t.split == "all")
    ]
    assert row["value"].item() == 2.5 and row["stderr"].item() == pytest.approx(0.2236068) and row["n"].item() == 6
    assert not row["higher_is_better"].item()
    assert any("only one model" in m for m in found.messages)
    # 6 docs x 2 filters x 4 metrics per task
    assert len(found.samples) == 2 * 6 * 2 * 4


def test_real_split_by_answer_digits_matches_an_independent_reading():
    found = load([REAL_GEN], progress=False)
    sample_file = next(REAL_GEN.rglob("samples_mirage_arith_add_2d_*.jsonl"))
    groups = defaultdict(list)
    for line in map(json.loads, sample_file.read_text().splitlines()):
        groups[(line["filter"], line["doc"]["answer_digits"])].append(line["token_edit_distance"])
    t = found.table
    for (filt, digits), values in groups.items():
        row = t[
            (t.task == "mirage_arith_add_2d")
            & (t.metric == "token_edit_distance")
            & (t["filter"] == filt)
            & (t.split == f"digits={digits}")
        ]
        assert row["value"].item() == pytest.approx(np.mean(values))
        assert row["n"].item() == len(values)


def test_real_likelihood_run():
    t = load([REAL_LL], progress=False).table
    ptl = t[(t.metric == "per_token_logprob") & (t.split == "all")]
    assert ptl["value"].item() == pytest.approx(-4.539433288574219)
    assert ptl["filter"].item() == "none"
    assert set(t["model"]) == {"/tmp/h6/tiny"}  # revision=main is no revision
    assert {"digits=2", "digits=3"} <= set(t["split"])


def test_model_args_parsing():
    assert parse_model_args("pretrained=a/b,revision=step3000,dtype=float16") == {
        "pretrained": "a/b",
        "revision": "step3000",
        "dtype": "float16",
    }
    assert parse_model_args(None) == {}


def test_checkpoints_steps_tokens_and_flops(tmp_path, write_run):
    for step in (1000, 8000, 64000):
        write_run(
            tmp_path,
            "EleutherAI/pythia-160m",
            {"t": {"exact_match,none": step / 1e5}},
            stamp=f"s{step}",
            model_args=f"pretrained=EleutherAI/pythia-160m,revision=step{step}",
        )
    by_params = load([tmp_path], progress=False)
    m = by_params.models.set_index("model")
    assert list(m.index) == [f"EleutherAI/pythia-160m@step{s}" for s in (1000, 8000, 64000)]
    assert (m["params"] == 162_322_944).all() and (m["params_source"] == "table (exact)").all()
    assert m.loc["EleutherAI/pythia-160m@step8000", "tokens"] == 8000 * PYTHIA_TOKENS_PER_STEP
    assert m.loc["EleutherAI/pythia-160m@step8000", "flops"] == 6 * 162_322_944 * 8000 * PYTHIA_TOKENS_PER_STEP
    assert by_params.models["series"].nunique() == 3  # one curve per checkpoint across sizes
    by_steps = load([tmp_path], x="steps", progress=False)
    assert sorted(by_steps.table["x"]) == [1000, 8000, 64000]
    assert set(by_steps.table["series"]) == {"EleutherAI/pythia-160m"}  # one curve across training
    by_flops = load([tmp_path], x="flops", progress=False)
    assert by_flops.table["x"].min() == 6 * 162_322_944 * 1000 * PYTHIA_TOKENS_PER_STEP


def test_size_sources_in_order(tmp_path, write_run):
    from safetensors.numpy import save_file

    folder = tmp_path / "local-model"
    folder.mkdir()
    save_file(
        {"w": np.zeros((3, 4), dtype=np.float32), "b": np.zeros(5, dtype=np.float32)}, str(folder / "model.safetensors")
    )
    runs = tmp_path / "runs"
    write_run(runs, "gpt2-medium", {"t": {"acc,none": 0.3}})
    write_run(runs, "org/recorded", {"t": {"acc,none": 0.4}}, num_params=123)
    write_run(runs, str(folder), {"t": {"acc,none": 0.5}})
    write_run(runs, "org/given", {"t": {"acc,none": 0.6}}, num_params=999)
    write_run(runs, "org/nowhere", {"t": {"acc,none": 0.7}})
    found = load(
        [runs], params={"given": "1.5b", "org/typo": "7"}, progress=False
    )  # matched by the last path component
    m = found.models.set_index("model")
    assert m.loc["gpt2-medium", ["params", "params_source"]].tolist() == [354_823_168, "table (exact)"]
    assert m.loc["org/recorded", ["params", "params_source"]].tolist() == [123, "results file"]
    assert m.loc[str(folder), ["params", "params_source"]].tolist() == [17, "local folder"]
    assert m.loc["org/given", ["params", "params_source"]].tolist() == [1.5e9, "given"]
    assert math.isnan(m.loc["org/nowhere", "params"]) and m.loc["org/nowhere", "params_source"] == "unknown"
    assert any("org/nowhere: size unknown" in msg and "--params org/nowhere=N" in msg for msg in found.messages)
    assert any("--params org/typo: matches no model" in msg for msg in found.messages)
    assert found.table.loc[found.table["model"] == "org/nowhere", "x"].isna().all()  # reported, not guessed


def test_sharded_safetensors(tmp_path):
    from safetensors.numpy import save_file

    save_file({"a": np.zeros((2, 2), dtype=np.float32)}, str(tmp_path / "m-1.safetensors"))
    save_file({"b": np.zeros((10,), dtype=np.float32)}, str(tmp_path / "m-2.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "m-1.safetensors", "b": "m-2.safetensors"}})
    )
    assert params_from_folder(tmp_path) == 14
    assert params_from_folder(tmp_path / "missing") is None


def test_duplicate_runs_latest_wins_and_is_reported(tmp_path, write_run):
    old = write_run(
        tmp_path, "org/m", {"t1": {"exact_match,none": 0.1}, "t2": {"exact_match,none": 0.2}}, stamp="old", date=1.0e9
    )
    new = write_run(tmp_path, "org/m", {"t1": {"exact_match,none": 0.9}}, stamp="new", date=1.1e9)
    found = load([tmp_path], progress=False)
    t = found.table.set_index("task")
    assert t.loc["t1", "value"] == 0.9 and t.loc["t1", "source"] == str(new)
    assert t.loc["t2", "value"] == 0.2 and t.loc["t2", "source"] == str(old)  # only run with t2
    dup = [m for m in found.messages if m.startswith("duplicate runs of org/m on t1")]
    assert len(dup) == 1 and str(old) in dup[0] and str(new) in dup[0]


def test_differing_harness_and_task_versions_are_reported(tmp_path, write_run):
    write_run(tmp_path, "org/a", {"t": {"exact_match,none": 0.1}}, lm_eval_version="0.4.2", versions={"t": 1.0})
    write_run(tmp_path, "org/b", {"t": {"exact_match,none": 0.2}}, lm_eval_version="0.4.13", versions={"t": 2.0})
    found = load([tmp_path], progress=False)
    assert any("different harness versions (0.4.13, 0.4.2)" in m for m in found.messages)
    assert any("task t was run at different task versions (1.0, 2.0)" in m for m in found.messages)
    assert set(found.table["lm_eval_version"]) == {"0.4.2", "0.4.13"}


def test_missing_metrics_and_nan_values_are_kept_as_they_are(tmp_path, write_run):
    write_run(tmp_path, "org/a", {"t": {"exact_match,none": 0.1, "token_edit_distance,none": 2.0}}, num_params=10)
    write_run(tmp_path, "org/b", {"t": {"exact_match,none": None}}, num_params=20)
    write_run(tmp_path, "org/c", {"t": {"exact_match,none": "N/A", "token_edit_distance,none": 1.0}}, num_params=30)
    t = load([tmp_path], progress=False).table
    assert t[(t.model == "org/b") & (t.metric == "token_edit_distance")].empty  # not fabricated
    assert t.loc[t.metric == "exact_match"].set_index("model")["value"].isna().to_dict() == {
        "org/a": False,
        "org/b": True,
        "org/c": True,
    }


def test_old_harness_format(tmp_path, write_run):
    # 0.3-style: keys without filters, "acc_stderr", string model_args, no model_name / versions / n-samples.
    write_run(
        tmp_path,
        "ignored",
        {"arc": {"acc": 0.25, "acc_stderr": 0.01}},
        model_args="pretrained=gpt2",
        drop=("model_name", "lm_eval_version", "n-samples", "higher_is_better"),
    )
    found = load([tmp_path], progress=False)
    row = found.table.iloc[0]
    assert (row["model"], row["metric"], row["filter"], row["value"], row["stderr"]) == (
        "gpt2",
        "acc",
        "none",
        0.25,
        0.01,
    )
    assert row["lm_eval_version"] == "unknown" and row["params"] == 124_439_808 and row["n"] == 6  # n from sample_len


def test_families_and_collect_attrs(tmp_path, write_run):
    write_run(tmp_path, "org/a", {"t": {"acc,none": 0.1}}, num_params=10)
    write_run(tmp_path, "org/b", {"t": {"acc,none": 0.2}}, num_params=20)
    assert set(load([tmp_path], families="zoo", progress=False).table["family"]) == {"zoo"}
    mapped = load([tmp_path], families={"org/a": "x", "nobody": "y"}, progress=False)
    assert mapped.table.set_index("model")["family"].to_dict() == {"org/a": "x", "org/b": "models"}
    assert any("--family nobody" in m for m in mapped.messages)
    table = collect([tmp_path], families={"nobody": "y"}, progress=False)
    assert any("--family nobody" in m for m in table.attrs["messages"])


def test_bad_inputs_name_the_file(tmp_path, write_run):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load([tmp_path / "nope"])
    assert find_results_files([tmp_path]) == []
    with pytest.raises(ValueError, match="no lm-eval results files"):
        load([tmp_path])
    bad = tmp_path / "results_bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="results_bad.json: not valid JSON"):
        load([bad])
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="results_bad.json: not an lm-eval results file"):
        load([bad])
    good = write_run(tmp_path / "ok", "org/a", {"t": {"acc,none": 0.1}}, samples={"t": [{"doc_id": 0, "acc": 1.0}]})
    (good.parent / f"samples_t_{good.stem[len('results_') :]}.jsonl").write_text('{"doc_id": 0, "acc": 1}\n{oops\n')
    found = load([good], progress=False)  # a bad line is named and skipped; the rest is read
    assert found.skipped == 1 and len(found.samples) == 1
    assert any(re.search(r"samples_t_.*\.jsonl:2: not valid JSON.*line skipped", m) for m in found.messages)
    with pytest.raises(ValueError, match="x='size'"):
        load([good], x="size")


def test_sweep_params_json_gives_sizes_and_dot_folders_are_skipped(tmp_path):
    """A sweep's output folder: params.json at the top, bookkeeping under .sweep/ (never read as results)."""
    import json as _json

    from lm_eval_mirage.analysis.collect import find_results_files, load, sweep_params

    good = {
        "results": {"mirage_arith_add_2d": {"exact_match,parsed": 0.5, "alias": "mirage_arith_add_2d"}},
        "config": {"model_args": "pretrained=/models/m1"},
        "model_name": "/models/m1",
        "date": 1.0,
    }
    (tmp_path / "__models__m1").mkdir()
    (tmp_path / "__models__m1" / "results_2026.json").write_text(_json.dumps(good))
    (tmp_path / ".sweep" / "staging").mkdir(parents=True)
    (tmp_path / ".sweep" / "staging" / "results_x.json").write_text("{ torn")
    (tmp_path / "params.json").write_text(
        _json.dumps({"__models__m1": {"name": "m1", "params": 1234}, "other": {"params": None}})
    )
    assert [f.name for f in find_results_files([tmp_path])] == ["results_2026.json"]
    assert sweep_params([tmp_path]) == {"__models__m1": 1234.0}
    table = load([tmp_path], samples=False, progress=False).table
    assert set(table["x"]) == {1234.0}


def test_old_layout_published_files_are_read_by_content():
    """EleutherAI's published Pythia files: named 70m_step143000.json, model_args a string, num_fewshot."""
    from .conftest import PYTHIA_2023

    found = load([PYTHIA_2023], progress=False)
    m = found.models.set_index("model")
    assert sorted(m.index) == sorted(
        f"EleutherAI/pythia-v1.1-{name} ({shots}-shot)"
        for name, shots in [
            ("70m@step143000", 0),
            ("70m@step143000", 5),
            ("160m@step143000", 0),
            ("160m@step143000", 5),
            ("160m@step1000", 0),
        ]
    )
    assert m.loc["EleutherAI/pythia-v1.1-160m@step1000 (0-shot)", "step"] == 1000
    assert m["num_fewshot"].to_dict()["EleutherAI/pythia-v1.1-70m@step143000 (5-shot)"] == 5
    assert not [msg for msg in found.messages if msg.startswith("duplicate")]  # 0- and 5-shot are two series
    t = found.table
    lam = t[(t.task == "lambada_openai") & (t.metric == "acc")].set_index("model")
    raw = json.loads((PYTHIA_2023 / "pythia-70m/zero-shot/70m_step143000.json").read_text())["results"][
        "lambada_openai"
    ]
    row = lam.loc["EleutherAI/pythia-v1.1-70m@step143000 (0-shot)"]
    assert (row["value"], row["stderr"], row["num_fewshot"], row["filter"]) == (
        raw["acc"],
        raw["acc_stderr"],
        0,
        "none",
    )
    assert lam.loc["EleutherAI/pythia-v1.1-70m@step143000 (5-shot)", "series"].endswith("(5-shot)")
    assert lam["series"].nunique() == 3  # final step 0-shot, final step 5-shot, step 1000
    assert t["stderr"].notna().all()  # every published value carries its _stderr


def test_today_layout_stderr_n_and_num_fewshot_columns():
    t = load([REAL_GEN], progress=False).table
    row = t[
        (t.task == "mirage_arith_add_2d")
        & (t.metric == "token_edit_distance")
        & (t["filter"] == "parsed")
        & (t.split == "all")
    ].iloc[0]
    assert (row["stderr"], row["n"], row["num_fewshot"]) == (pytest.approx(0.2236068), 6, 2)
    assert "(2-shot)" not in row["model"]  # one n-shot in the collection: labels stay plain


def test_folders_are_read_by_content_and_unreadable_json_is_named(tmp_path, write_run):
    run = write_run(tmp_path / "a", "org/a", {"t": {"acc,none": 0.1}}, num_params=10)
    run.rename(run.with_name("my_copy.json"))  # any name
    (tmp_path / "a" / "config.json").write_text(json.dumps({"hidden_size": 8}))  # other JSON: passes silently
    (tmp_path / "a" / "results_torn.json").write_text("{ torn")
    (tmp_path / "a" / ".hidden").mkdir()
    (tmp_path / "a" / ".hidden" / "x.json").write_text("{ torn")
    found = load([tmp_path], progress=False)
    assert set(found.table["model"]) == {"org/a"} and set(found.table["source"]) == {str(run.with_name("my_copy.json"))}
    assert [m for m in found.messages if "results_torn.json: not valid JSON" in m and "skipped" in m]
    assert not [m for m in found.messages if "config.json" in m or ".hidden" in m]


def test_higher_is_better_must_be_a_boolean(tmp_path, write_run):
    write_run(
        tmp_path,
        "org/a",
        {"t": {"acc,none": 0.1, "token_edit_distance,none": 3.0}},
        num_params=10,
        higher_is_better={"t": {"acc": "false", "token_edit_distance": "true"}},
    )
    found = load([tmp_path], progress=False)
    hib = found.table.set_index("metric")["higher_is_better"]
    assert bool(hib["acc"]) is True and bool(hib["token_edit_distance"]) is False  # from the names, not the strings
    assert any("higher_is_better['t']['acc'] = 'false' is not a JSON boolean; refused" in m for m in found.messages)


def test_unsafe_task_names_are_refused_with_file_and_task(tmp_path, write_run):
    run = write_run(
        tmp_path, "org/a", {"x/../../../escaped": {"acc,none": 0.1}, "ok": {"acc,none": 0.2}}, num_params=10
    )
    found = load([tmp_path], progress=False)
    assert set(found.table["task"]) == {"ok"} and found.skipped == 1
    assert any(str(run) in m and "'x/../../../escaped' refused" in m for m in found.messages)
