"""The pure parts of the benchmark scripts: plans, inputs, task variants, the GPU model and wheelhouse.

The measurements themselves are run by hand (benchmarks/run_all.py); nothing here asserts on time.
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


# startup.py has no doctests (its wrapper here passed without running any): not listed
@pytest.mark.parametrize("name", ["overhead", "metrics_micro", "run_all"])
def test_doctests(bench, name):
    result = doctest.testmod(bench(name))
    assert result.failed == 0 and result.attempted > 0


# run_all -------------------------------------------------------------------------------------------------------


def test_run_all_plan(bench):
    run_all = bench("run_all")
    assert [n for n, _ in run_all.plan(None, [])] == [
        n for n in run_all.SCRIPTS if (BENCH_DIR / run_all.SCRIPTS[n]).is_file()
    ]
    assert [n for n, _ in run_all.plan(None, ["startup", "overhead"])] == [
        n for n, _ in run_all.plan(None, []) if n not in ("startup", "overhead")
    ]
    with pytest.raises(SystemExit, match="unknown benchmark.*nope"):
        run_all.plan(["nope"], [])


def test_run_all_completes_foreign_records_only(bench, tmp_path):
    run_all = bench("run_all")
    foreign = tmp_path / "rescore.json"
    foreign.write_text(
        json.dumps({"benchmark": "rescore", "machine": "x86_64", "figures": [{"name": "a", "value": 1, "unit": "s"}]}),
        encoding="utf-8",
    )
    run_all.complete_record(foreign, mode="quick")
    data = json.loads(foreign.read_text(encoding="utf-8"))
    assert (
        data["machine_added_by"] == "run_all"
        and data["machine"]["cpu_cores"] >= 1
        and data["mode"] == "quick"
        and data["date"].endswith("Z")
    )
    assert data["machine_raw"] == "x86_64"
    own = tmp_path / "own.json"
    own.write_text(
        json.dumps({"benchmark": "x", "mode": "full", "date": "d", "machine": {"cpu_model": "m"}, "figures": []}),
        encoding="utf-8",
    )
    before = own.read_text(encoding="utf-8")
    run_all.complete_record(own, mode="quick")
    assert own.read_text(encoding="utf-8") == before


# overhead ------------------------------------------------------------------------------------------------------


def test_overhead_variants_differ_only_in_metric_list(bench, tmp_path):
    from lm_eval.tasks._yaml_loader import load_yaml

    overhead = bench("overhead")
    files = overhead.generation_task_files()
    assert len(files) == 32 and not any(f.stem.endswith("_ll") for f in files)
    picked = overhead.spread_pick(files, 3)
    names = overhead.write_variants(tmp_path, picked)
    assert names == {
        "plugin": [f"bench_plugin_{f.stem}" for f in picked],
        "exact_match": [f"bench_em_{f.stem}" for f in picked],
    }
    for src, plugin_name, em_name in zip(picked, names["plugin"], names["exact_match"]):
        shipped = load_yaml(src, resolve_func=False)
        plugin = load_yaml(tmp_path / f"{plugin_name}.yaml", resolve_func=False)
        em = load_yaml(tmp_path / f"{em_name}.yaml", resolve_func=False)
        assert plugin.pop("task") == plugin_name and em.pop("task") == em_name
        assert plugin.pop("tag") == ["bench_plugin"] and em.pop("tag") == ["bench_exact_match"]
        shipped.pop("task"), shipped.pop("tag")
        assert plugin == shipped
        assert em.pop("metric_list") == [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}]
        shipped.pop("metric_list")
        assert em == shipped


def test_spread_pick(bench):
    pick = bench("overhead").spread_pick
    assert pick(list(range(32)), 4) == [0, 8, 16, 24]
    assert pick([1, 2], 5) == [1, 2] and pick([1, 2], None) == [1, 2]
    with pytest.raises(ValueError, match="--tasks"):
        pick([1, 2, 3], 0)


# metrics_micro -------------------------------------------------------------------------------------------------


def test_answer_pairs_are_realistic_and_deterministic(bench):
    micro = bench("metrics_micro")
    pairs = micro.answer_pairs(300)
    assert pairs == micro.answer_pairs(300) and len({g for g, _ in pairs}) == 300
    for gold, out in pairs:
        assert len(gold) == len(out) == 20 and gold[0] != "0" and out.isdigit()
        assert 1 <= sum(a != b for a, b in zip(gold, out)) <= 2


def test_per_call_us_reports_every_repeat(bench):
    micro = bench("metrics_micro")
    median_us, samples = micro.per_call_us(len, ["ab", "cde"], repeats=3, min_seconds=0.001)
    assert len(samples) == 3 and median_us == sorted(samples)[1] and median_us > 0


def test_micro_cases_cover_every_metric_module(bench):
    cases, (base_name, base_fn, base_inputs) = bench("metrics_micro").cases(20)
    names = [c[0] for c in cases]
    assert (
        len(names) == len(set(names)) and "token_edit_distance_20d" in names and base_name == "exact_match_harness_20d"
    )
    for name, fn, inputs, what, headline, per in cases:  # every case runs on its inputs
        fn(inputs[0])
        assert per >= 1 and what
    assert base_fn(base_inputs[0]) == {"exact_match": 0.0}  # the pairs differ, so the harness's exact match is 0


# startup -------------------------------------------------------------------------------------------------------


def test_startup_suite_specs_and_console_scripts(bench):
    startup = bench("startup")
    specs = startup.suite_specs()
    assert len(specs) == 32 and {s["operation"] for s in specs} == {"add", "sub", "mul"}
    assert Path(startup.console_script("lm_eval")).exists() and Path(startup.console_script("lm-eval-mirage")).exists()
    with pytest.raises(SystemExit, match="not found"):
        startup.console_script("no-such-console-script-xyz")


# gpu -----------------------------------------------------------------------------------------------------------


def test_padded_tokenizer(bench):
    gpu = bench("gpu")
    tok = gpu.padded_char_tokenizer(150)
    text = "Q: What is 48 plus 76? A: 124\n"
    assert len(tok) == 150 and tok.decode(tok.encode(text)) == text and len(tok.encode(text)) == len(text)
    assert tok.decode([149, 148]) == "<|x149|><|x148|>"
    with pytest.raises(ValueError, match="vocab_size must be >="):
        gpu.padded_char_tokenizer(10)


@pytest.mark.parametrize(("shape", "params"), [("pythia-410m", 405_334_016), ("pythia-160m", 162_322_944)])
def test_shapes_match_the_published_pythia_sizes(bench, shape, params):
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    gpu = bench("gpu")
    config = GPTNeoXConfig(
        **gpu.SHAPES[shape], max_position_embeddings=2048, use_parallel_residual=True, tie_word_embeddings=False
    )
    with torch.device("meta"):  # no memory: only the parameter count is checked (Biderman et al. 2023, table 1)
        model = GPTNeoXForCausalLM(config)
    assert sum(p.numel() for p in model.parameters()) == params


def test_build_model_loads_with_its_tokenizer(bench, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    info = bench("gpu").build_model(tmp_path / "m", "tiny", dtype="float32")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    tok = AutoTokenizer.from_pretrained(tmp_path / "m")
    assert model.config.model_type == "gpt_neox" and model.config.vocab_size == len(tok) == 512
    assert info["parameters"] == sum(p.numel() for p in model.parameters())


def test_wheelhouse_leaves_out_what_the_gpu_machine_has(bench, tmp_path):
    from importlib import metadata

    gpu = bench("gpu")
    have = tmp_path / "freeze.txt"
    have.write_text("peft==0.1\n# comment\npyarrow\n", encoding="utf-8")
    commands = gpu.wheel_commands(tmp_path, "3.12", {"peft", "pyarrow"})
    by_name = {name: cmd for name, cmd, _ in commands}
    assert commands[0][1][-5:] == ["wheel", "--no-deps", "-w", str(tmp_path), str(gpu.REPO)]
    assert by_name["lm-eval"][-1] == f"lm-eval=={metadata.version('lm_eval')}"
    assert {"--only-binary=:all:", "--no-deps"} <= set(by_name["lm-eval"]) and by_name["lm-eval"][
        by_name["lm-eval"].index("--python-version") + 1
    ] == "3.12"
    for present in ("torch", "transformers", "accelerate", "tokenizers", "huggingface-hub", "peft", "pyarrow"):
        assert present not in by_name
    assert {"datasets", "evaluate", "editdistance"} <= set(by_name)
    proc = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / "gpu.py"),
            "wheels",
            "--dest",
            str(tmp_path / "w"),
            "--have",
            str(have),
            "--dry-run",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        proc.returncode == 0
        and "lm-eval==" in proc.stdout
        and "peft==" not in proc.stdout
        and not list((tmp_path / "w").glob("*"))
    )


def test_gpu_sh_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(BENCH_DIR / "gpu.sh")], capture_output=True, timeout=30).returncode == 0


# analyze -------------------------------------------------------------------------------------------------------


def test_analyze_sizes_and_family(bench, tmp_path, monkeypatch):
    analyze = bench("analyze")
    lines = {label: models * problems * 2 * len(analyze.TASKS) for label, (models, problems) in analyze.SIZES.items()}
    assert lines == {"64k": 64_000, "512k": 512_000, "10M": 10_240_000}
    monkeypatch.setitem(analyze.SIZES, "tiny", (2, 3))
    folder = analyze.make_family(tmp_path, "tiny")
    files = sorted(folder.rglob("samples_*.jsonl"))
    assert len(files) == 2 * 16 and sum(len(f.read_text().splitlines()) for f in files) == 2 * 16 * 3
    assert (
        analyze.make_family(tmp_path, "tiny") == folder
        and files[0].stat().st_mtime_ns == sorted(folder.rglob("samples_*.jsonl"))[0].stat().st_mtime_ns
    )
