"""The log-likelihood twins ``mirage_arith_*_ll``: configs, ``process_results``, greedy EM equality, real CLIs."""

from __future__ import annotations

import fnmatch
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_mirage.models.result import LoglikelihoodResult
from lm_eval_mirage.tasks import configs, likelihood, tasks_path

LL_METRICS = (
    "greedy_exact_match",
    "target_logprob",
    "target_prob",
    "per_token_logprob",
    "per_token_prob",
    "target_tokens",
)


def _only(pattern: str, folder: Path) -> Path:
    found = sorted(folder.rglob(pattern))
    assert len(found) == 1, f"expected one {pattern} under {folder}, found {found}"
    return found[0]


def _samples(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- configs ---------------------------------------------------------------------------------------------


def test_every_generation_task_has_a_loglikelihood_twin():
    defs = configs.task_defs()
    gen = [t for t in defs if not t.is_loglikelihood]
    ll = {t.name: t for t in defs if t.is_loglikelihood}
    assert len(gen) == len(ll) == 32
    for t in gen:
        twin = ll[t.name + "_ll"]
        assert (twin.operation, twin.digits, twin.mode) == (t.operation, t.digits, t.mode)
    assert {"mirage_paper_mul_2d_ll", "mirage_paper_add_4d_ll"} <= set(ll)


def test_ll_glob_matches_the_30_arith_twins_and_no_tag():
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=tasks_path(), include_defaults=False)
    assert {
        "mirage_ll_arith",
        "mirage_ll_arith_add",
        "mirage_ll_arith_sub",
        "mirage_ll_arith_mul",
        "mirage_ll_paper",
    } <= set(tm.all_tags)
    matched = tm.match_tasks(["mirage_arith_*_ll"])
    assert len(matched) == 30 and all(m.endswith("d_ll") for m in matched)
    assert not set(matched) & (set(tm.all_tags) | set(tm.all_groups))
    assert not {t for t in tm.match_tasks(["mirage_arith_*"]) if "ll" in t} & set(tm.all_tags)
    # The generation suite stays selectable on its own (its names end in "d").
    gen = [m for m in tm.match_tasks(["mirage_arith_*d"]) if m not in tm.all_tags]
    assert len(gen) == 30 and not any(fnmatch.fnmatch(m, "*_ll") for m in gen)


def test_twins_have_the_generation_tasks_docs_and_prompts_and_score_answer_plus_stop(tiny_model):
    from lm_eval.tasks import TaskManager, get_task_dict

    tm = TaskManager(
        include_path=tasks_path(), include_defaults=False, metadata={"pretrained": str(tiny_model), "num_problems": 12}
    )
    tasks = get_task_dict(["mirage_paper_add_4d", "mirage_paper_add_4d_ll"], tm)
    gen, ll = tasks["mirage_paper_add_4d"], tasks["mirage_paper_add_4d_ll"]
    for task in (gen, ll):
        task.set_fewshot_seed(1234)  # what simple_evaluate does for every task
        task.build_all_requests(limit=12, rank=0, world_size=1)
    assert len(gen.instances) == len(ll.instances) == 12
    for g, l in zip(sorted(gen.instances, key=lambda i: i.doc_id), sorted(ll.instances, key=lambda i: i.doc_id)):
        assert g.doc == l.doc
        assert l.args[0] == g.args[0]  # identical prompt, few-shot examples included
        assert l.args[1] == f" {l.doc['answer']}\n" == likelihood.target_text(l.doc)
        assert g.args[1]["until"] == ["\n"]  # ... and the newline is what generation stops on
        assert l.args[0].count("\nQ: What is") == 2


# --- process_results --------------------------------------------------------------------------------------


def test_process_results_with_per_token_detail():
    resp = LoglikelihoodResult(-3.0, False, [-1.0, -1.5, -0.5], [10, 11, 12], [True, False, True])
    out = likelihood.process_results({"answer": "12345"}, [resp])  # L comes from the response, not the doc
    assert out == {
        "greedy_exact_match": 0.0,
        "target_logprob": -3.0,
        "target_prob": math.exp(-3.0),
        "per_token_logprob": -1.0,
        "per_token_prob": math.exp(-1.0),
        "target_tokens": 3,
        "token_logprobs": [-1.0, -1.5, -0.5],
    }


