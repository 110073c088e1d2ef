"""Figures: each function draws on the axes it is given and returns them; matplotlib is optional."""

from __future__ import annotations

import builtins
import math
import sys

import matplotlib  # noqa: E402 - in the test extra: a missing one must fail, not skip
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lm_eval_mirage.analysis import plots, selection  # noqa: E402
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
            rows.append(
                {
                    "model": model,
                    "x": n,
                    "task": "t",
                    "metric": "exact_match",
                    "filter": "parsed",
                    "value": pi**digits,
                    "split": f"digits={digits}",
                    "target_digits": digits,
                }
            )
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
    assert "predicted p^L (L=5), fit R^2 1.00" in labels  # the fit's quality is shown where the fit is drawn
    assert ax.get_title() == "exact_match [parsed]"
    assert [ax.xaxis.get_major_formatter()(v, 0) for v in (1e8, 2e9)] == ["100M", "2B"]  # short, not 10^9


def test_log_view_draws_the_resolution_floor_and_zeros_on_it():
    ax = plots.plot_metric(table(), task="t", metric="exact_match", log_y=True)
    assert ax.get_yscale() == "log"
    floor = [line for line in ax.get_lines() if line.get_label().startswith("resolution 1/n")]
    assert len(floor) == 1 and floor[0].get_ydata()[0] == pytest.approx(1 / 200)
    zeros = [line for line in ax.get_lines() if "drawn at the floor" in line.get_label()]
    assert len(zeros) == 1 and np.allclose(zeros[0].get_ydata(), 1 / 200) and len(zeros[0].get_ydata()) >= 2


def test_side_by_side_puts_discontinuous_first_and_adds_the_log_view():
    axes = plots.plot_side_by_side(table(), "t")
    titles = [ax.get_title() for ax in axes.flat if ax.get_visible()]
    assert titles == [
        "exact_match [parsed]",
        "token_edit_distance [parsed]\nlower is better",
        "exact_match [parsed] - log y",
    ]
    fig = axes.flat[0].figure
    assert [ax.get_legend() for ax in axes.flat] == [None] * axes.size and len(fig.legends) == 1  # one, below
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
    assert "inf (emergent)" in texts
    assert len(ax.patches) == 2  # one bar per scored metric; target_tokens (bookkeeping) is not scored
    assert ax.get_xscale() == "symlog"  # a score of 1404 does not hide one of 8 and the threshold


def test_bookkeeping_and_repeated_quantities_are_not_plotted():
    df = table()
    extra = df[df["metric"] == "per_token_logprob"].assign(metric="token_logprobs")
    df = pd.concat([df, extra], ignore_index=True)
    axes = plots.plot_side_by_side(df, "t_ll")
    assert [ax.get_title() for ax in axes.flat if ax.get_visible()] == ["per_token_logprob [none]"]
    assert selection.shown_metrics(["token_logprobs", "target_tokens"]) == ["token_logprobs"]


def test_a_poor_fit_is_grey_and_says_so():
    df = table()
    fits = fit_table(df).assign(r2=0.64)
    ax = plots.plot_metric(df, task="t", metric="exact_match", fits=fits)
    pred = next(line for line in ax.get_lines() if line.get_label().startswith("predicted"))
    assert pred.get_label() == "predicted p^L (L=5), poor fit: R^2 0.64 < 0.9" and pred.get_color() == "0.6"
    warned = fits.assign(r2=0.99, warning="only 3 models")
    ax = plots.plot_fit(df, warned.query("split == 'all'").iloc[0])
    assert ax.get_lines()[1].get_label().endswith("\nonly 3 models") and ax.get_lines()[1].get_color() == "0.6"


def test_headline_picks_the_most_emergent_curve_and_its_continuous_companions():
    df = table()
    scores = emergence_table(df).assign(family="models")
    choice = selection.headline_choice(scores, "models")
    assert choice == ("t", "exact_match", [("t", "token_edit_distance"), ("t_ll", "per_token_logprob")])
    axes = plots.plot_headline(df, choice, fits=fit_table(df))
    assert axes.size == 4 and axes.flat[1].get_yscale() == "log"
    floor = [line for line in axes.flat[0].get_lines() if line.get_label().startswith("resolution 1/n")]
    assert len(floor) == 1  # the floor is drawn on the linear panel too
    assert selection.headline_choice(scores[scores["kind"] == "continuous"], "models") is None
    both = pd.concat([df, df.assign(family="other", value=df["value"] * 0.9)], ignore_index=True)
    axes = plots.plot_headline(both, choice, family="other")
    assert set(axes.flat[2].get_legend_handles_labels()[1]) == {"other"}  # that family only


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


