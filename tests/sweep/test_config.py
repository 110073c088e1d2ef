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
    data = {
        **MINIMAL,
        "include_path": "tasks",
        "models": [
            {"name": "a", "path": "./models/a"},
            {"name": "b", "path": "org/b"},
            {"name": "c", "path": "/abs/c"},
        ],
    }
    (tmp_path / "s.yaml").write_text(__import__("yaml").safe_dump(data))
    c = load_sweep(tmp_path / "s.yaml")
    assert c.name == "s" and c.output == tmp_path / "out" and c.include_path == tmp_path / "tasks"
    assert [m.path for m in c.models] == [str(tmp_path / "models" / "a"), "org/b", "/abs/c"]  # hub names untouched


def test_model_entries_override_the_defaults_key_by_key():
    data = {
        **MINIMAL,
        "harness": {"num_fewshot": 2, "batch_size": 8, "limit": 0.5},
        "resources": {"gpus": 1, "cpus": 4, "partition": "gpu", "slurm": {"qos": "high"}},
        "models": [
            {"name": "a"},
            {"name": "b", "harness": {"batch_size": "auto:4"}, "resources": {"gpus": 4}, "parallel": {"data": 4}},
        ],
    }
    a, b = parse(data).models
    assert (a.harness.num_fewshot, a.harness.batch_size, a.harness.limit) == (2, "8", 0.5)
    assert (b.harness.num_fewshot, b.harness.batch_size) == (2, "auto:4")
    assert (a.resources.gpus, b.resources.gpus, b.resources.cpus, b.resources.partition) == (1, 4, 4, "gpu")
    assert b.resources.slurm == (("qos", "high"),) and b.parallel.data == 4 and a.parallel.data == 1


def test_model_args_as_mapping_or_string():
    data = {
        **MINIMAL,
        "models": [
            {"name": "a", "model_args": {"dtype": "float16", "trust_remote_code": True}},
            {"name": "b", "model_args": "dtype=bfloat16, max_length=2048"},
        ],
    }
    a, b = parse(data).models
    assert a.model_args == (("dtype", "float16"), ("trust_remote_code", "True"))
    assert b.model_args == (("dtype", "bfloat16"), ("max_length", "2048"))


def test_revisions_list_and_inclusive_ranges():
    data = {
        **MINIMAL,
        "models": [
            {"name": "p", "revisions": [0, "step1", {"format": "step{}", "start": 1000, "stop": 3000, "step": 1000}]}
        ],
    }
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
    (
        lambda d: d.update(harness={"backend": "vllm"}, parallel={"shard": True}),
        "models[0].parallel.shard",
        "hf option",
    ),
    (lambda d: d.update(parallel={"data": 2}), "models[0].resources.gpus", "at least 2 GPUs"),
    (
        lambda d: d.update(parallel={"shard": True}, resources={"gpus": 1}),
        "models[0].resources.gpus",
        "at least 2 GPUs to shard",
    ),
    (lambda d: d.update(resources={"mem_gb": "lots"}), "resources.mem_gb", "gigabytes"),
    (lambda d: d.update(resources={"gpus": 1.5}), "resources.gpus", "whole number"),
    (lambda d: d["models"].append({"name": "EleutherAI/pythia-70m"}), "models[1].name", "not used before"),
    (lambda d: d["models"][0].update(model_args={"pretrained": "x"}), "model_args.pretrained", "'path'"),
    (lambda d: d["models"][0].update(model_args="revision=step1"), "model_args.revision", "'revisions'"),
    (lambda d: d["models"][0].update(model_args="dtype"), "models[0].model_args", "key=value"),
    (lambda d: d["models"][0].update(model_args={"a": "x,y"}), "model_args.a", "without commas"),
    (lambda d: d["models"][0].update(revisions=["a", "a"]), "models[0].revisions", "once each"),
    (
        lambda d: d["models"][0].update(revisions=[{"format": "step", "start": 1, "stop": 2}]),
        "revisions[0].format",
        "'{}'",
    ),
    (
        lambda d: d["models"][0].update(revisions=[{"format": "s{}", "start": 5, "stop": 2}]),
        "revisions[0].stop",
        ">= 5",
    ),
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