def test_process_results_counts_with_the_models_tokenizer_for_plain_pairs(tiny_model):
    likelihood.load_arith_ll(operation="add", digits=1, num_problems=2, pretrained=str(tiny_model))
    out = likelihood.process_results({"answer": "12"}, [(-8.0, True)])  # " 12\n": 4 character tokens
    assert out["target_tokens"] == 4 and out["per_token_logprob"] == -2.0 and out["greedy_exact_match"] == 1.0
    assert "token_logprobs" not in out and "per_char_prob" not in out


def test_process_results_falls_back_to_characters_and_says_so(tmp_path):
    likelihood.load_arith_ll(operation="add", digits=1, num_problems=2)  # no model arguments at all
    out = likelihood.process_results({"answer": "7"}, [(-6.0, False)])
    assert out["target_chars"] == 3 and out["per_char_logprob"] == -2.0 and out["per_char_prob"] == math.exp(-2.0)
    assert not any(k.startswith("per_token") or k == "target_tokens" for k in out)
    # An unloadable tokenizer (an API model's name, say) falls back the same way, with a warning.
    likelihood.load_arith_ll(operation="add", digits=1, num_problems=2, pretrained=str(tmp_path / "no-such-model"))
    assert "per_char_prob" in likelihood.process_results({"answer": "7"}, [(-6.0, False)])


def test_process_results_rejects_what_is_not_one_loglikelihood_pair():
    with pytest.raises(ValueError, match="expected one"):
        likelihood.process_results({"answer": "1"}, [(-1.0, True), (-2.0, False)])
    with pytest.raises(ValueError, match="target log-probability must be a log-probability"):
        likelihood.process_results({"answer": "1"}, [(float("nan"), True)])


# --- greedy exact match equals greedy generation, doc by doc, on a trained model --------------------------


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory) -> Path:
    """A tiny GPT-2 trained briefly on 1-digit addition: right on some problems, wrong on others.

    About 9 s of CPU time on one thread; deterministic (no wall-time cap, so a busy machine gets the same
    model, only later)."""
    from lm_eval_mirage.zoo.train import train_tiny_arith

    return train_tiny_arith(tmp_path_factory.mktemp("models") / "add1", steps=250, batch_size=16, seed=0, num_threads=1)


def test_greedy_exact_match_equals_greedy_generation_doc_by_doc(trained_model):
    import lm_eval

    from lm_eval_mirage import models

    models.register()
    out = lm_eval.simple_evaluate(
        model="hf-mirage",
        model_args={"pretrained": str(trained_model), "device": "cpu"},
        tasks=["mirage_arith_add_1d", "mirage_arith_add_1d_ll"],
        task_manager=lm_eval.tasks.TaskManager(include_path=tasks_path(), include_defaults=False),
        batch_size=1,  # unpadded passes: generation and scoring see exactly the same inputs
        limit=40,
        log_samples=True,
        bootstrap_iters=0,
    )
    gen = {s["doc_id"]: s for s in out["samples"]["mirage_arith_add_1d"] if s["filter"] == "raw"}
    ll = {s["doc_id"]: s for s in out["samples"]["mirage_arith_add_1d_ll"]}
    assert len(gen) == len(ll) == 40
    agree = []
    for doc_id, s in ll.items():
        # Greedy generation wrote exactly the target and then stopped at the newline.
        generated = gen[doc_id]["resps"][0][0]
        gen_exact = generated == " " + s["doc"]["answer"]
        assert s["greedy_exact_match"] == float(gen_exact), (s["doc"], repr(generated), s["token_logprobs"])
        agree.append(gen_exact)
        assert s["target_tokens"] == len(s["token_logprobs"]) == len(s["target"])
        assert math.fsum(s["token_logprobs"]) == pytest.approx(s["target_logprob"], rel=1e-5, abs=1e-5)
        assert s["target_prob"] == pytest.approx(math.exp(s["target_logprob"]), rel=1e-9)
    hits = sum(agree)
    print(f"greedy exact match {hits}/{len(agree)}")
    assert 0 < hits < len(agree), f"the trained model should be right on some problems only, got {hits}/{len(agree)}"
    res = out["results"]["mirage_arith_add_1d_ll"]
    assert res["greedy_exact_match,none"] == pytest.approx(hits / len(agree))
    # A greedy target is the argmax at every step, so its per-token probability is high; the sharp/smooth
    # contrast of the paper: EM is 0/1 per doc while per_token_prob varies continuously.
    assert res["per_token_prob,none"] > res["target_prob,none"] > 0


