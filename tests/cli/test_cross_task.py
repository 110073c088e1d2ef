"""The cross-task view through the real commands: EleutherAI's Pythia results, and a run with --add_metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

#: EleutherAI's published Pythia evaluations (EleutherAI/pythia, Apache-2.0, commit a19eecb), copied unchanged.
PYTHIA = Path(__file__).parents[1] / "data" / "pythia-v1"
FIXTURES = Path(__file__).parents[1] / "tasks" / "fixtures"


def test_analyze_shows_the_cross_task_view_of_the_pythia_zero_shot_family(tmp_path, run_cli):
    results = tmp_path / "zero-shot"  # the 8 sizes at the final step, without the 160m checkpoints
    results.mkdir()
    for path in sorted(PYTHIA.glob("pythia-*/zero-shot/*_step143000.json")):
        shutil.copy(path, results / path.name)
    run_cli(["lm-eval-mirage", "analyze", str(results), "--out", str(tmp_path / "report"), "--no-plots", "--quiet"])
    out = tmp_path / "report"
    scores = pd.read_csv(out / "emergence.csv")
    table = pd.read_csv(out / "cross_task.csv")
    by_metric = table[table["level"] == "metric"].set_index("metric")
    assert by_metric["n_tasks"].to_dict() == {
        "acc": 65,
        "acc_norm": 62,
        "likelihood_difference": 22,
        "pct_stereotype": 22,
        "ppl": 1,
    }
    for metric, g in scores.groupby("metric"):  # the counts are the emergence table's verdicts, regrouped
        assert by_metric.loc[metric, "n_emergent"] == (g["verdict"] == "emergent").sum()
        assert by_metric.loc[metric, "n_at_chance"] == (g["verdict"] == "at chance").sum()
        assert by_metric.loc[metric, "n_flat"] == (g["verdict"] == "flat (within noise)").sum()
    by_kind = table[table["level"] == "kind"].set_index("kind")
    assert by_kind.loc["discontinuous", "n_curves"] == 127 and by_kind.loc["continuous", "n_curves"] == 45
    (summary,) = json.loads((out / "cross_task_contrast.json").read_text())
    assert summary["n_tasks"] == 87 and summary["n_discontinuous_pairs"] == 127
    assert summary["n_emergent_pairs"] == int((scores["verdict"] == "emergent").sum())
    md = (out / "report.md").read_text()
    section = md[md.index("## Across tasks") : md.index("## Files")]
    assert (
        f"{summary['n_emergent_pairs']} of 127 (task, discontinuous metric) pairs over 87 tasks are called emergent"
        in section
    )
    assert summary["n_pairs_with_continuous"] == 1  # only lambada_openai has a continuous metric (ppl) beside acc
    assert "| acc | none | discontinuous | 65 |" in section
    assert "cross_task.csv" in md[md.index("## Files") :]
    assert "Across tasks: task, model or metric?" in (out / "report.html").read_text()


def _local_tasks(folder: Path) -> None:
    import lm_eval

    harness = Path(lm_eval.__file__).parent / "tasks"
    for task, rel, stem in (("arc_easy", "arc/arc_easy.yaml", "arc"), ("sciq", "sciq/sciq.yaml", "sciq")):
        files = "".join(f"    {s}: {FIXTURES / f'{stem}_{s}.jsonl'}\n" for s in ("train", "validation", "test"))
        (folder / f"{task}_local.yaml").write_text(
            f"include: {harness / rel}\ntask: {task}_local\ntag: []\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n{files}"
        )


@pytest.mark.slow
def test_add_metrics_run_of_three_models_then_analyze_has_the_cross_task_table(tmp_path, run_cli):
    """The real `run --add_metrics brier_score,correct_choice_prob` on three tiny models, then the real `analyze`."""
    from lm_eval_mirage.zoo import build_tiny_model

    tasks = tmp_path / "tasks"
    tasks.mkdir()
    _local_tasks(tasks)
    runs = tmp_path / "runs"
    for i, (layers, width) in enumerate(((1, 32), (2, 64), (3, 96))):
        model = build_tiny_model(tmp_path / "models" / f"tiny-{width}", n_layer=layers, n_embd=width, seed=i)
        run_cli(
            [
                "lm-eval-mirage",
                "run",
                "--include_path",
                str(tasks),
                "--tasks",
                "arc_easy_local,sciq_local",
                "--add_metrics",
                "brier_score,correct_choice_prob",
                "--model",
                "hf",
                "--model_args",
                f"pretrained={model},logits_cache=False",
                "--num_fewshot",
                "0",
                "--output_path",
                str(runs),
                "--log_samples",
            ]
        )
    out = tmp_path / "report"
    run_cli(["lm-eval-mirage", "analyze", str(runs), "--out", str(out), "--no-plots", "--quiet", "--n-boot", "100"])
    scores = pd.read_csv(out / "emergence.csv")
    scores = scores[scores["split"] == "all"]  # the view compares tasks, not their splits by answer length
    assert set(scores["n_models"]) == {3}  # the three sizes are read from the model folders
    table = pd.read_csv(out / "cross_task.csv")
    by_metric = table[table["level"] == "metric"].set_index("metric")
    assert set(by_metric.index) == {"acc", "acc_norm", "brier_score", "correct_choice_prob"}
    assert by_metric.loc[["brier_score", "correct_choice_prob"], "kind"].tolist() == ["continuous", "continuous"]
    assert by_metric.loc[["acc", "acc_norm"], "kind"].tolist() == ["discontinuous", "discontinuous"]
    assert (by_metric["n_tasks"] == 2).all()
    for metric, g in scores.groupby("metric"):
        row = by_metric.loc[metric]
        assert sum(
            int(row[f"n_{c}"])
            for c in (
                "emergent",
                "uncertain",
                "inverse_emergent",
                "smooth",
                "flat",
                "at_chance",
                "at_floor",
                "too_few_models",
                "direction_unknown",
                "other",
            )
        ) == len(g)
        assert row["n_emergent"] == (g["verdict"] == "emergent").sum()
    (summary,) = json.loads((out / "cross_task_contrast.json").read_text())
    assert summary["n_tasks"] == 2 and summary["n_discontinuous_pairs"] == summary["n_pairs_with_continuous"] == 4
    pairs = pd.read_csv(out / "cross_task_pairs.csv")
    emergent = scores[(scores["kind"] == "discontinuous") & (scores["verdict"] == "emergent")]
    assert len(pairs) == len(emergent) == summary["n_emergent_pairs"]
    assert set(pairs["property"]) <= {"metric property", "task-model property", "mixed", "undecided"}  # both have Brier
    md = (out / "report.md").read_text()
    section = md[md.index("## Across tasks") : md.index("## Files")]
    assert "| brier_score | none | continuous | 2 |" in section
    assert "pairs over 2 tasks are called emergent" in section


def test_a_simulated_mirage_family_is_a_metric_property_in_the_cross_task_view(tmp_path, run_cli):
    """The paper's closed form (SIMULATED results files): long targets jump under exact match, smooth under TED."""
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    simulate_results(
        tmp_path / "runs",
        tasks={"mirage_arith_mul_5d": (9, 10), "mirage_arith_add_1d": (1, 2)},
        n_problems=1000,
        seed=0,
    )
    out = tmp_path / "report"
    run_cli(
        [
            "lm-eval-mirage",
            "analyze",
            str(tmp_path / "runs"),
            "--out",
            str(out),
            "--no-plots",
            "--quiet",
            "--n-boot",
            "200",
        ]
    )
    scores = pd.read_csv(out / "emergence.csv").query("split == 'all'")
    pairs = pd.read_csv(out / "cross_task_pairs.csv")
    assert ("mirage_arith_mul_5d", "exact_match") in set(zip(pairs["task"], pairs["metric"]))
    ted = scores.query("task == 'mirage_arith_mul_5d' and metric == 'token_edit_distance'")["verdict"].item()
    assert ted in ("smooth", "flat (within noise)")
    assert set(pairs["property"]) == {"metric property"}
    (summary,) = json.loads((out / "cross_task_contrast.json").read_text())
    assert summary["n_emergent_pairs"] == summary["metric_property"] == len(pairs)
    assert summary["task_model_property"] == summary["no_continuous_metric"] == 0
    md = (out / "report.md").read_text()
    assert (
        f"{len(pairs)} {'has' if len(pairs) == 1 else 'have'} a smooth continuous metric on the same outputs and none emergent (metric property)"
        in md
    )