# --- values that reach a job script: no control characters, no line breaks, in any key -----------------------------

#: (where to put the text, the key path the error must name); every text field of the schema is here
TEXT_FIELDS = [
    (lambda d, v: d.update(name=v), "name"),
    (lambda d, v: d.update(output=v), "output"),
    (lambda d, v: d.update(tasks=["ok", v]), "tasks[1]"),
    (lambda d, v: d.update(include_path=v), "include_path"),
    (lambda d, v: d.update(env={"X": v}), "env.X"),
    (lambda d, v: d.update(setup=[v]), "setup[0]"),
    (lambda d, v: d.update(python=v), "python"),
    (lambda d, v: d.update(harness={"device": v}), "harness.device"),
    (lambda d, v: d.update(harness={"gen_kwargs": v}), "harness.gen_kwargs"),
    (lambda d, v: d.update(harness={"extra_args": ["--seed", v]}), "harness.extra_args[1]"),
    (lambda d, v: d.update(resources={"partition": v}), "resources.partition"),
    (lambda d, v: d.update(resources={"account": v}), "resources.account"),
    (lambda d, v: d.update(resources={"slurm": {"qos": v}}), "resources.slurm.qos"),
    (lambda d, v: d["models"][0].update(name=v), "models[0].name"),
    (lambda d, v: d["models"][0].update(path=v), "models[0].path"),
    (lambda d, v: d["models"][0].update(folder="f" + v), "models[0].folder"),
    (lambda d, v: d["models"][0].update(model_args={"dtype": v}), "models[0].model_args.dtype"),
    (lambda d, v: d["models"][0].update(revisions=["step1", v]), "models[0].revisions[1]"),
    (
        lambda d, v: d["models"][0].update(revisions=[{"format": v + "{}", "start": 1, "stop": 2}]),
        "models[0].revisions[0].format",
    ),
    (lambda d, v: d["models"][0].update(harness={"device": v}), "models[0].harness.device"),
    (lambda d, v: d["models"][0].update(resources={"partition": v}), "models[0].resources.partition"),
]
CONTROLS = ["\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("put,key", TEXT_FIELDS, ids=[k for _, k in TEXT_FIELDS])
@pytest.mark.parametrize("char", CONTROLS, ids=[repr(c) for c in CONTROLS])
def test_control_characters_are_refused_naming_the_key(put, key, char):
    data = copy.deepcopy(MINIMAL)
    put(data, f"x{char}touch pwned")
    with pytest.raises(SweepConfigError) as err:
        parse(data)
    message = str(err.value)
    assert f": {key}: expected " in message and (
        "control characters" in message or "environment variable" in message
    ), message
    assert "\n" not in message and char not in message  # one line, the character shown escaped


def test_every_text_field_of_the_schema_is_covered_above():
    from typing import get_args

    from pydantic import BaseModel

    from lm_eval_mirage.sweep import schema

    def has_str(tp) -> bool:
        return tp is str or any(
            has_str(a) for a in get_args(tp) if not (isinstance(a, type) and issubclass(a, BaseModel))
        )

    fields = {
        f"{cls.__name__}.{name}"
        for cls in (schema.SweepFile, schema.ModelFile, schema.HarnessFile, schema.ResourcesFile, schema.RevisionRange)
        for name, f in cls.model_fields.items()
        if has_str(f.annotation)
    }
    covered = {
        "SweepFile.name",
        "SweepFile.output",
        "SweepFile.tasks",
        "SweepFile.include_path",
        "SweepFile.env",
        "SweepFile.setup",
        "SweepFile.python",
        "HarnessFile.device",
        "HarnessFile.gen_kwargs",
        "HarnessFile.extra_args",
        "ResourcesFile.partition",
        "ResourcesFile.account",
        "ResourcesFile.slurm",
        "ModelFile.name",
        "ModelFile.path",
        "ModelFile.folder",
        "ModelFile.model_args",
        "ModelFile.revisions",
        "RevisionRange.format",
        # checked against a fixed set or pattern: no control character can pass
        "HarnessFile.backend",
        "HarnessFile.batch_size",
    }
    assert fields <= covered, f"text fields without a control-character test: {sorted(fields - covered)}"


@pytest.mark.parametrize("name", ["A\nB", "A;touch x", "A B"])
def test_environment_and_sbatch_option_names_are_identifiers(name):
    with pytest.raises(SweepConfigError, match="environment variable name"):
        parse({**MINIMAL, "env": {name: "1"}})
    with pytest.raises(SweepConfigError, match="sbatch option name"):
        parse({**MINIMAL, "resources": {"slurm": {name: "1"}}})


# --- every job folder inside the output folder ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "model,key",
    [
        ({"name": "up", "path": ".."}, "models[0].path"),
        ({"name": "here", "path": "."}, "models[0].path"),
        ({"name": "hidden", "path": ".sweep"}, "models[0].path"),
        ({"name": "t", "path": "{revision}", "revisions": ["ok", ".."]}, "models[0].path"),
        ({"name": "f", "folder": ".."}, "models[0].folder"),
        ({"name": "f", "folder": ".sweep"}, "models[0].folder"),
    ],
)
def test_a_job_folder_outside_the_output_folder_is_refused(model, key):
    with pytest.raises(SweepConfigError) as err:
        parse({**MINIMAL, "models": [model]})
    assert f": {key}: expected " in str(err.value) and (
        "inside the output folder" in str(err.value) or "plain folder name" in str(err.value)
    )