# --- the real command lines --------------------------------------------------------------------------------

CLI_DATA = ["--limit", "1", "--metadata", '{"num_problems": 3}', "--log_samples"]


@pytest.fixture(scope="module")
def mirage_run(tiny_model, tmp_path_factory) -> Path:
    """``lm-eval-mirage run --tasks 'mirage_arith_*_ll,mirage_paper_*_ll' --model hf-mirage``, once (module scope,
    so not through the function-scoped ``run_cli`` fixture)."""
    out = tmp_path_factory.mktemp("mirage-run")
    exe = Path(sys.executable).parent / "lm-eval-mirage"
    proc = subprocess.run(
        [
            str(exe),
            "run",
            "--tasks",
            "mirage_arith_*_ll,mirage_paper_*_ll",
            "--model",
            "hf-mirage",
            "--model_args",
            f"pretrained={tiny_model}",
            *CLI_DATA,
            "--output_path",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, f"lm-eval-mirage run exited {proc.returncode}\n{proc.stderr[-8000:]}"
    return out


@pytest.mark.slow
def test_lm_eval_mirage_run_reports_every_ll_task_with_hf_mirage(mirage_run):
    results = json.loads(_only("results_*.json", mirage_run).read_text())
    ll_tasks = {t.name for t in configs.task_defs() if t.is_loglikelihood}
    assert set(results["results"]) == ll_tasks
    for name, res in results["results"].items():
        for metric in LL_METRICS:
            assert isinstance(res[f"{metric},none"], float), (name, metric)
        assert isinstance(res["token_logprobs,none"], float)
        assert not any(k.startswith("per_char") for k in res)
    (s,) = _samples(_only("samples_mirage_arith_mul_3d_ll_*.jsonl", mirage_run))
    assert s["target"] == f" {s['doc']['answer']}\n" and s["filter"] == "none"
    assert isinstance(s["token_logprobs"], list) and len(s["token_logprobs"]) == s["target_tokens"] == len(s["target"])
    assert math.fsum(s["token_logprobs"]) == pytest.approx(s["target_logprob"], rel=1e-5)
    assert float(s["resps"][0][0][0]) == pytest.approx(s["target_logprob"], rel=1e-6)


@pytest.mark.slow
def test_plain_lm_eval_with_stock_hf_gives_the_sequence_metrics(tiny_model, mirage_run, tmp_path, run_cli):
    tasks = ["mirage_arith_add_2d_ll", "mirage_paper_mul_2d_ll"]
    run_cli(
        [
            "lm_eval",
            "--include_path",
            tasks_path(),
            "--tasks",
            ",".join(tasks),
            "--model",
            "hf",
            "--model_args",
            f"pretrained={tiny_model}",
            *CLI_DATA,
            "--output_path",
            str(tmp_path / "hf"),
        ]
    )
    results = json.loads(_only("results_*.json", tmp_path / "hf").read_text())["results"]
    for task in tasks:
        res = results[task]
        for metric in LL_METRICS:
            assert isinstance(res[f"{metric},none"], float), metric
        assert "token_logprobs,none" not in res  # stock hf returns no per-token values
        # The same doc through hf-mirage (the fixture's run): same values; L counted by the tokenizer here,
        # taken from the tokens scored there.
        (stock,) = _samples(_only(f"samples_{task}_*.jsonl", tmp_path / "hf"))
        (mirage,) = _samples(_only(f"samples_{task}_*.jsonl", mirage_run))
        assert stock["arguments"] == mirage["arguments"]
        assert stock["target_tokens"] == mirage["target_tokens"] == len(mirage["token_logprobs"])
        for key in ("target_logprob", "per_token_logprob"):
            assert stock[key] == pytest.approx(mirage[key], rel=1e-5, abs=1e-5), key
        assert stock["greedy_exact_match"] == mirage["greedy_exact_match"]
