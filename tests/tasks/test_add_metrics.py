"""Adding the plugin's metrics to real harness task definitions (built-in YAMLs, local fixture data)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from lm_eval_mirage.tasks.recipes import augment_metric_list, leaf_tasks, recipe_text

FIXTURES = Path(__file__).parent / "fixtures"
MC_METRICS = ("brier_score", "binary_brier_score", "correct_choice_prob", "correct_choice_logprob", "ece")


def test_augment_keeps_the_original_metrics_and_skips_what_does_not_apply():
    cfg = {"task": "t", "output_type": "multiple_choice", "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]}
    new, skipped = augment_metric_list(cfg, ["brier_score", "ece", "token_edit_distance", "target_prob"])
    assert [m["metric"] for m in new] == ["acc", "acc_norm", "brier_score", "ece"]
    assert new[2] == {"metric": "brier_score", "higher_is_better": False}
    assert skipped == ["token_edit_distance", "target_prob"]
    assert cfg["metric_list"] == [{"metric": "acc"}, {"metric": "acc_norm"}]  # input untouched


def test_augment_uses_the_harness_defaults_when_a_task_lists_no_metrics():
    new, _ = augment_metric_list({"task": "t", "output_type": "loglikelihood"}, ["target_prob"])
    assert [m["metric"] for m in new] == ["perplexity", "acc", "target_prob"]
    assert augment_metric_list({"task": "t", "output_type": "loglikelihood"}, ["ece"]) == (None, ["ece"])


def test_unknown_metric_is_a_named_error():
    with pytest.raises(ValueError, match=r"unknown metric\(s\) \['brier'\].*accepted: .*brier_score"):
        augment_metric_list({"task": "t", "output_type": "multiple_choice"}, ["brier"])


def test_recipe_is_the_documented_yaml_and_quotes_hostile_names(tmp_path):
    from lm_eval.tasks._yaml_loader import load_yaml

    original = tmp_path / "orig.yaml"
    original.write_text("task: orig\noutput_type: multiple_choice\ndoc_to_choice: ['a', 'b']\n")
    name = "t: x\n- y # $(touch z)"
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe_text(original, name, [{"metric": "acc"}, {"metric": "ece", "higher_is_better": False}]))
    cfg = load_yaml(path, resolve_func=True)
    assert cfg["task"] == name and cfg["output_type"] == "multiple_choice"
    assert cfg["class"].__name__ == "MirageTask"
    assert cfg["metric_list"][1] == {"metric": "ece", "higher_is_better": False}


def test_recipes_reach_tasks_through_globs_tags_and_groups(local_tasks):
    from lm_eval.tasks import TaskManager

    (local_tasks / "grp.yaml").write_text(
        "group: grp_local\ntask:\n  - sciq_local\n  - task: arc_easy_local\n    num_fewshot: 1\n"
        "  - task: inline_only\n    dataset_path: json\n"
    )
    (local_tasks / "tagged.yaml").write_text("include: gsm8k_local.yaml\ntask: gsm8k_tagged\ntag: [tag_local]\n")
    tm = TaskManager(include_path=str(local_tasks), include_defaults=False)
    tasks, unreached = leaf_tasks(tm, ["grp_local", "tag_local", "lambada_*"])
    assert sorted(tasks) == ["arc_easy_local", "gsm8k_tagged", "lambada_openai_local", "sciq_local"]
    assert unreached == ["inline_only (inline in group grp_local)"]


def test_process_results_on_a_real_task_definition(local_tasks):
    """MirageTask scores arc_easy's own docs: -inf, ties and different choice counts, originals unchanged."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.metrics import choice
    from lm_eval_mirage.tasks.add_metrics import with_metrics

    tm = TaskManager(include_path=str(local_tasks), include_defaults=False)
    cfg = with_metrics("arc_easy_local", list(MC_METRICS) + ["token_edit_distance"], task_manager=tm)
    task = tm.load([cfg])["tasks"]
    task = task[0] if isinstance(task, list) else next(iter(task.values())) if isinstance(task, dict) else task
    plain = ConfigurableTask(
        config={k: v for k, v in cfg.items() if k not in ("class", "metric_list")}
        | {"metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]}
    )
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
    assert task.higher_is_better()["brier_score"] is False and task.higher_is_better()["acc"] is True


def _built(tm, cfg):
    task = tm.load([cfg])["tasks"]
    return task[0] if isinstance(task, list) else next(iter(task.values())) if isinstance(task, dict) else task


def test_loglikelihood_L_counts_the_scored_continuation_only(tiny_model, local_tasks):
    """Bug 2: lambada scores doc_to_target (" mat") alone; L is 4 characters-tokens, not 5 with the delimiter."""
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.models.result import LoglikelihoodResult
    from lm_eval_mirage.tasks.add_metrics import with_metrics

    tm = TaskManager(include_path=str(local_tasks), include_defaults=False, metadata={"pretrained": str(tiny_model)})
    task = _built(tm, with_metrics("lambada_openai_local", ["target_tokens", "per_token_logprob"], task_manager=tm))
    doc = next(iter(task.test_docs()))
    assert task.doc_to_target(doc) == " mat" and task.config.target_delimiter == " "
    out = task.process_results(doc, [(-6.0, False)])
    assert out["target_tokens"] == 4 and out["per_token_logprob"] == -1.5
    detailed = LoglikelihoodResult(-6.0, False, [-3.0, -3.0], [5, 6], [False, False])
    assert task.process_results(doc, [detailed])["target_tokens"] == 2
    # no tokenizer known: characters, and the keys say so
    bare = TaskManager(include_path=str(local_tasks), include_defaults=False)
    task = _built(bare, with_metrics("lambada_openai_local", ["target_tokens", "per_token_logprob"], task_manager=bare))
    out = task.process_results(doc, [(-6.0, True)])
    assert out["target_chars"] == 4 and "target_tokens" not in out and out["per_char_logprob"] == -1.5
    assert task.aggregation()["target_chars"] is task.aggregation()["target_tokens"]


def test_several_targets_score_the_closest_one(tmp_path):
    """Bug 3: the harness reduces a distance over several targets to any(); MirageTask gives the closest's."""
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.tasks.add_metrics import with_metrics

    (tmp_path / "tq.yaml").write_text(
        "task: tq\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    test: {FIXTURES / 'triviaqa_test.jsonl'}\n"
        'test_split: test\noutput_type: generate_until\ndoc_to_text: "{{question}}"\ndoc_to_target: "{{answers}}"\n'
        "metric_list:\n  - metric: exact_match\n"
    )
    tm = TaskManager(include_path=str(tmp_path), include_defaults=False)
    cfg = with_metrics("tq", ["token_edit_distance", "normalized_edit_distance"], task_manager=tm)
    task = _built(tm, cfg)
    doc = next(iter(task.test_docs()))
    assert task.multiple_target == 3
    perfect, garbage = task.process_results(doc, ["paris city"]), task.process_results(doc, ["xq"])
    assert perfect["token_edit_distance"] == 0.0 and perfect["exact_match"] == 1.0
    assert garbage["token_edit_distance"] == 5.0  # "Paris" is the closest target
    plain = _built(tm, {k: v for k, v in cfg.items() if k != "class"})
    assert plain.process_results(doc, ["paris city"])["token_edit_distance"] == 1.0  # the harness's own any()


def _results(out: Path) -> dict:
    (path,) = sorted(out.rglob("results_*.json"))
    return json.loads(path.read_text())["results"]


@pytest.mark.slow
def test_cli_adds_metrics_to_real_tasks_and_leaves_originals_unchanged(tiny_model, local_tasks, tmp_path, run_cli):
    tasks_dir = local_tasks
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
    run_cli(
        [
            "lm_eval",
            "--include_path",
            str(tasks_dir),
            "--tasks",
            locals_ + ",arc_easy_recipe,sciq_builtin_brier",
            *model,
            "--output_path",
            str(tmp_path / "plain"),
            "--gen_kwargs",
            "max_gen_toks=8",
        ]
    )
    added = run_cli(
        [
            "lm-eval-mirage",
            "run",
            "--include_path",
            str(tasks_dir),
            "--tasks",
            locals_,
            "--add_metrics",
            "brier_score,correct_choice_prob,ece,token_edit_distance,target_prob,per_token_logprob",
            *model,
            "--output_path",
            str(tmp_path / "added"),
            "--gen_kwargs",
            "max_gen_toks=8",
            "--log_samples",
        ]
    )
    plain, new = _results(tmp_path / "plain"), _results(tmp_path / "added")

    # Original metrics unchanged, ours next to them.
    for task in ("arc_easy_local", "sciq_local", "gsm8k_local", "lambada_openai_local"):
        for key, value in plain[task].items():
            if key != "alias" and not key.endswith("stderr,none") and "stderr" not in key:
                assert new[task][key] == pytest.approx(value), (task, key)
    for metric in ("brier_score,none", "correct_choice_prob,none", "ece,none", "acc,none", "acc_norm,none"):
        assert metric in new["arc_easy_local"]
    assert (
        "token_edit_distance,flexible-extract" in new["gsm8k_local"]
        and "exact_match,strict-match" in new["gsm8k_local"]
    )
    # Stock hf gives no per-token detail: L is counted with the model's tokenizer (named by `pretrained`).
    assert {"target_prob,none", "per_token_logprob,none", "perplexity,none", "acc,none"} <= set(
        new["lambada_openai_local"]
    )
    # Same values as the YAML recipe, and as the harness's own Brier where that one works (fixed choice count).
    assert new["arc_easy_local"]["brier_score,none"] == pytest.approx(plain["arc_easy_recipe"]["brier_score,none"])
    assert new["arc_easy_local"]["correct_choice_prob,none"] == pytest.approx(
        plain["arc_easy_recipe"]["correct_choice_prob,none"]
    )
    assert new["sciq_local"]["brier_score,none"] == pytest.approx(
        plain["sciq_builtin_brier"]["brier_score,none"], rel=1e-9
    )
    # One clear warning per task for metrics that do not apply.
    assert (
        "arc_easy_local (multiple_choice): --add_metrics skips token_edit_distance, target_prob, per_token_logprob"
        in added.stderr
    )


def test_cli_rejects_unknown_metrics(run_main):
    args = ["lm-eval-mirage", "run", "--tasks", "mirage_arith_add_1d", "--model", "hf", "--add_metrics", "bleurt"]
    proc = run_main(args, check=False)
    assert proc.returncode == 2
    assert "unknown metric(s) for --add_metrics: bleurt" in proc.stderr
