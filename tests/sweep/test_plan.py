"""Planning: configuration hashes, model folders, harness commands, task expansion."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import pytest

from lm_eval_mirage.sweep.config import SweepConfigError, parse_sweep
from lm_eval_mirage.sweep.plan import config_hash, expand_tasks, harness_command, model_folder, plan_sweep

BASE = {
    "output": "/out",
    "tasks": ["mirage_arith_add_1d"],
    "harness": {"num_fewshot": 0, "limit": 4, "batch_size": 4},
    "models": [{"name": "m", "path": "org/model", "model_args": {"dtype": "float32"}}],
}


def parse(data):
    return parse_sweep(data, base_dir="/base", source="/base/s.yaml")


def unit_hash(data, revision=None, task="mirage_arith_add_1d"):
    config = parse(data)
    return config_hash(config, config.models[0], revision, task)


def test_hash_is_sha256_of_the_documented_record():
    # changing what the hash covers silently re-runs every user's finished work: bump HASH_VERSION on purpose
    record = (
        '{"backend":"hf","extra_args":[],"gen_kwargs":null,"include_path":null,"limit":4,"log_samples":true,'
        '"model":"org/model","model_args":[["dtype","float32"]],"num_fewshot":0,"revision":null,'
        '"task":"mirage_arith_add_1d","v":1}'
    )
    assert unit_hash(BASE) == hashlib.sha256(record.encode()).hexdigest()[:16] == "a3bb47da14a5f294"


SAME = [  # settings that do not change results: the hash must not move
    lambda d: d["harness"].update(batch_size="auto"),
    lambda d: d.update(resources={"gpus": 2, "cpus": 8, "mem_gb": 10, "time_min": 5, "partition": "p", "account": "a"}),
    lambda d: d.update(parallel={"data": 2}, resources={"gpus": 2}),
    lambda d: d.update(output="/elsewhere", name="renamed", retries=5, env={"X": "1"}, setup=["true"], python="py"),
    lambda d: d["models"][0].update(name="another-label", params=123, folder="f"),
    lambda d: d.update(tasks=["mirage_arith_add_1d", "mirage_arith_sub_1d"]),
    lambda d: d["models"].append({"name": "other"}),
]
DIFFERENT = [  # settings that change results: the hash must move
    lambda d: d["harness"].update(limit=5),
    lambda d: d["harness"].update(num_fewshot=2),
    lambda d: d["harness"].update(backend="hf-mirage"),
    lambda d: d["harness"].update(gen_kwargs="temperature=1"),
    lambda d: d["harness"].update(log_samples=False),
    lambda d: d["harness"].update(extra_args=["--seed", "1"]),
    lambda d: d["models"][0].update(path="org/other"),
    lambda d: d["models"][0].update(model_args={"dtype": "float16"}),
    lambda d: d.update(include_path="/tasks"),
]


@pytest.mark.parametrize("change", SAME)
def test_hash_ignores_batch_size_resources_parallelism_and_naming(change):
    data = copy.deepcopy(BASE)
    change(data)
    assert unit_hash(data) == unit_hash(BASE)


@pytest.mark.parametrize("change", DIFFERENT)
def test_hash_covers_everything_that_changes_results(change):
    data = copy.deepcopy(BASE)
    change(data)
    assert unit_hash(data) != unit_hash(BASE)


def test_hash_differs_by_task_and_revision():
    hashes = {
        unit_hash(BASE),
        unit_hash(BASE, task="mirage_arith_sub_1d"),
        unit_hash(BASE, revision="step1"),
        unit_hash(BASE, revision="step2"),
    }
    assert len(hashes) == 4


def test_one_job_per_model_and_revision_in_file_order():
    data = copy.deepcopy(BASE)
    data["models"] = [{"name": "a", "path": "org/a", "revisions": ["step1", "step2"]}, {"name": "b", "path": "/ckpt/b"}]
    jobs = plan_sweep(parse(data), ["t1", "t2"])
    assert [(j.key, j.label, j.revision) for j in jobs] == [
        ("org__a@step1", "a@step1", "step1"),
        ("org__a@step2", "a@step2", "step2"),
        ("__ckpt__b", "b", None),
    ]
    assert all([u.task for u in j.units] == ["t1", "t2"] for j in jobs)
    assert len({u.hash for j in jobs for u in j.units}) == 6


def test_folders_of_revision_templates_and_overrides():
    data = copy.deepcopy(BASE)
    data["models"] = [
        {"name": "c", "path": "/ckpt/run/step{revision}", "revisions": [100, 200]},
        {"name": "d", "path": "org/d", "folder": "my-d"},
    ]
    config = parse(data)
    jobs = plan_sweep(config, ["t"])
    assert [(j.key, j.path) for j in jobs] == [
        ("__ckpt__run__step100", "/ckpt/run/step100"),
        ("__ckpt__run__step200", "/ckpt/run/step200"),
        ("my-d", "org/d"),
    ]
    # the revision is in the path: no revision= model argument
    assert "pretrained=/ckpt/run/step100," in ",".join(harness_command(config, jobs[0], "t", Path("/o/run.json"))) + ","
    assert model_folder(config.models[1], "r1") == "my-d@r1"


def test_two_models_writing_to_one_folder_is_an_error():
    data = copy.deepcopy(BASE)
    data["models"] = [
        {"name": "fp32", "path": "org/a"},
        {"name": "fp16", "path": "org/a", "model_args": {"dtype": "float16"}},
    ]
    with pytest.raises(
        SweepConfigError,
        match="'fp32' and 'fp16' would write to the same folder 'org__a'; give one of them a `folder:`",
    ):
        plan_sweep(parse(data), ["t"])


def command(data, revision_index=0):
    config = parse(data)
    job = plan_sweep(config, ["mirage_arith_add_1d"])[revision_index]
    return harness_command(config, job, "mirage_arith_add_1d", Path("/o/.sweep/staging/h/run.json"))


def test_plain_hf_command():
    data = copy.deepcopy(BASE)
    data.update(python="py", include_path="/tasks")
    data["harness"].update(device="cuda:0", gen_kwargs="temperature=0", extra_args=["--seed", "7"])
    data["models"][0]["revisions"] = ["step1"]
    assert command(data) == [
        "py",
        "-m",
        "lm_eval_mirage.cli.main",
        "run",
        "--model",
        "hf",
        "--model_args",
        "pretrained=org/model,revision=step1,dtype=float32",
        "--tasks",
        "mirage_arith_add_1d",
        "--include_path",
        "/tasks",
        "--num_fewshot",
        "0",
        "--limit",
        "4",
        "--batch_size",
        "4",
        "--device",
        "cuda:0",
        "--gen_kwargs",
        "temperature=0",
        "--log_samples",
        "--output_path",
        "/o/.sweep/staging/h/run.json",
        "--seed",
        "7",
    ]


@pytest.mark.parametrize(
    "backend,parallel,gpus,launcher,model_args",
    [
        (
            "hf",
            {"data": 2},
            2,
            ["accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"],
            "pretrained=org/model,dtype=float32",
        ),
        ("hf", {"shard": True}, 2, [], "pretrained=org/model,dtype=float32,parallelize=True"),
        (
            "hf-mirage",
            {"data": 2, "shard": True},
            4,
            ["--num_processes", "2"],
            "pretrained=org/model,dtype=float32,parallelize=True",
        ),
        (
            "vllm",
            {"tensor": 2, "data": 2},
            4,
            [],
            "pretrained=org/model,dtype=float32,tensor_parallel_size=2,data_parallel_size=2",
        ),
        ("vllm", {"tensor": 4}, 4, [], "pretrained=org/model,dtype=float32,tensor_parallel_size=4"),
    ],
)
def test_multi_gpu_commands(backend, parallel, gpus, launcher, model_args):
    data = copy.deepcopy(BASE)
    data.update(parallel=parallel, resources={"gpus": gpus})
    data["harness"]["backend"] = backend
    cmd = command(data)
    assert cmd[cmd.index("--model_args") + 1] == model_args and cmd[cmd.index("--model") + 1] == backend
    text = " ".join(cmd)
    if launcher:
        assert " ".join(launcher) in text and text.index("accelerate") < text.index("-m lm_eval_mirage.cli.main run")
    else:
        assert "accelerate" not in text


def test_local_completions_uses_model_not_pretrained():
    data = copy.deepcopy(BASE)
    data["harness"]["backend"] = "local-completions"
    data["models"][0]["model_args"] = {"base_url": "http://h:1/v1/completions"}
    cmd = command(data)
    assert cmd[cmd.index("--model_args") + 1] == "model=org/model,base_url=http://h:1/v1/completions"


INDEX = {  # name -> (kind, tags): a stand-in for the harness's task index
    "mirage_arith_add_1d": ("task", {"mirage_arith", "mirage_arith_add"}),
    "mirage_arith_add_2d": ("task", {"mirage_arith", "mirage_arith_add"}),
    "mirage_arith_sub_1d": ("task", {"mirage_arith", "mirage_arith_sub"}),
    "mirage_arith": ("tag", set()),
    "mirage_arith_add": ("tag", set()),
    "mirage_arith_sub": ("tag", set()),
    "my_group": ("group", set()),
}
DEFAULTS = {**INDEX, "lambada_openai": ("task", set()), "arc_easy": ("task", {"ai2_arc"}), "ai2_arc": ("tag", set())}


def expand(patterns):
    calls = []

    def index(with_defaults):
        calls.append(with_defaults)
        return DEFAULTS if with_defaults else INDEX

    data = copy.deepcopy(BASE)
    data["tasks"] = patterns
    return expand_tasks(parse(data), index=index), calls


def test_globs_expand_in_file_order_without_duplicates():
    assert expand(["mirage_arith_sub_1d", "mirage_arith_*_1d", "my_group"]) == (
        ("mirage_arith_sub_1d", "mirage_arith_add_1d", "my_group"),
        [False],
    )


def test_tags_become_their_tasks():
    assert expand(["mirage_arith_add"])[0] == ("mirage_arith_add_1d", "mirage_arith_add_2d")
    # a glob that also matches tags: each task once
    assert expand(["mirage_arith*"])[0] == ("mirage_arith_add_1d", "mirage_arith_add_2d", "mirage_arith_sub_1d")


def test_builtin_tasks_are_indexed_only_when_needed():
    assert expand(["lambada_openai", "ai2_arc", "mirage_arith_add_1d"]) == (
        ("lambada_openai", "arc_easy", "mirage_arith_add_1d"),
        [False, True],
    )


def test_unknown_task_is_an_error_naming_it():
    with pytest.raises(SweepConfigError, match="tasks: 'mirage_arith_add_1' matches no task"):
        expand(["mirage_arith_add_1"])


def test_real_plugin_tasks_expand_without_indexing_the_builtins():
    data = copy.deepcopy(BASE)
    data["tasks"] = ["mirage_arith_add_1*", "mirage_paper_mul_2d"]
    assert expand_tasks(parse(data)) == (
        "mirage_arith_add_10d",
        "mirage_arith_add_10d_ll",
        "mirage_arith_add_1d",
        "mirage_arith_add_1d_ll",
        "mirage_paper_mul_2d",
    )


def _plugin_tasks() -> str:
    from lm_eval_mirage.tasks import tasks_path

    return tasks_path()


@pytest.mark.parametrize(
    "folder", [_plugin_tasks, lambda: str(Path(__file__).parent / "data" / "task_index")], ids=["plugin", "edge-cases"]
)
def test_light_index_agrees_with_the_harness_index(folder):
    # plan.py reads task folders itself (no lm_eval import, ~5 s saved per sweep command); the harness's own
    # TaskManager is the oracle: the plugin's tasks, and a folder with a group, string and list tags, a nested
    # include, a template that is not *.yaml, a !function and a file that is neither task nor group
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.sweep.plan import _light_index

    harness = TaskManager(include_path=[folder()], include_defaults=False).task_index
    kinds = {name: {"TAG": "tag", "GROUP": "group"}.get(e.kind.name, "task") for name, e in harness.items()}
    tags = {name: set(e.tags or ()) for name, e in harness.items() if kinds[name] == "task"}
    members = {
        name: set(e.tags or ()) for name, e in harness.items() if kinds[name] == "tag"
    }  # the harness keeps a tag's tasks there
    light = _light_index([Path(folder())])
    assert {n: k for n, (k, _) in light.items()} == kinds
    assert {n: t for n, (k, t) in light.items() if k == "task"} == tags
    assert {tag: {n for n, (k, t) in light.items() if k == "task" and tag in t} for tag in members} == members
