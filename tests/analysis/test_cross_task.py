"""The cross-task view: verdict counts per metric and kind, the metric-vs-task-model contrast, the strip plot."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from lm_eval_mirage.analysis.cross_task import (
    PROPERTIES,
    VERDICT_COUNTS,
    contrast_sentence,
    contrast_summary,
    cross_task_series,
    kind_counts,
    metric_contrast,
    metric_counts,
    plot_score_distribution,
)
from lm_eval_mirage.analysis.table import emergence_table, tidy

from ._pythia import zero_shot_table

SIZES = [1e7, 1e8, 1e9, 1e10, 1e11]


def _row(task, metric, verdict, score=5.0, *, kind=None, filt="none", split="all", series="s", family="f"):
    from lm_eval_mirage.analysis.schema import metric_kind

    return {
        "family": family,
        "series": series,
        "task": task,
        "metric": metric,
        "filter": filt,
        "split": split,
        "kind": kind or metric_kind(metric),
        "verdict": verdict,
        "emergence_score": score,
        "reason": verdict,
        "straight_line": 4.0,
        "threshold": 6.0,
    }


def _scores(rows) -> pd.DataFrame:
    """Rows as (task, metric, verdict[, score][, {keyword: value}])."""
    return pd.DataFrame([_row(*r[:-1], **r[-1]) if isinstance(r[-1], dict) else _row(*r) for r in rows])


HAND = _scores(
    [
        ("add", "exact_match", "emergent", math.inf),
        ("add", "token_edit_distance", "smooth", 3.0),  # -> metric property
        ("mul", "exact_match", "emergent", 40.0),
        ("mul", "token_edit_distance", "emergent", 30.0),
        ("mul_ll", "per_token_logprob", "emergent", 20.0),  # twin: same problems, also emergent -> task-model
        ("mul_ll", "target_prob", "smooth", 2.0, {"kind": "nonlinear"}),  # nonlinear: not a continuous companion
        ("gsm", "exact_match", "emergent", 12.0, {"filt": "strict-match"}),
        ("gsm", "token_edit_distance", "flat (within noise)", 1.0, {"filt": "flexible-extract"}),  # other filter counts
        ("arc", "acc", "emergent", 15.0),  # no continuous metric
        ("arc", "acc_norm", "smooth", 3.0),
        ("sciq", "acc", "emergent", 11.0),
        ("sciq", "brier_score", "uncertain", 9.0),  # -> undecided
        ("sciq", "correct_choice_prob", "too few models", math.nan),
        ("piqa", "acc", "at chance", -2.0),
        ("add", "exact_match", "smooth", 2.0, {"split": "digits=2"}),  # splits are not tasks: ignored
    ]
)


def test_contrast_classifies_each_emergent_pair_by_its_continuous_companions():
    pairs = metric_contrast(HAND).set_index(["task", "metric"])
    assert pairs["property"].to_dict() == {
        ("add", "exact_match"): "metric property",
        ("arc", "acc"): "no continuous metric",
        ("gsm", "exact_match"): "metric property",
        ("mul", "exact_match"): "task-model property",
        ("sciq", "acc"): "undecided",
    }
    assert pairs.loc[("mul", "exact_match"), "continuous"] == (
        "token_edit_distance: emergent; per_token_logprob (mul_ll): emergent"
    )
    assert (
        pairs.loc[("gsm", "exact_match"), "continuous"] == "token_edit_distance [flexible-extract]: flat (within noise)"
    )
    assert pairs.loc[("add", "exact_match"), "emergence_score"] == math.inf
    assert (pairs["n_continuous"].to_dict()) == {
        ("add", "exact_match"): 1,
        ("arc", "acc"): 0,
        ("gsm", "exact_match"): 1,
        ("mul", "exact_match"): 2,
        ("sciq", "acc"): 2,
    }


def test_contrast_summary_counts_every_pair_once():
    (row,) = contrast_summary(HAND).to_dict(orient="records")
    assert row == {
        "family": "f",
        "series": "s",
        "n_tasks": 7,
        "n_discontinuous_pairs": 7,
        "n_pairs_with_continuous": 4,
        "n_emergent_pairs": 5,
        "metric_property": 2,
        "task_model_property": 1,
        "mixed": 0,
        "undecided": 1,
        "no_continuous_metric": 1,
    }
    assert sum(row[p.replace(" ", "_").replace("-", "_")] for p in PROPERTIES) == row["n_emergent_pairs"]


def test_continuous_metrics_that_disagree_are_mixed_not_a_metric_property():
    """The control's real transition (modadd, seed 0): per-token log-prob emergent, digit accuracy smooth. One
    smooth companion does not make the jump the metric's when another continuous metric jumps too."""
    s = _scores(
        [
            ("t", "exact_match", "emergent"),
            ("t", "token_edit_distance", "emergent"),
            ("t", "per_token_logprob", "smooth"),
            ("u", "exact_match", "smooth"),
        ]
    )
    assert metric_contrast(s)["property"].tolist() == ["mixed"]
    (row,) = contrast_summary(s).to_dict(orient="records")
    assert row["mixed"] == 1 and row["metric_property"] == row["task_model_property"] == 0
    assert "1 mixed (continuous metrics disagree)" in contrast_sentence(row)


