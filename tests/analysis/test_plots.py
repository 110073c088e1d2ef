"""Figures: each function draws on the axes it is given and returns them; matplotlib is optional."""

from __future__ import annotations

import builtins
import math
import sys

import numpy as np
import pandas as pd
import pytest

import matplotlib  # noqa: E402 - in the test extra: a missing one must fail, not skip

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lm_eval_mirage.analysis import plots  # noqa: E402
from lm_eval_mirage.analysis.scaling import fit_table  # noqa: E402
from lm_eval_mirage.analysis.table import emergence_table  # noqa: E402

SIZES = [1e8, 4e8, 1.6e9, 6.4e9, 2.56e10]


def table() -> pd.DataFrame:
    p = np.exp(-((np.array(SIZES) / 2e9) ** -0.5))
    rows = []
    # exact match as 200 problems resolve it: zero for all but the largest model (a pure jump: score inf)
    observed_em = [0.0, 0.0, 0.0, 0.0, 0.245]
    for n, pi, em in zip(SIZES, p, observed_em):
        model = f"m{n:.0e}"
        rows += [
            {
                "model": model,
                "x": n,
                "task": "t",
                "metric": "exact_match",
                "filter": "parsed",
                "value": em,
                "n": 200,
                "stderr": 0.01,
            },
            {
                "model": model,
                "x": n,
                "task": "t",
                "metric": "token_edit_distance",
                "filter": "parsed",
                "value": 5 * (1 - pi),
                "n": 200,
            },
            {"model": model, "x": n, "task": "t_ll", "metric": "per_token_logprob", "value": -((n / 2e9) ** -0.5)},
            {"model": model, "x": n, "task": "t_ll", "metric": "target_tokens", "value": 5.0},
        ]
        for digits in (4, 6):
            rows.append({"model": model, "x": n, "task": "t", "metric": "exact_match", "filter": "parsed", "value": pi**digits,
                         "split": f"digits={digits}", "target_digits": digits})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_metric_uses_the_given_axes_and_draws_the_prediction():
    df = table()
    fig, ax = plt.subplots()
    out = plots.plot_metric(df, task="t", metric="exact_match", fits=fit_table(df), ax=ax)
    assert out is ax and ax.get_xscale() == "log"
    labels = [line.get_label() for line in ax.get_lines()]
    assert any(label.startswith("predicted p^L, L=5") for label in labels)
    assert ax.get_title() == "exact_match [parsed]"


def test_log_view_draws_the_resolution_floor_and_zeros_on_it():
    ax = plots.plot_metric(table(), task="t", metric="exact_match", log_y=True)
    assert ax.get_yscale() == "log"
    floor = [line for line in ax.get_lines() if line.get_label().startswith("resolution 1/n")]
    assert len(floor) == 1 and floor[0].get_ydata()[0] == pytest.approx(1 / 200)
    zeros = [line for line in ax.get_lines() if "drawn at floor" in line.get_label()]
    assert len(zeros) == 1 and np.allclose(zeros[0].get_ydata(), 1 / 200) and len(zeros[0].get_ydata()) >= 2


def test_side_by_side_puts_discontinuous_first_and_adds_the_log_view():
    axes = plots.plot_side_by_side(table(), "t")
    titles = [ax.get_title() for ax in axes.flat if ax.get_visible()]
    assert titles == ["exact_match [parsed]", "token_edit_distance [parsed]", "exact_match [parsed] - log y"]
    fig, given = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="needs 3"):
        plots.plot_side_by_side(table(), "t", axes=given)


def test_by_length_has_one_line_per_length():
    ax = plots.plot_by_length(table(), "t", metric="exact_match")
    assert [line.get_label() for line in ax.get_lines()] == ["4 digits", "6 digits"]


def test_emergence_chart_marks_infinite_scores():
    scores = emergence_table(table())
    ax = plots.plot_emergence_scores(scores, task="t")
    texts = [t.get_text() for t in ax.texts]
    em = scores.query("split == 'all'").set_index("metric").loc["exact_match"]
    assert em.emergence_score == math.inf
    assert any(t.startswith(" inf (emergent)") for t in texts)
    assert len(ax.patches) == 2  # one bar per scored metric


def test_fit_and_paper_illustration():
    df = table()
    fit = fit_table(df).query("split == 'all'").iloc[0]
    ax = plots.plot_fit(df, fit)
    assert "c=2e+09" in ax.get_lines()[1].get_label() and ax.get_yscale() == "log"
    axes = plots.plot_paper_illustration()
    assert len(axes) == 4 and len(axes[2].get_lines()) == 10  # 5 lengths x (curve + model points)


def test_save_figure_writes_each_format(tmp_path):
    ax = plots.plot_metric(table(), task="t", metric="token_edit_distance")
    written = plots.save_figure(ax.figure, tmp_path / "sub" / "f", ["png", "svg"])
    assert [p.name for p in written] == ["f.png", "f.svg"]
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in written[1].read_text()
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["f.png", "f.svg"]  # no temporary files left


def test_missing_matplotlib_says_how_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'lm-eval-mirage\[plot\]'"):
        plots.require_matplotlib()