# --- layout: no text overlaps another or leaves the figure, measured on saved figures ---------------------------

LONG_TASK = "mirage_arithmetic_addition_with_carrying_twelve_digits_ll"
LONG_SERIES = "trained-family-with-a-rather-long-name-seed0"


def drawn_texts(fig) -> list[tuple[str, object]]:
    """(text, window extent) of every text the saved figure shows: titles, labels, drawn tick labels, legends."""
    import io

    fig.set_dpi(110)  # the dpi the report saves at; measured on the renderer that saved it
    fig.savefig(io.BytesIO(), format="png", dpi="figure")
    fig.canvas.draw()  # savefig leaves the axis labels where its layout pass put them; a draw puts them back
    renderer = fig.canvas.get_renderer()
    texts = list(fig.texts) + [t for legend in fig.legends for t in legend.get_texts()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        if ax.get_legend() is not None:
            texts += ax.get_legend().get_texts()
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            eps = 1e-9 * max(abs(lo), abs(hi), 1.0)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if lo - eps <= tick.get_loc() <= hi + eps:
                    texts += [tick.label1, tick.label2]
    return [(t.get_text(), t.get_window_extent(renderer)) for t in texts if t.get_visible() and t.get_text().strip()]


def assert_readable(fig) -> None:
    boxes = drawn_texts(fig)
    width, height = fig.bbox.width, fig.bbox.height
    assert len(boxes) > 3
    for text, box in boxes:
        assert box.x0 >= -0.5 and box.y0 >= -0.5 and box.x1 <= width + 0.5 and box.y1 <= height + 0.5, (
            f"{text!r} is clipped by the figure edge: {box} in {width}x{height}"
        )
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            overlap = (
                min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0),
                min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0),
            )
            assert min(overlap) <= 0.5, f"{a!r} overlaps {b!r}: {box_a} and {box_b}"


def wide_table(n_metrics: int, sizes) -> pd.DataFrame:
    names = [
        "exact_match",
        "target_prob",
        "token_edit_distance",
        "normalized_edit_distance",
        "per_token_logprob",
        "per_token_prob",
        "digit_accuracy",
        "brier_score",
    ][:n_metrics]
    rows = []
    for i, n in enumerate(sizes):
        for j, metric in enumerate(names):
            value = [0.0] * (len(sizes) - 2) + [0.3, 0.9] if metric == "exact_match" else -10 + i * (j + 1) * 7.5
            value = value[i] if isinstance(value, list) else value
            rows.append(
                {
                    "model": f"m{i}",
                    "x": n,
                    "task": LONG_TASK,
                    "metric": metric,
                    "value": value,
                    "n": 200,
                    "family": LONG_SERIES,
                    "stderr": 0.01,
                }
            )
    return pd.DataFrame(rows)


TRAINED_SIZES = [1148, 1555, 1990, 3020, 4310, 5780, 7440, 9300, 13420]  # the demo's: about one decade
GPT3_SIZES = [1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 1.75e11]  # three decades


@pytest.mark.parametrize("n_metrics, sizes", [(n, TRAINED_SIZES if n % 2 else GPT3_SIZES) for n in range(1, 9)])
def test_side_by_side_text_never_overlaps_nor_leaves_the_figure(n_metrics, sizes):
    axes = plots.plot_side_by_side(wide_table(n_metrics, sizes), LONG_TASK, log_view=n_metrics < 8)
    assert sum(ax.get_visible() for ax in axes.flat) == min(n_metrics + (n_metrics < 8), 8)
    assert_readable(axes.flat[0].figure)


@pytest.mark.parametrize("companions", [0, 1, 2])
def test_headline_and_other_figures_are_readable(companions):
    df = wide_table(8, SIZES)
    pairs = [(LONG_TASK, "token_edit_distance"), (LONG_TASK, "normalized_edit_distance")][:companions]
    assert_readable(plots.plot_headline(df, (LONG_TASK, "exact_match", pairs)).flat[0].figure)
    scores = emergence_table(df)
    scores.loc[scores["metric"] == "target_prob", "emergence_score"] = 1404.0
    assert_readable(plots.plot_emergence_scores(scores, task=LONG_TASK).figure)


def test_fit_length_and_paper_figures_are_readable():
    df = table()
    assert_readable(plots.plot_fit(df, fit_table(df).query("split == 'all'").iloc[0]).figure)
    assert_readable(plots.plot_by_length(df, "t", metric="exact_match").figure)
    assert_readable(plots.plot_paper_illustration()[0].figure)