def test_uncertain_companions_beside_an_emergent_one_are_a_task_model_property():
    """modadd seeds 1 and 2: edit distance 'uncertain' (emergent by shape), per-token log-prob emergent."""
    s = _scores(
        [
            ("t", "exact_match", "emergent"),
            ("t", "token_edit_distance", "uncertain"),
            ("t_ll", "per_token_logprob", "emergent"),
            ("u", "exact_match", "emergent"),
            ("u", "token_edit_distance", "uncertain"),
            ("u", "digit_accuracy", "smooth"),
        ]
    )
    assert metric_contrast(s).set_index("task")["property"].to_dict() == {
        "t": "task-model property",
        "u": "metric property",
    }


def test_counts_per_metric_and_kind():
    c = metric_counts(HAND).set_index(["metric", "filter"])
    assert c.loc[("exact_match", "none"), ["n_tasks", "n_emergent", "n_pos_inf", "n_scored"]].tolist() == [2, 2, 1, 2]
    assert c.loc[("correct_choice_prob", "none"), ["n_too_few_models", "n_not_scored", "n_scored"]].tolist() == [
        1,
        1,
        0,
    ]
    assert c.loc[("acc", "none"), ["n_tasks", "n_emergent", "n_at_chance", "score_min", "score_max"]].tolist() == [
        3,
        2,
        1,
        -2.0,
        15.0,
    ]
    # The published rule alone: score >= threshold (6.0 here).
    assert c.loc[("acc", "none"), "n_above_threshold"] == 2
    assert c.loc[("exact_match", "none"), "score_median"] == 40.0  # inverted-CDF median of (40, inf): no interpolation
    verdict_cols = list(VERDICT_COUNTS.values()) + ["n_other"]
    assert (c[verdict_cols].sum(axis=1) == c["n_curves"]).all()
    k = kind_counts(HAND).set_index("kind")
    assert list(k.index) == ["discontinuous", "nonlinear", "continuous"]
    assert k.loc["discontinuous", ["n_tasks", "n_curves", "n_emergent"]].tolist() == [6, 7, 5]
    assert k.loc["continuous", ["n_tasks", "n_curves", "n_emergent", "n_pos_inf"]].tolist() == [5, 6, 2, 0]


def test_series_with_one_task_or_too_few_models_are_left_out():
    s = _scores(
        [
            ("a", "acc", "smooth", 1.0, {"series": "one-task"}),
            ("a", "acc", "too few models", math.nan, {"series": "few"}),
            ("b", "acc", "too few models", math.nan, {"series": "few"}),
            ("a", "acc", "smooth", 1.0, {"series": "ok"}),
            ("b", "acc", "emergent", 9.0, {"series": "ok"}),
        ]
    )
    assert cross_task_series(s) == [("f", "ok")]
    assert set(metric_counts(s)["series"]) == {"ok"}
    assert metric_counts(s, series=[("f", "few")])["n_too_few_models"].tolist() == [2]


