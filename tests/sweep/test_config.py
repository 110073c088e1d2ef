"""The sweep file: defaults, relative paths, per-model overrides, revisions, and errors that name the key."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from lm_eval_mirage.sweep.config import HarnessOptions, ParallelOptions, SweepConfigError, load_sweep, parse_sweep

MINIMAL = {"output": "out", "tasks": "mirage_arith_add_1d", "models": [{"name": "EleutherAI/pythia-70m"}]}


def parse(data, base="/base"):
    return parse_sweep(data, base_dir=base, source="/base/sweep.yaml")


def test_minimal_file_and_defaults():
    c = parse(MINIMAL)
    assert c.name == "sweep" and c.output == Path("/base/out") and c.tasks == ("mirage_arith_add_1d",)
    assert c.retries == 1 and c.python == sys.executable and c.include_path is None
    (m,) = c.models
    assert m.name == m.path == "EleutherAI/pythia-70m" and m.revisions == () and m.params is None
    assert m.harness == HarnessOptions() and m.harness.log_samples is True and m.parallel == ParallelOptions()
    assert m.resources.gpus == 0


def test_paths_relative_to_the_sweep_file(tmp_path):
    data = {**MINIMAL, "include_path": "tasks", "models": [{"name": "a", "path": "./models/a"}, {"name": "b", "path": "org/b"},
                                                           {"name": "c", "path": "/abs/c"}]}
    (tmp_path / "s.yaml").write_text(__import__("yaml").safe_dump(data))
    c = load_sweep(tmp_path / "s.yaml")
    assert c.name == "s" and c.output == tmp_path / "out" and c.include_path == tmp_path / "tasks"
    assert [m.path for m in c.models] == [str(tmp_path / "models" / "a"), "org/b", "/abs/c"]  # hub names untouched


def test_model_entries_override_the_defaults_key_by_key():
    data = {**MINIMAL, "harness": {"num_fewshot": 2, "batch_size": 8, "limit": 0.5},
            "resources": {"gpus": 1, "cpus": 4, "partition": "gpu", "slurm": {"qos": "high"}},
            "models": [{"name": "a"}, {"name": "b", "harness": {"batch_size": "auto:4"}, "resources": {"gpus": 4}, "parallel": {"data": 4}}]}
    a, b = parse(data).models
    assert (a.harness.num_fewshot, a.harness.batch_size, a.harness.limit) == (2, "8", 0.5)
    assert (b.harness.num_fewshot, b.harness.batch_size) == (2, "auto:4")
    assert (a.resources.gpus, b.resources.gpus, b.resources.cpus, b.resources.partition) == (1, 4, 4, "gpu")
    assert b.resources.slurm == (("qos", "high"),) and b.parallel.data == 4 and a.parallel.data == 1


def test_model_args_as_mapping_or_string():
    data = {**MINIMAL, "models": [{"name": "a", "model_args": {"dtype": "float16", "trust_remote_code": True}},
                                  {"name": "b", "model_args": "dtype=bfloat16, max_length=2048"}]}
    a, b = parse(data).models
    assert a.model_args == (("dtype", "float16"), ("trust_remote_code", "True"))
    assert b.model_args == (("dtype", "bfloat16"), ("max_length", "2048"))


def test_revisions_list_and_inclusive_ranges():
    data = {**MINIMAL, "models": [{"name": "p", "revisions": [0, "step1", {"format": "step{}", "start": 1000, "stop": 3000, "step": 1000}]}]}
    assert parse(data).models[0].revisions == ("0", "step1", "step1000", "step2000", "step3000")


def test_params_from_yaml_float_notation():
    assert parse({**MINIMAL, "models": [{"name": "a", "params": 7.0e7}]}).models[0].params == 70_000_000


BAD = [
    # (change to the minimal file, key in the message, words of what is accepted)
    (lambda d: d.pop("output"), "output", "required"),
    (lambda d: d.update(taks=["x"]), "taks", "one of the keys"),
    (lambda d: d.update(tasks=[]), "tasks", "non-empty list"),
    (lambda d: d.update(models=[]), "models", "non-empty list"),
    (lambda d: d.update(retries=-1), "retries", ">= 0"),
    (lambda d: d.update(env={"1BAD": "x"}), "env.1BAD", "environment variable name"),
    (lambda d: d.update(harness={"backend": "openai"}), "harness.backend", "hf, hf-mirage, vllm, local-completions"),
    (lambda d: d.update(harness={"num_fewshots": 2}), "harness.num_fewshots", "one of the keys"),
    (lambda d: d.update(harness={"batch_size": "big"}), "harness.batch_size", "'auto'"),
    (lambda d: d.update(harness={"batch_size": 0}), "harness.batch_size", "'auto'"),
    (lambda d: d.update(harness={"limit": 0}), "harness.limit", "fraction"),
    (lambda d: d.update(harness={"limit": 1.5}), "harness.limit", "fraction"),
    (lambda d: d.update(harness={"extra_args": ["--limit", "3"]}), "harness.extra_args[0]", "does not set itself"),
    (lambda d: d.update(parallel={"tensor": 2}), "models[0].parallel.tensor", "vLLM"),
    (lambda d: d.update(harness={"backend": "vllm"}, parallel={"shard": True}), "models[0].parallel.shard", "hf option"),
    (lambda d: d.update(parallel={"data": 2}), "models[0].resources.gpus", "at least 2 GPUs"),
    (lambda d: d.update(parallel={"shard": True}, resources={"gpus": 1}), "models[0].resources.gpus", "at least 2 GPUs to shard"),
    (lambda d: d.update(resources={"mem_gb": "lots"}), "resources.mem_gb", "gigabytes"),
    (lambda d: d.update(resources={"gpus": 1.5}), "resources.gpus", "whole number"),
    (lambda d: d["models"].append({"name": "EleutherAI/pythia-70m"}), "models[1].name", "not used before"),
    (lambda d: d["models"][0].update(model_args={"pretrained": "x"}), "model_args.pretrained", "'path'"),
    (lambda d: d["models"][0].update(model_args="revision=step1"), "model_args.revision", "'revisions'"),
    (lambda d: d["models"][0].update(model_args="dtype"), "models[0].model_args", "key=value"),
    (lambda d: d["models"][0].update(model_args={"a": "x,y"}), "model_args.a", "without commas"),
    (lambda d: d["models"][0].update(revisions=["a", "a"]), "models[0].revisions", "once each"),
    (lambda d: d["models"][0].update(revisions=[{"format": "step", "start": 1, "stop": 2}]), "revisions[0].format", "'{}'"),
    (lambda d: d["models"][0].update(revisions=[{"format": "s{}", "start": 5, "stop": 2}]), "revisions[0].stop", ">= 5"),
    (lambda d: d["models"][0].update(path="/ckpt/{revision}"), "models[0].revisions", "fill the '{revision}'"),
    (lambda d: d["models"][0].update(params=0), "models[0].params", ">= 1"),
    (lambda d: d["models"][0].update(folder="a/b"), "models[0].folder", "plain folder name"),
    (lambda d: d["models"][0].update(color="red"), "models[0].color", "one of the keys"),
]


@pytest.mark.parametrize("change,key,accepted", BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_errors_name_the_file_the_key_and_what_is_accepted(change, key, accepted):
    data = copy.deepcopy(MINIMAL)
    change(data)
    with pytest.raises(SweepConfigError) as err:
        parse(data)
    message = str(err.value)
    assert message.startswith("/base/sweep.yaml: ") and key in message and accepted in message, message


def test_local_completions_rejects_revisions_and_data_parallel():
    base = {**MINIMAL, "harness": {"backend": "local-completions"}}
    with pytest.raises(SweepConfigError, match="revisions"):
        parse({**base, "models": [{"name": "m", "revisions": ["r1"]}]})
    with pytest.raises(SweepConfigError, match="the server scales itself"):
        parse({**base, "parallel": {"data": 2}, "resources": {"gpus": 2}})


def test_unreadable_files_are_reported(tmp_path):
    with pytest.raises(SweepConfigError, match="does not exist"):
        load_sweep(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("models: [\n")
    with pytest.raises(SweepConfigError, match="not valid YAML"):
        load_sweep(tmp_path / "bad.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(SweepConfigError, match="mapping"):
        load_sweep(tmp_path / "list.yaml")