def test_relative_model_folders_next_to_the_file_are_fine():
    # ./x and ../x are resolved against the sweep file's folder: the job folder is the harness's name of the absolute path
    (m,) = parse({**MINIMAL, "models": [{"name": "up", "path": "../models/x"}]}, base="/base/sub").models
    assert m.path == "/base/models/x"


# --- numbers that mean nothing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "resources,key",
    [
        ({"mem_gb": float("nan")}, "resources.mem_gb"),
        ({"mem_gb": float("inf")}, "resources.mem_gb"),
        ({"mem_gb": -1}, "resources.mem_gb"),
        ({"mem_gb": True}, "resources.mem_gb"),
        ({"time_min": 1e20}, "resources.time_min"),
        ({"time_min": 10**20}, "resources.time_min"),
        ({"time_min": -5}, "resources.time_min"),
        ({"time_min": 0}, "resources.time_min"),
        ({"gpus": -1}, "resources.gpus"),
        ({"cpus": 0}, "resources.cpus"),
        ({"gpus": True}, "resources.gpus"),
        ({"array_parallelism": -2}, "resources.array_parallelism"),
    ],
)
def test_meaningless_resources_are_refused_in_one_line(resources, key):
    with pytest.raises(SweepConfigError) as err:
        parse({**MINIMAL, "resources": resources})
    message = str(err.value)
    assert f": {key}: expected a " in message and "\n" not in message, message


def test_nan_and_inf_written_in_yaml_are_refused(tmp_path):
    for text, key in (("mem_gb: .nan", "mem_gb"), ("mem_gb: .inf", "mem_gb"), ("time_min: 1e20", "time_min")):
        (tmp_path / "s.yaml").write_text(f"output: out\ntasks: [t]\nmodels: [{{name: m}}]\nresources: {{{text}}}\n")
        with pytest.raises(SweepConfigError, match=f"resources.{key}: expected a "):
            load_sweep(tmp_path / "s.yaml")


def test_a_huge_revision_range_is_refused():
    with pytest.raises(SweepConfigError, match=r"models\[0\].revisions\[0\]: expected at most 100000 revisions"):
        parse({**MINIMAL, "models": [{"name": "m", "revisions": [{"format": "s{}", "start": 0, "stop": 10**12}]}]})