def test_on_real_emergence_table_counts_match_its_verdicts():
    """A simulated mirage family through the real emergence table: the counts are its verdicts, regrouped."""
    rows = []
    for task, L in (("add_4d", 8), ("add_2d", 1), ("mul_2d", 6)):
        for n in SIZES:
            p = math.exp(-((n / 2e10) ** -0.5))
            rows += [
                {"model": f"m{n:g}", "x": n, "task": task, "metric": "exact_match", "value": p**L, "n": 1000},
                {
                    "model": f"m{n:g}",
                    "x": n,
                    "task": task,
                    "metric": "token_edit_distance",
                    "value": L * (1 - p),
                    "stderr": 0.01,
                },
            ]
    scores = emergence_table(tidy(rows), n_boot=200)
    counts = metric_counts(scores).set_index("metric")
    for metric, g in scores.groupby("metric"):
        for verdict, col in VERDICT_COUNTS.items():
            assert counts.loc[metric, col] == (g["verdict"] == verdict).sum(), (metric, verdict)
    pairs = metric_contrast(scores)
    emergent_em = scores[(scores["metric"] == "exact_match") & (scores["verdict"] == "emergent")]
    assert sorted(pairs["task"]) == sorted(emergent_em["task"])
    assert len(pairs) >= 1  # the long targets jump under exact match
    for r in pairs.itertuples():
        ted = scores[(scores["task"] == r.task) & (scores["metric"] == "token_edit_distance")]["verdict"].item()
        expected = (
            "metric property"
            if ted in ("smooth", "flat (within noise)")
            else ("task-model property" if ted == "emergent" else "undecided")
        )
        assert r.property == expected


def test_published_pythia_zero_shot_family():
    """EleutherAI's 8 sizes on 87 tasks: every judged curve counted once, nothing called emergent."""
    scores = emergence_table(zero_shot_table(), n_boot=200)
    assert cross_task_series(scores) == [("pythia", "pythia")]
    counts = metric_counts(scores)
    assert dict(zip(counts["metric"], counts["n_tasks"])) == {
        "acc": 65,
        "acc_norm": 62,
        "likelihood_difference": 22,
        "pct_stereotype": 22,
        "ppl": 1,
    }
    assert counts["n_curves"].sum() == len(scores[scores["split"] == "all"])
    assert kind_counts(scores)["n_curves"].sum() == counts["n_curves"].sum()
    # Independent regrouping of the verdicts (oracle: value_counts per metric).
    for metric, g in scores.groupby("metric"):
        row = counts[counts["metric"] == metric].iloc[0]
        assert {v: int(row[c]) for v, c in VERDICT_COUNTS.items() if row[c]} == g["verdict"].value_counts().to_dict()
    summary = contrast_summary(scores).iloc[0]
    assert summary["n_tasks"] == 87 and summary["n_discontinuous_pairs"] == 127
    assert summary["n_pairs_with_continuous"] == 1  # lambada_openai's acc, beside its ppl
    assert summary["n_emergent_pairs"] == (scores["verdict"] == "emergent").sum() == 0
    # The published rule alone would flag some of them; the decision rule does not.
    assert counts.set_index("metric").loc["acc", "n_above_threshold"] >= 1


def test_plot_keeps_infinite_and_far_scores_visible():
    plt = pytest.importorskip("matplotlib.pyplot")
    s = _scores(
        [
            (f"t{i}", "exact_match", "emergent" if i < 3 else "smooth", v)
            for i, v in enumerate([math.inf, math.inf, 500.0, 3.0, 4.0, -2.0])
        ]
        + [("t0", "token_edit_distance", "smooth", 2.0), ("t1", "token_edit_distance", "direction unknown", math.nan)]
    )
    ax = plot_score_distribution(s, family="f", series="s", clip=20.0)
    texts = [t.get_text() for t in ax.texts]
    assert "3 > 20, 2 inf" in texts  # the two inf and the 500, at the edge
    assert "1 not scored" in texts
    arrows = [(x, m) for line in ax.lines for x, m in [(line.get_xdata(), line.get_marker())] if m == ">" and len(x)]
    assert len(arrows) == 3 and all(float(x[0]) == 20.0 for x, _ in arrows)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["exact_match", "token_edit_distance"]
    vlines = {line.get_label(): float(line.get_xdata()[0]) for line in ax.lines if line.get_marker() in ("None", "")}
    assert vlines["straight line (4)"] == 4.0 and vlines["threshold (6)"] == 6.0
    ax2 = plot_score_distribution(s, by="kind")
    assert [t.get_text() for t in ax2.get_yticklabels()] == ["discontinuous", "continuous"]
    assert ax2.get_xlim()[1] >= 2 * 6.0  # auto clip: at least twice the threshold
    # Five finite scores are not enough to call 500 an outlier: it fits (1.05 x 500), only the two inf are at the edge
    assert "2 > 525, 2 inf" in [t.get_text() for t in ax2.texts]
    plt.close("all")
    with pytest.raises(ValueError, match="by must be 'metric' or 'kind'"):
        plot_score_distribution(s, by="task")


