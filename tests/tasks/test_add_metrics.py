"""Adding the plugin's metrics to real harness task definitions (built-in YAMLs, local fixture data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import lm_eval
from lm_eval_mirage.tasks.add_metrics import ADDABLE, augment_config

FIXTURES = Path(__file__).parent / "fixtures"
HARNESS_TASKS = Path(lm_eval.__file__).parent / "tasks"
ORIGINALS = {
    "arc_easy": ("arc/arc_easy.yaml", ("train", "validation", "test"), "arc"),
    "sciq": ("sciq/sciq.yaml", ("train", "validation", "test"), "sciq"),
    "gsm8k": ("gsm8k/gsm8k.yaml", ("train", "test"), "gsm8k"),
    "lambada_openai": ("lambada/lambada_openai.yaml", ("test",), "lambada"),
}
MC_METRICS = ("brier_score", "binary_brier_score", "correct_choice_prob", "correct_choice_logprob", "ece")


def write_local_copies(folder: Path) -> None:
    """Each original task file, included unchanged, with its hub dataset replaced by a local fixture."""
    for task, (rel, splits, stem) in ORIGINALS.items():
        files = "".join(f"    {s}: {FIXTURES / f'{stem}_{s}.jsonl'}\n" for s in splits)
        (folder / f"{task}_local.yaml").write_text(
            f"include: {HARNESS_TASKS / rel}\ntask: {task}_local\ntag: []\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n{files}"
        )


def test_augment_keeps_the_original_metrics_and_skips_what_does_not_apply():
    cfg = {"task": "t", "output_type": "multiple_choice", "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]}
    new, skipped = augment_config(cfg, ["brier_score", "ece", "token_edit_distance", "target_prob"])
    assert [m["metric"] for m in new["metric_list"]] == ["acc", "acc_norm", "brier_score", "ece"]
    assert skipped == ["token_edit_distance", "target_prob"]
    assert new["class"].__name__ == "MirageTask"
    assert cfg["metric_list"] == [{"metric": "acc"}, {"metric": "acc_norm"}]  # input untouched


def test_augment_uses_the_harness_defaults_when_a_task_lists_no_metrics():
    new, _ = augment_config({"task": "t", "output_type": "loglikelihood"}, ["target_prob"])
    assert [m["metric"] for m in new["metric_list"]] == ["perplexity", "acc", "target_prob"]


def test_generation_tasks_need_no_task_class():
    new, skipped = augment_config({"task": "g", "output_type": "generate_until", "metric_list": [{"metric": "exact_match"}]}, ["token_edit_distance"])
    assert "class" not in new and not skipped


def test_unknown_metric_is_a_named_error():
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['brier'\].*accepted: .*brier_score"):
        augment_config({"task": "t", "output_type": "multiple_choice"}, ["brier"])


def test_process_results_on_a_real_task_definition(tmp_path):
    """MirageTask scores arc_easy's own docs: -inf, ties and different choice counts, originals unchanged."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.metrics import choice
    from lm_eval_mirage.tasks.add_metrics import with_metrics

    write_local_copies(tmp_path)
    tm = TaskManager(include_path=str(tmp_path), include_defaults=False)
    cfg = with_metrics("arc_easy_local", list(MC_METRICS) + ["token_edit_distance"], task_manager=tm)
    task = tm.load([cfg])["tasks"]
    task = task[0] if isinstance(task, list) else next(iter(task.values())) if isinstance(task, dict) else task
    plain = ConfigurableTask(config={k: v for k, v in cfg.items() if k not in ("class", "metric_list")} | {"metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]})
    docs = list(task.test_docs())
    cases = [
        (docs[0], [(-1.0, False), (-math.inf, False), (-0.5, True)]),  # 3 choices, one impossible
        (docs[1], [(-2.0, False)] * 5),  # 5 tied choices
        (docs[3], [(-1e4, False), (-1e4 - 1.0, False)]),  # 2 choices, very negative
    ]
    for doc, results in cases:
        out = task.process_results(doc, results)
        base = plain.process_results(doc, results)
        assert {k: out[k] for k in base} == base
        gold = task.doc_to_target(doc)
        lls = [r[0] for r in results]
        assert out["brier_score"] == pytest.approx(choice.brier_score(gold, lls))
        assert out["correct_choice_prob"] == pytest.approx(choice.correct_choice_prob(gold, lls))
        assert all(math.isfinite(out[m]) for m in ("brier_score", "binary_brier_score", "correct_choice_prob"))
    assert task.aggregation()["ece"]([(0.9, 1), (0.9, 0)]) == pytest.approx(0.4)


def test_likelihood_values_count_tokens_then_fall_back_to_characters(tiny_model):
    from transformers import AutoTokenizer

    from lm_eval_mirage.models.result import LoglikelihoodResult
    from lm_eval_mirage.tasks.add_metrics import _loglikelihood_values

    tok = AutoTokenizer.from_pretrained(tiny_model)
    by_tokenizer = _loglikelihood_values([(-6.0, False)], " mat", tok)
    assert by_tokenizer["target_tokens"] == 4 and by_tokenizer["per_token_logprob"] == -1.5
    by_chars = _loglikelihood_values([(-6.0, True)], " mat", None)
    assert by_chars["target_chars"] == 4 and "per_token_logprob" not in by_chars
    assert by_chars["greedy_exact_match"] == 1.0
    detailed = LoglikelihoodResult(-6.0, False, [-3.0, -3.0], [5, 6], [False, False])
    assert _loglikelihood_values([detailed], " mat", tok)["target_tokens"] == 2


def _results(out: Path) -> dict:
    (path,) = sorted(out.rglob("results_*.json"))
    return json.loads(path.read_text())["results"]


@pytest.mark.slow
def test_cli_adds_metrics_to_real_tasks_and_leaves_originals_unchanged(tiny_model, tmp_path, run_cli):
    tasks_dir = tmp_path / "tasks"
    tasks_dir.mkdir()
    write_local_copies(tasks_dir)
    # The documented YAML recipe for plain lm_eval, and the harness's built-in Brier on a fixed-choice task.
    (tasks_dir / "arc_easy_recipe.yaml").write_text(
        "include: arc_easy_local.yaml\ntask: arc_easy_recipe\nclass: !function lm_eval_mirage.tasks.add_metrics.MirageTask\n"
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\n  - metric: brier_score\n  - metric: correct_choice_prob\n"
    )
    (tasks_dir / "sciq_builtin_brier.yaml").write_text(
        "include: sciq_local.yaml\ntask: sciq_builtin_brier\nmetric_list:\n  - metric: acc\n  - metric: brier_score\n"
    )
    model = ["--model", "hf", "--model_args", f"pretrained={tiny_model},logits_cache=False", "--num_fewshot", "0"]
    locals_ = "arc_easy_local,sciq_local,gsm8k_local,lambada_openai_local"
    run_cli(["lm_eval", "--include_path", str(tasks_dir), "--tasks", locals_ + ",arc_easy_recipe,sciq_builtin_brier",
             *model, "--output_path", str(tmp_path / "plain"), "--gen_kwargs", "max_gen_toks=8"])
    added = run_cli(["lm-eval-mirage", "run", "--include_path", str(tasks_dir), "--tasks", locals_,
                     "--add_metrics", "brier_score,correct_choice_prob,ece,token_edit_distance,target_prob,per_token_logprob",
                     *model, "--output_path", str(tmp_path / "added"), "--gen_kwargs", "max_gen_toks=8", "--log_samples"])
    plain, new = _results(tmp_path / "plain"), _results(tmp_path / "added")

    # Original metrics unchanged, ours next to them.
    for task in ("arc_easy_local", "sciq_local", "gsm8k_local", "lambada_openai_local"):
        for key, value in plain[task].items():
            if key != "alias" and not key.endswith("stderr,none") and "stderr" not in key:
                assert new[task][key] == pytest.approx(value), (task, key)
    for metric in ("brier_score,none", "correct_choice_prob,none", "ece,none", "acc,none", "acc_norm,none"):
        assert metric in new["arc_easy_local"]
    assert "token_edit_distance,flexible-extract" in new["gsm8k_local"] and "exact_match,strict-match" in new["gsm8k_local"]
    # Stock hf gives no per-token detail: L is counted with the model's tokenizer (named by `pretrained`).
    assert {"target_prob,none", "per_token_logprob,none", "perplexity,none", "acc,none"} <= set(new["lambada_openai_local"])
    # Same values as the YAML recipe, and as the harness's own Brier where that one works (fixed choice count).
    assert new["arc_easy_local"]["brier_score,none"] == pytest.approx(plain["arc_easy_recipe"]["brier_score,none"])
    assert new["arc_easy_local"]["correct_choice_prob,none"] == pytest.approx(plain["arc_easy_recipe"]["correct_choice_prob,none"])
    assert new["sciq_local"]["brier_score,none"] == pytest.approx(plain["sciq_builtin_brier"]["brier_score,none"], rel=1e-9)
    # One clear warning per task for metrics that do not apply.
    assert "arc_easy_local (multiple_choice): --add_metrics skips token_edit_distance, target_prob, per_token_logprob" in added.stderr


def test_cli_rejects_unknown_metrics(run_cli):
    proc = run_cli(["lm-eval-mirage", "run", "--tasks", "mirage_arith_add_1d", "--model", "hf", "--add_metrics", "bleurt"], check=False)
    assert proc.returncode == 2
    assert "unknown metric(s) for --add_metrics: bleurt" in proc.stderr
