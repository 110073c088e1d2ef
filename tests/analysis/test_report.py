"""The report writer on hand-built tables (what the vision experiment and the demo pass in)."""

from __future__ import annotations

import builtins
import json
import sys

import pandas as pd
import pytest

from lm_eval_mirage.analysis.output import markdown_table
from lm_eval_mirage.analysis.report import (
    model_label,
    summarize_task,
    verdict_grid,
    write_report,
)
from lm_eval_mirage.analysis.table import step_zero_notes, tidy

from .test_table import vision_table


def strict_json(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


def test_report_for_a_table_without_harness_files(tmp_path):
    import matplotlib  # noqa: F401 - in the test extra: a missing one must fail, not skip

    df = vision_table().assign(family="autoencoders")
    df.attrs["messages"] = ["widths 256 and 512 still training"]
    report = write_report(
        df,
        tmp_path,
        title="Vision mirage",
        notes={"autoencoders": "SIMULATION", "": "toy data"},
        x_label="width",
        n_boot=50,
        progress=False,
    )
    names = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    assert {"table.csv", "table.json", "emergence.csv", "emergence.json", "report.md", "report.html"} <= names
    assert "fits.csv" not in names  # no per-token log-likelihood: nothing to fit
    pngs = sorted(n for n in names if n.endswith(".png"))
    assert pngs == [
        "figures/autoencoders__headline.png",
        "figures/mnist__emergence.png",
        "figures/mnist__side_by_side.png",
    ]
    assert {n.replace(".png", ".svg") for n in pngs} <= names
    assert not any(n.split("/")[-1].startswith(".") for n in names)  # no temporary files left

    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Vision mirage\n\n### autoencoders\n\n![")  # the answer first: headline figure, grid
    assert "| task | reconstruction_accuracy | test_mse |\n| --- | --- | --- |\n| mnist | emergent 87.7 | smooth " in md
    assert "> **Note** - toy data" in md and "> **Note** - autoencoders: SIMULATION" in md
    assert "widths 256 and 512 still training" in md  # data notes from table.attrs
    assert "looks emergent under reconstruction_accuracy (ES 87.68) but changes smoothly under test_mse" in md
    assert "consistent with a metric-induced mirage" in md
    assert "![" in md and "(figures/mnist__side_by_side.png)" in md and "[SVG](figures/mnist__side_by_side.svg)" in md
    assert (
        report.summary["mnist"]
        == [line[2:] for line in md.splitlines() if line.startswith("- autoencoders: looks")][:1]
    )

    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(pngs)  # every figure embedded
    assert "src='figures" not in page and 'src="figures' not in page  # nothing external
    assert "Note - autoencoders: SIMULATION" in page and "<table" in page
    top = page.split("<main>", 1)[0]
    assert top.count('class="headline-figure"') == 1 and top.count('data-verdict="emergent"') == 1

    scores = strict_json((tmp_path / "emergence.json").read_text())
    recon = next(r for r in scores if r["metric"] == "reconstruction_accuracy")
    assert recon["verdict"] == "emergent" and recon["ci_low"] is None
    csv = pd.read_csv(tmp_path / "emergence.csv")
    assert set(csv["verdict"]) == {"emergent", "smooth"}
    table = strict_json((tmp_path / "table.json").read_text())
    assert len(table) == len(df) and table[0]["family"] == "autoencoders"


def test_infinite_scores_are_strings_in_json(tmp_path):
    df = vision_table()
    df.loc[(df.metric == "reconstruction_accuracy") & (df.model == "w64"), "value"] = 0.0
    write_report(df, tmp_path, plots=False, progress=False)
    recon = next(
        r for r in strict_json((tmp_path / "emergence.json").read_text()) if r["metric"] == "reconstruction_accuracy"
    )
    assert recon["emergence_score"] == "inf"
    assert "| inf |" in (tmp_path / "report.md").read_text()


def test_without_plots_and_with_one_model(tmp_path):
    one = vision_table().query("model == 'w8'")
    report = write_report(one, tmp_path, plots=False, progress=False)
    assert not (tmp_path / "figures").exists()
    md = (tmp_path / "report.md").read_text()
    assert "Only one model (w8)" in md and "emergence needs at least three" in md
    assert "![" not in md
    assert set(report.scores["verdict"]) == {"too few models"}


def test_svg_only_is_inlined(tmp_path):
    import matplotlib  # noqa: F401 - in the test extra: a missing one must fail, not skip

    write_report(vision_table(), tmp_path, formats=["svg"], progress=False)
    page = (tmp_path / "report.html").read_text()
    assert page.count("<svg") == 3 and "data:image/png" not in page  # headline, side by side, scores
    assert (
        "![" in (tmp_path / "report.md").read_text() and "mnist__emergence.svg)" in (tmp_path / "report.md").read_text()
    )


def test_unknown_task_and_missing_matplotlib_fail_before_writing(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match=r"tasks \['cifar'\] are not in the table"):
        write_report(vision_table(), tmp_path / "a", tasks=["cifar"], plots=False)
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    with pytest.raises(ImportError, match="lm-eval-mirage\\[plot\\]"):
        write_report(vision_table(), tmp_path / "b")
    assert not (tmp_path / "b" / "table.csv").exists()
    write_report(vision_table(), tmp_path / "c", plots=False)  # the non-plot API works without matplotlib
    assert (tmp_path / "c" / "report.html").is_file()


def _scores(rows):
    base = {
        "family": "f",
        "series": "f",
        "task": "t",
        "filter": "none",
        "split": "all",
        "n_models": 5,
        "ci_low": float("nan"),
        "ci_high": float("nan"),
    }
    return pd.DataFrame([{**base, **r} for r in rows])


@pytest.mark.parametrize(
    "rows, expected",
    [
        (
            [
                {"metric": "exact_match", "kind": "discontinuous", "emergence_score": 9.0, "verdict": "emergent"},
                {"metric": "ted", "kind": "continuous", "emergence_score": 3.0, "verdict": "smooth"},
            ],
            "f: looks emergent under exact_match (ES 9.00) but changes smoothly under ted (ES 3.00): consistent with a metric-induced mirage.",
        ),
        (
            [
                {"metric": "exact_match", "kind": "discontinuous", "emergence_score": 9.0, "verdict": "emergent"},
                {"metric": "ted", "kind": "continuous", "emergence_score": 8.0, "verdict": "emergent"},
            ],
            "f: looks emergent under continuous metric(s) ted (ES 8.00) as well as exact_match (ES 9.00); the jump is not explained by the choice of metric alone.",
        ),
        (
            [
                {
                    "metric": "exact_match",
                    "kind": "discontinuous",
                    "emergence_score": float("inf"),
                    "verdict": "emergent",
                }
            ],
            "f: looks emergent under exact_match (ES inf); no smooth continuous metric to compare with.",
        ),
        (
            [
                {"metric": "exact_match", "kind": "discontinuous", "emergence_score": 2.0, "verdict": "smooth"},
                {"metric": "acc", "kind": "discontinuous", "emergence_score": 7.0, "verdict": "uncertain"},
            ],
            "f: possibly emergent under acc (ES 7.00) (score above the threshold, but the bootstrap interval reaches below it); smooth under exact_match (ES 2.00).",
        ),
        (
            [
                {"metric": "exact_match", "kind": "discontinuous", "emergence_score": 2.0, "verdict": "smooth"},
                {"metric": "ted", "kind": "continuous", "emergence_score": 3.0, "verdict": "flat"},
            ],
            "f: no metric looks emergent (exact_match (ES 2.00), ted (ES 3.00)).",
        ),
        (
            [
                {"metric": "exact_match", "kind": "discontinuous", "emergence_score": 9.0, "verdict": "emergent"},
                {"metric": "acc", "kind": "discontinuous", "emergence_score": 7.0, "verdict": "uncertain"},
                {"metric": "ted", "kind": "continuous", "emergence_score": 3.0, "verdict": "smooth"},
            ],
            "f: looks emergent under exact_match (ES 9.00) but changes smoothly under ted (ES 3.00): consistent with a "
            "metric-induced mirage. Uncertain (bootstrap interval reaches below the threshold): acc (ES 7.00).",
        ),
        (
            [
                {
                    "metric": "exact_match",
                    "kind": "discontinuous",
                    "emergence_score": float("nan"),
                    "verdict": "too few models",
                    "n_models": 2,
                }
            ],
            "Not judged (fewer than three models with a known scale; models in brackets): f (2).",
        ),
    ],
)
def test_summary_sentences(rows, expected):
    assert summarize_task(_scores(rows), "t") == [expected]


def test_summary_reads_the_log_likelihood_twin_with_its_task():
    """A generation task's continuous log-likelihood metrics live in its ``_ll`` twin: a jump that the twin's
    per-token log-prob shows too is not "consistent with a mirage" because the generation task's digit
    accuracy is smooth (the modadd control's seed 0)."""
    gen = _scores(
        [
            {"metric": "exact_match", "kind": "discontinuous", "emergence_score": 19.8, "verdict": "emergent"},
            {"metric": "digit_accuracy", "kind": "continuous", "emergence_score": 7.2, "verdict": "smooth"},
        ]
    )
    twin = _scores(
        [{"metric": "per_token_logprob", "kind": "continuous", "emergence_score": 19.4, "verdict": "emergent"}]
    ).assign(task="t_ll")
    other = _scores(
        [{"metric": "per_token_logprob", "kind": "continuous", "emergence_score": 30.0, "verdict": "emergent"}]
    ).assign(task="t_llx")
    scores = pd.concat([gen, twin, other], ignore_index=True)
    assert summarize_task(scores, "t") == [
        "f: looks emergent under continuous metric(s) per_token_logprob (ES 19.40) as well as exact_match (ES 19.80), "
        "though smooth under digit_accuracy (ES 7.20); the jump is not explained by the choice of metric alone."
    ]
    assert summarize_task(gen, "t") == [
        "f: looks emergent under exact_match (ES 19.80) but changes smoothly under digit_accuracy (ES 7.20): "
        "consistent with a metric-induced mirage."
    ]


def test_series_of_one_model_are_one_line_and_no_grid_row():
    judged = {"metric": "acc", "kind": "discontinuous", "emergence_score": 2.0, "verdict": "smooth"}
    one = {
        "metric": "acc",
        "kind": "discontinuous",
        "emergence_score": float("nan"),
        "verdict": "too few models",
        "n_models": 1,
    }
    scores = pd.concat(
        [_scores([judged])] + [_scores([one]).assign(series=f"ckpt{i}") for i in range(5)], ignore_index=True
    )
    lines = summarize_task(scores, "t")
    assert lines[0].startswith("f: no metric looks emergent") and len(lines) == 2
    assert (
        lines[1]
        == "Not judged (fewer than three models with a known scale; models in brackets): ckpt0 (1), ckpt1 (1), ckpt2 (1) and 2 more."
    )
    grid = verdict_grid(scores.assign(family="fam"), "fam")
    assert [r["series"] for r in grid["rows"]] == ["f"]


def test_markdown_table_escapes_and_formats():
    text = markdown_table(pd.DataFrame({"a": ["x|y"], "b": [float("nan")], "c": [123456.0]}))
    assert text.splitlines()[2] == "| x\\|y |  | 1.235e+05 |"


HOSTILE = "<script>window.__pwned = 1</script>"


def test_values_from_files_are_shown_as_text(tmp_path):
    """Task names, notes, model labels and messages are escaped, also inside the inlined SVG figures."""
    pytest.importorskip("matplotlib")
    df = vision_table().assign(task=f"mnist{HOSTILE}", model=lambda d: d["model"] + "<b>x</b>")
    write_report(
        df,
        tmp_path,
        notes={"models": f"note {HOSTILE}"},
        messages=[f"message {HOSTILE}"],
        title=f"title {HOSTILE}",
        formats=["svg"],
        n_boot=20,
        progress=False,
    )
    page = (tmp_path / "report.html").read_text()
    assert "<script" not in page and "<b>x</b>" not in page
    assert "mnist&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "note &lt;script&gt;" in page and "message &lt;script&gt;" in page and "w8&lt;b&gt;x&lt;/b&gt;" in page
    assert page.count("<svg") == 3  # the figures are there, their texts escaped by matplotlib


def test_models_are_named_by_label_and_parameters_once(tmp_path):
    df = vision_table()
    df = df.assign(model=df["model"].map(lambda m: f"{tmp_path}/zoo/checkpoints/{m}"))
    write_report(df, tmp_path / "out", x_label="parameters", plots=False, progress=False)
    md = (tmp_path / "out" / "report.md").read_text()
    page = (tmp_path / "out" / "report.html").read_text()
    assert str(tmp_path) not in md and str(tmp_path) not in page
    assert "| model | family | series | parameters | params_source |\n" in md  # no second params, no empty step
    assert "| w8 | models | models | 8 |" in md
    assert [model_label(m) for m in ("/a/b/w8", "w8", "org/w8", "./w8/")] == ["w8", "w8", "org/w8", "w8"]


def _grid_scores(**extra):
    rows = [
        {
            "family": "f",
            "series": "f",
            "task": "t",
            "metric": "exact_match",
            "kind": "discontinuous",
            "verdict": "emergent",
            "emergence_score": float("inf"),
            "straight_line": 9.3,
            "threshold": 14.0,
            "ci_low": float("nan"),
            "ci_high": float("nan"),
            "n_models": 8,
        },
        {
            "family": "f",
            "series": "f",
            "task": "t_ll",
            "metric": "per_token_logprob",
            "kind": "continuous",
            "verdict": "flat (within noise)",
            "emergence_score": 3.25,
            "straight_line": 9.3,
            "threshold": 14.0,
            "ci_low": 1.0,
            "ci_high": 5.0,
            "n_models": 8,
        },
        {
            "family": "f",
            "series": "f",
            "task": "u",
            "metric": "acc",
            "kind": "discontinuous",
            "verdict": "at chance",
            "emergence_score": 2.0,
            "straight_line": 9.3,
            "threshold": 14.0,
            "ci_low": float("nan"),
            "ci_high": float("nan"),
            "n_models": 8,
        },
    ]
    return pd.DataFrame([{**r, **extra} for r in rows])


def test_verdict_grid_rows_columns_and_reasons():
    grid = verdict_grid(_grid_scores(), "f")
    assert grid["columns"] == ["acc", "exact_match", "per_token_logprob"]
    assert [r["label"] for r in grid["rows"]] == ["t (+_ll)", "u"]  # the twin shares a row; emergent rows first
    assert [r["label"] for r in verdict_grid(_grid_scores(), "f", headline="u")["rows"]] == ["u", "t (+_ll)"]
    none, em, ll = grid["rows"][0]["cells"]
    assert none is None
    assert (em["css"], em["word"], em["score"]) == ("v-emergent", "emergent", "\u221e")
    assert (
        em["reason"]
        == "t / exact_match: emergent: emergence score inf vs threshold 14 (1.5 x a straight line's 9.3); 8 models"
    )
    assert (ll["css"], ll["word"]) == ("v-flat", "flat") and "bootstrap interval [1, 5]" in ll["reason"]
    assert grid["rows"][1]["cells"][0]["css"] == "v-chance" and grid["rows"][1]["cells"][1] is None
    with_reason = verdict_grid(_grid_scores(reason="emergent: flat within noise up to 1.4b"), "f")
    assert with_reason["rows"][0]["cells"][1]["reason"] == "t / exact_match: emergent: flat within noise up to 1.4b"


def test_a_hand_built_table_with_step_zero_gets_the_shift_note_once(tmp_path):
    """write_report says it for every caller (demo, control, Python), not only the command line."""
    rows = [
        {"model": f"m@{s}", "x": s, "series": "m", "task": "t", "metric": "acc", "value": v}
        for s, v in ((0, 0.1), (1, 0.2), (10, 0.3), (100, 0.4))
    ]
    table = tidy(rows)
    note = step_zero_notes(table)[0]
    report = write_report(table, tmp_path / "r", plots=False, messages=[note])  # a caller that already has it
    assert report.messages.count(note) == 1
    report = write_report(table, tmp_path / "r2", plots=False)
    assert note in report.messages and note in (tmp_path / "r2" / "report.md").read_text(encoding="utf-8")
