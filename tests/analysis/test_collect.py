"""Reading harness outputs: recorded real runs, and runs written in their schema for each edge case."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np
import pytest

from lm_eval_mirage.analysis.collect import collect, find_results_files, load, params_from_folder, parse_model_args
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
        write_run(tmp_path, "EleutherAI/pythia-160m", {"t": {"exact_match,none": step / 1e5}}, stamp=f"s{step}",
                  model_args=f"pretrained=EleutherAI/pythia-160m,revision=step{step}")  # fmt: skip
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
    write_run(tmp_path, "ignored", {"arc": {"acc": 0.25, "acc_stderr": 0.01}}, model_args="pretrained=gpt2",
              drop=("model_name", "lm_eval_version", "n-samples", "higher_is_better"))  # fmt: skip
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
    with pytest.raises(ValueError, match="no results"):
        find_results_files([tmp_path])
    bad = tmp_path / "results_bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="results_bad.json: not valid JSON"):
        load([bad])
    bad.write_text(json.dumps({"hello": 1}))
    with pytest.raises(ValueError, match="results_bad.json: not an lm-eval results file"):
        load([bad])
    good = write_run(tmp_path / "ok", "org/a", {"t": {"acc,none": 0.1}}, samples={"t": [{"doc_id": 0, "acc": 1.0}]})
    (good.parent / f"samples_t_{good.stem[len('results_') :]}.jsonl").write_text('{"doc_id": 0, "acc": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"samples_t_.*\.jsonl:2: not valid JSON"):
        load([good])
    with pytest.raises(ValueError, match="x='size'"):
        load([good], x="size")


def test_sweep_params_json_gives_sizes_and_dot_folders_are_skipped(tmp_path):
    """A sweep's output folder: params.json at the top, bookkeeping under .sweep/ (never read as results)."""
    import json as _json

    from lm_eval_mirage.analysis.collect import find_results_files, load, sweep_params

    good = {"results": {"mirage_arith_add_2d": {"exact_match,parsed": 0.5, "alias": "mirage_arith_add_2d"}},
            "config": {"model_args": "pretrained=/models/m1"}, "model_name": "/models/m1", "date": 1.0}
    (tmp_path / "__models__m1").mkdir()
    (tmp_path / "__models__m1" / "results_2026.json").write_text(_json.dumps(good))
    (tmp_path / ".sweep" / "staging").mkdir(parents=True)
    (tmp_path / ".sweep" / "staging" / "results_x.json").write_text("{ torn")
    (tmp_path / "params.json").write_text(_json.dumps({"__models__m1": {"name": "m1", "params": 1234}, "other": {"params": None}}))
    assert [f.name for f in find_results_files([tmp_path])] == ["results_2026.json"]
    assert sweep_params([tmp_path]) == {"__models__m1": 1234.0}
    table = load([tmp_path], samples=False, progress=False).table
    assert set(table["x"]) == {1234.0}