def test_report_writes_the_cross_task_files_and_section(tmp_path):
    from lm_eval_mirage.analysis.report import write_report

    rows = []
    for task, shift in (("a", 0.0), ("b", 0.1)):
        for i, n in enumerate(SIZES):
            rows += [
                {
                    "model": f"m{i}",
                    "x": n,
                    "task": task,
                    "metric": "acc",
                    "value": 0.3 + shift + 0.1 * i,
                    "stderr": 0.01,
                },
                {
                    "model": f"m{i}",
                    "x": n,
                    "task": task,
                    "metric": "brier_score",
                    "value": 0.9 - 0.1 * i,
                    "stderr": 0.01,
                },
            ]
    report = write_report(pd.DataFrame(rows), tmp_path / "r", plots=False, n_boot=100, progress=False)
    table = pd.read_csv(tmp_path / "r" / "cross_task.csv")
    assert set(table["level"]) == {"metric", "kind"}
    acc = table[(table["level"] == "metric") & (table["metric"] == "acc")].iloc[0]
    assert (
        acc["n_tasks"] == 2 and acc["n_smooth"] == (report.scores.query("metric == 'acc'")["verdict"] == "smooth").sum()
    )
    assert (tmp_path / "r" / "cross_task_contrast.json").is_file() and (
        tmp_path / "r" / "cross_task_pairs.csv"
    ).is_file()
    md = (tmp_path / "r" / "report.md").read_text()
    assert "## Across tasks: task, model or metric?" in md
    assert "0 of 2 (task, discontinuous metric) pairs over 2 tasks are called emergent" in md
    assert md.index("## Across tasks") < md.index("## Files") and "cross_task.csv" in md[md.index("## Files") :]
    assert np.isfinite(acc["straight_line"])


def test_report_draws_the_cross_task_figure_and_embeds_it(tmp_path):
    pytest.importorskip("matplotlib")
    from lm_eval_mirage.analysis.cross_task import cross_task_section
    from lm_eval_mirage.analysis.report import Report

    report = Report(tmp_path)
    report.scores = HAND
    blocks = cross_task_section(report, tmp_path, plots=True, formats=("png", "svg"))
    figures = [b for b in blocks if b[0] == "figure"]
    assert [b[1] for b in figures] == ["figures/s__cross_task"]
    assert (tmp_path / "figures" / "s__cross_task.png").stat().st_size > 1000
    assert {"figures/s__cross_task.png", "figures/s__cross_task.svg", "cross_task.csv", "cross_task_pairs.json"} <= set(
        report.files
    )
    svg = (tmp_path / "figures" / "s__cross_task.svg").read_text()
    # matplotlib keeps each text as a comment beside its glyphs: the counts at the rows' ends are in the figure
    assert re.search(r"<!-- 1 &gt; [0-9.]+, 1 inf -->", svg) and "<!-- 1 not scored -->" in svg
    tables = [b[1] for b in blocks if b[0] == "table"]
    assert list(tables[-1]["property"]) == [
        "metric property",
        "no continuous metric",
        "metric property",
        "task-model property",
        "undecided",
    ]


def test_no_section_without_two_tasks(tmp_path):
    from lm_eval_mirage.analysis.cross_task import cross_task_section
    from lm_eval_mirage.analysis.report import Report

    report = Report(tmp_path)
    report.scores = _scores([("a", "acc", "emergent", 9.0), ("a", "brier_score", "smooth", 2.0)])
    assert cross_task_section(report, tmp_path, plots=False) == [] and not report.files


def test_an_empty_emergence_table_gives_empty_tables_with_their_columns():
    from lm_eval_mirage.analysis.schema import EMERGENCE_COLUMNS

    empty = pd.DataFrame(columns=list(EMERGENCE_COLUMNS))
    assert metric_counts(empty).empty and "n_emergent" in metric_counts(empty).columns
    assert kind_counts(empty).empty and metric_contrast(empty).empty and contrast_summary(empty).empty
    assert "property" in metric_contrast(empty).columns and "metric_property" in contrast_summary(empty).columns


def test_axis_limit_keeps_every_finite_score_unless_one_is_an_outlier():
    from lm_eval_mirage.analysis.cross_task import _axis_limit

    assert _axis_limit(np.array([1.0, 5.0, 30.0]), 6.0) == pytest.approx(31.5)  # all fit
    many = np.array([float(i % 10) for i in range(100)] + [75.0, math.inf, math.nan])  # Pythia's ppl at 75.7
    assert _axis_limit(many, 6.0) == 13.5  # 1.5 x the 95th percentile (9): the outlier (and inf, NaN) beyond
    assert _axis_limit(np.array([math.nan, math.inf]), 6.0) == 12.0
