"""Figures of the mirage report. matplotlib is imported lazily (``pip install 'lm-eval-mirage[plot]'``).

Every function draws on an ``ax`` it is given (or a new figure) and returns the axes, so figures compose:
``plot_metric`` (one metric against log x, optionally log y with the resolution floor and the predicted
curve), ``plot_side_by_side`` (a task's discontinuous and continuous metrics in one row), ``plot_by_length``
(split by answer digits), ``plot_emergence_scores``, ``plot_fit`` and ``plot_paper_illustration``.
Inputs are tidy tables (:func:`lm_eval_mirage.analysis.table.tidy`), so any experiment can use them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_mirage._io import atomic_path
from lm_eval_mirage.analysis.scaling import PAPER_ALPHA, PAPER_C, PAPER_N, predict
from lm_eval_mirage.analysis.selection import (
    choose_filter,
    fit_flag,
    ordered_metrics,
    shown_metrics,
)
from lm_eval_mirage.analysis.table import tidy

__all__ = [
    "PLOT_INSTALL_HINT",
    "require_matplotlib",
    "plot_metric",
    "plot_side_by_side",
    "plot_by_length",
    "plot_emergence_scores",
    "plot_fit",
    "plot_paper_illustration",
    "plot_headline",
    "save_figure",
    "new_figure",
    "scale_text",
    "OKABE_ITO",
    "KIND_COLORS",
]

PLOT_INSTALL_HINT = "plots need matplotlib: pip install 'lm-eval-mirage[plot]' (or pip install matplotlib)"
#: Okabe & Ito's colour-blind-safe palette (yellow left out: unreadable on white), in the order series get it.
OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
KIND_COLORS = {"discontinuous": "#D55E00", "nonlinear": "#E69F00", "continuous": "#0072B2"}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def require_matplotlib():
    """Import ``matplotlib.pyplot`` with a non-interactive backend, or raise ImportError saying how to install it."""
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(PLOT_INSTALL_HINT) from exc
    if (
        matplotlib.get_backend().lower() not in ("agg", "svg", "pdf", "cairo")
        and "inline" not in matplotlib.get_backend()
    ):
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def new_figure(rows: int = 1, cols: int = 1, *, panel: tuple[float, float] = (4.0, 3.2)):
    """A figure of ``rows x cols`` panels of about ``panel`` inches, returning (fig, axes).

    Constrained layout places titles, labels, tick labels and legends so that none overlaps or leaves the
    figure (fixed margins did: long titles were clipped, y labels ran into tick labels).
    """
    plt = require_matplotlib()
    fig, axes = plt.subplots(
        rows, cols, figsize=(panel[0] * cols, panel[1] * rows), squeeze=False, layout="constrained"
    )
    fig.get_layout_engine().set(w_pad=0.06, h_pad=0.06, wspace=0.04, hspace=0.06)
    return fig, axes


def scale_text(value: float) -> str:
    """A scale value for a tick label: ``1.25e8`` -> ``'125M'``, ``13420`` -> ``'13k'``, ``2e9`` -> ``'2B'``.

    Example:
        >>> [scale_text(v) for v in (0, 5, 1148, 13420, 1.25e8, 2e9, 1.75e11, 3e13)]
        ['0', '5', '1.1k', '13k', '125M', '2B', '175B', '30T']
    """
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"), (1.0, "")):
        if abs(value) >= div:
            v = value / div
            return (f"{v:.2g}" if abs(v) < 10 else f"{v:.0f}") + suffix
    return f"{value:.2g}"


def _axes_inches(ax) -> float:
    """The width of ``ax`` in inches before layout (constrained layout only takes a little off)."""
    return float(ax.get_figure().get_size_inches()[0] * ax.get_position().width)


def _log_x(ax, x: np.ndarray) -> None:
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    if x.size and np.all(x > 0):
        ax.set_xscale("log")
        decades = max(math.log10(float(x.max()) / float(x.min())), 0.3)
        # As many labelled ticks as fit (a label such as "125M" takes about half an inch): 1-2-5 ticks for a
        # family spanning a decade (which would otherwise show one or two), decades or every other decade for
        # wide ranges. Labels are short and never rotated.
        room = _axes_inches(ax) / 0.55
        base, subs = next(
            ((b, s) for b, s in ((10, (1.0, 2.0, 5.0)), (10, (1.0, 3.0)), (10, (1.0,))) if decades * len(s) <= room),
            (100, (1.0,)),
        )
        ax.xaxis.set_major_locator(LogLocator(base=base, subs=subs, numticks=12))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: scale_text(v)))
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif x.size:
        ax.set_xscale("symlog", linthresh=1.0)  # training step 0 has no logarithm


def _title_chars(ax, fontsize: float = 9.0) -> int:
    """How many characters of a ``fontsize`` title fit over ``ax`` (about 0.6 em per character)."""
    return max(14, int(_axes_inches(ax) * 72 / (0.6 * fontsize)))


def _wrap(text: str, width: int) -> str:
    """Wrap at spaces, and inside names that have none (``mirage_paper_add_4d``) after ``_``, ``-`` or ``/``.

    Example:
        >>> _wrap("mirage_paper_add_4d_ll (simulated-seed0)", 16)
        'mirage_paper_\\nadd_4d_ll\\n(simulated-\\nseed0)'
    """
    import re

    lines, line = [], ""
    for token in re.findall(r"[^ _/-]+[ _/-]?|[ _/-]", text):
        if line and len(line.rstrip() + token.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += token
    lines.append(line.rstrip())
    return "\n".join(x for x in lines if x)


def _grid(x_min: float, x_max: float) -> np.ndarray:
    lo, hi = math.log10(x_min), math.log10(x_max)
    pad = max(0.05 * (hi - lo), 0.05)
    return np.logspace(lo - pad, hi + pad, 200)


def _series_label(series: str, family: str, notes: Mapping[str, str] | None) -> str:
    note = (notes or {}).get(family, "")
    return f"{series} [{note}]" if note and len(note) <= 30 else series


def _fit_rows(fits: pd.DataFrame | None, task: str, series: str, split: str) -> pd.DataFrame:
    if fits is None or fits.empty:
        return pd.DataFrame()
    return fits[
        (fits["task"] == task)
        & (fits["series"] == series)
        & (fits["split"] == split)
        & fits["c"].notna()
        & fits["L"].notna()
    ]


def plot_metric(
    table: pd.DataFrame,
    *,
    task: str,
    metric: str,
    filter: str | None = None,
    split: str = "all",
    log_y: bool = False,
    floor: bool = False,
    fits: pd.DataFrame | None = None,
    x_label: str = "x",
    notes: Mapping[str, str] | None = None,
    legend: bool = True,
    title: str | None = None,
    ax=None,
):
    """One metric of one task against log x, one line per series, error bars from ``stderr``.

    With ``log_y`` the y axis is logarithmic and the resolution floor ``1 / n`` (n = number of problems) is
    drawn; zero values, which a log axis cannot show, are drawn ON the floor as open markers. ``floor`` draws
    the floor on a linear axis too. With ``fits`` (rows of :func:`~lm_eval_mirage.analysis.scaling.fit_table`),
    ``exact_match`` and ``token_edit_distance`` panels also get the predicted curve ``p**L`` / ``L * (1 - p)``
    as a dashed line labelled with the fit's R^2; a flagged fit (:func:`fit_flag`) is drawn grey and says why.
    ``legend=False`` leaves the legend to the caller (a figure-level legend). Returns ``ax``.
    """
    require_matplotlib()
    df = tidy(table)
    filt = filter or choose_filter(df, task)
    sel = df[(df["task"] == task) & (df["metric"] == metric) & (df["split"] == split) & (df["filter"] == filt)]
    if ax is None:
        ax = new_figure(panel=(4.0, 3.0))[1][0, 0]
    xs_all = sel.loc[sel["x"].notna(), "x"].to_numpy(dtype=float)
    floors, tops = [], []
    for i, ((series, family), g) in enumerate(sel.groupby(["series", "family"], sort=True)):
        g = g[g["x"].notna()].sort_values("x")
        if g.empty:
            continue
        color, marker = OKABE_ITO[i % len(OKABE_ITO)], _MARKERS[i % len(_MARKERS)]
        x, y, err = g["x"].to_numpy(float), g["value"].to_numpy(float), g["stderr"].to_numpy(float)
        label = _series_label(series, family, notes)
        n = float(np.nanmax(g["n"])) if g["n"].notna().any() else math.nan
        if n and not math.isnan(n):
            floors.append(1.0 / n)
        if log_y:
            positive = y > 0
            tops += list(y[positive])
            ax.plot(x[positive], y[positive], marker=marker, ls="-", color=color, label=label)
            if floors and (~positive).any():
                ax.plot(
                    x[~positive],
                    np.full((~positive).sum(), floors[-1]),
                    marker=marker,
                    ls="none",
                    mfc="white",
                    color=color,
                    label="0 (drawn at the floor)",
                )
        else:
            ax.errorbar(
                x,
                y,
                yerr=None if np.all(np.isnan(err)) else np.nan_to_num(err),
                fmt=marker + "-",
                capsize=2,
                color=color,
                label=label,
                ms=5,
            )
        if metric in ("exact_match", "token_edit_distance"):
            for fit in _fit_rows(fits, task, series, split).itertuples(index=False):
                grid = _grid(min(x.min(), fit.x_min), max(x.max(), fit.x_max))
                pr = predict(grid, fit.c, fit.alpha, fit.L)
                curve = pr.exact_match if metric == "exact_match" else pr.token_edit_distance
                what = "p^L" if metric == "exact_match" else "L(1-p)"
                flag = fit_flag(fit)
                if log_y:
                    tops += list(curve[curve > 0])
                ax.plot(
                    grid,
                    curve,
                    "--",
                    color="0.6" if flag else color,
                    lw=1.2 if flag else 1.5,
                    label=f"predicted {what} (L={fit.L:.3g}), " + (flag if flag else f"fit R^2 {fit.r2:.2f}"),
                )
                break
    finite = [f for f in floors if not math.isnan(f)]
    if finite and (log_y or floor):
        ax.axhline(min(finite), ls=":", color="0.35", lw=1.2, label=f"resolution 1/n = {min(finite):.2g}")
    if log_y:
        ax.set_yscale("log")
        positive = sel.loc[sel["value"] > 0, "value"]
        lows = finite + ([float(positive.min())] if len(positive) else [])
        if lows:
            # A predicted p**L reaches 1e-12 for small models; show a little below the data, not the whole tail.
            bottom = min(lows) / 3
            top = max([max(tops) if tops else min(lows), bottom * 10]) * 2
            ax.set_ylim(bottom=bottom, top=top)
    _log_x(ax, xs_all)
    lower = not sel.empty and not bool(sel["higher_is_better"].iloc[0])
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel(metric + (" (log)" if log_y else ""))
    head = title or (f"{metric} [{filt}]" + (f", {split}" if split != "all" else "") + (" - log y" if log_y else ""))
    ax.set_title(_wrap(head, _title_chars(ax)) + ("\nlower is better" if lower else ""), fontsize=9)
    if sel.empty:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.5")
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return ax


def _figure_legend(fig, axes, *, max_cols: int = 4) -> None:
    """One legend for a figure of panels, below them (each label once), so no panel's data is covered."""
    seen: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if seen:
        labels = [_wrap(k, 48) for k in seen]
        # 7 pt text is about 0.055 in per character, plus the handle: as many columns as the figure is wide
        entry = max(len(line) for text in labels for line in text.split("\n")) * 0.055 + 0.6
        cols = max(1, min(len(seen), max_cols, int(fig.get_size_inches()[0] // entry)))
        fig.legend(list(seen.values()), labels, loc="outside lower center", ncols=cols, fontsize=7, frameon=False)


def plot_side_by_side(
    table: pd.DataFrame,
    task: str,
    *,
    metrics: Sequence[str] | None = None,
    filter: str | None = None,
    split: str = "all",
    fits: pd.DataFrame | None = None,
    log_view: bool = True,
    x_label: str = "x",
    notes: Mapping[str, str] | None = None,
    axes=None,
):
    """A task's metrics side by side against log x: discontinuous first, then continuous, then (``log_view``)
    the first discontinuous metric on a log y axis with the resolution floor. Returns the array of axes.

    On a figure it makes itself (no ``axes``), the legend is one figure legend below the panels."""
    require_matplotlib()
    df = tidy(table)
    filt = filter or choose_filter(df, task)
    sel = df[(df["task"] == task) & (df["split"] == split) & (df["filter"] == filt)]
    names = list(metrics) if metrics is not None else ordered_metrics(sel)
    log_metric = next((m for m in names if sel.loc[sel["metric"] == m, "kind"].eq("discontinuous").any()), None)
    panels = len(names) + (1 if log_view and log_metric else 0)
    own = axes is None
    if own:
        cols = min(max(panels, 1), 4)
        rows = math.ceil(max(panels, 1) / cols)
        fig, axes = new_figure(rows, cols, panel=(3.4, 2.9))
        fig.suptitle(_wrap(task + (f" ({split})" if split != "all" else ""), 24 * cols), fontsize=11)
        for extra in axes.flat[panels:]:
            extra.set_visible(False)
    flat = np.asarray(axes).reshape(-1)
    if flat.size < panels:
        raise ValueError(f"axes has {flat.size} panels; this task needs {panels}")
    common = dict(task=task, filter=filt, split=split, fits=fits, x_label=x_label, notes=notes, legend=not own)
    for ax, metric in zip(flat, names):
        plot_metric(df, metric=metric, **common, ax=ax)
    if log_view and log_metric:
        plot_metric(df, metric=log_metric, log_y=True, **common, ax=flat[len(names)])
    if own:
        _figure_legend(fig, flat[:panels])
    return np.asarray(axes)


def plot_headline(
    table: pd.DataFrame,
    choice: tuple[str, str, Sequence[tuple[str, str]]],
    *,
    family: str | None = None,
    fits: pd.DataFrame | None = None,
    x_label: str = "x",
    notes: Mapping[str, str] | None = None,
    title: str | None = None,
):
    """The report's first figure for a family: the discontinuous metric (linear y and log y, with the
    resolution floor 1/n) and its continuous companions side by side against scale, one shared legend.

    ``choice`` is :func:`headline_choice`'s answer; ``family`` keeps that family's series only (other
    families on the same task have their own headline). Returns the array of axes."""
    require_matplotlib()
    df = tidy(table)
    if family is not None:
        df = df[df["family"] == family]
    task, metric, companions = choice
    fig, axes = new_figure(1, 2 + len(companions), panel=(2.3, 2.9))
    flat = axes.reshape(-1)
    common = dict(x_label=x_label, notes=notes, fits=fits, legend=False)
    plot_metric(df, task=task, metric=metric, floor=True, **common, ax=flat[0])
    plot_metric(df, task=task, metric=metric, log_y=True, **common, ax=flat[1])
    for ax, (t, m) in zip(flat[2:], companions):
        plot_metric(df, task=t, metric=m, **common, ax=ax)
    if title:
        fig.suptitle(_wrap(title, 30 * flat.size), fontsize=10)
    _figure_legend(fig, flat, max_cols=3)
    return axes


def plot_by_length(
    table: pd.DataFrame,
    task: str,
    *,
    metric: str,
    series: str | None = None,
    filter: str | None = None,
    x_label: str = "x",
    ax=None,
):
    """One metric split by the number of answer digits (the paper's Fig. 3/4): one line per target length."""
    require_matplotlib()
    df = tidy(table)
    filt = filter or choose_filter(df, task)
    sel = df[
        (df["task"] == task)
        & (df["metric"] == metric)
        & (df["filter"] == filt)
        & df["target_digits"].notna()
        & df["x"].notna()
    ]
    if series is None and not sel.empty:
        series = sorted(sel["series"].unique())[0]
    sel = sel[sel["series"] == series]
    if ax is None:
        ax = new_figure(panel=(4.0, 3.0))[1][0, 0]
    lengths = sorted(sel["target_digits"].unique())
    for i, d in enumerate(lengths):
        g = sel[sel["target_digits"] == d].sort_values("x")
        ax.plot(
            g["x"],
            g["value"],
            marker=_MARKERS[i % len(_MARKERS)],
            ls="-",
            color=OKABE_ITO[i % len(OKABE_ITO)],
            label=f"{int(d)} digits",
        )
    _log_x(ax, sel["x"].to_numpy(float))
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel(metric)
    ax.set_title(_wrap(f"{metric} [{filt}] by target length, {series}", _title_chars(ax)), fontsize=9)
    if lengths:
        ax.legend(fontsize=7, loc="best")
    return ax


def _score_text(value: float) -> str:
    return (
        "inf" if value == math.inf else "-inf" if value == -math.inf else "n/a" if math.isnan(value) else f"{value:.3g}"
    )


def plot_emergence_scores(scores: pd.DataFrame, *, task: str | None = None, split: str = "all", ax=None):
    """Horizontal bars of emergence scores by metric (colour: discontinuous, nonlinear, continuous).

    The axis is symmetric-logarithmic, so a score of 1404 and one of 8 are both readable next to the verdict
    threshold (dashed). Infinite scores (a pure jump) are drawn to the edge, hatched; every bar is labelled with
    its value and verdict; bootstrap intervals, where present, are black lines. Repeated quantities are left out.
    """
    require_matplotlib()
    sel = scores[(scores["split"] == split) & ((scores["task"] == task) if task is not None else True)]
    sel = sel[sel["metric"].isin(shown_metrics(sel["metric"]))]
    rank = {"discontinuous": 0, "nonlinear": 1}
    sel = sel.assign(_r=sel["kind"].map(lambda k: rank.get(k, 2))).sort_values(["_r", "metric", "filter", "series"])
    sel = sel.reset_index(drop=True)
    several = sel["series"].nunique() > 1
    labels = [f"{r.metric} [{r.filter}]" + (f" {r.series}" if several else "") for r in sel.itertuples()]
    if ax is None:
        ax = new_figure(panel=(6.4, 0.32 * max(len(sel), 2) + 1.0))[1][0, 0]
    finite = sel["emergence_score"].replace([np.inf, -np.inf], np.nan).abs()
    thresholds = sel["threshold"].dropna()
    top = float(
        np.nanmax([finite.max() if finite.notna().any() else 0.0, thresholds.max() if len(thresholds) else 0.0, 10.0])
    )
    cap = top * 3  # where an infinite score is drawn
    for i, row in sel.iterrows():
        value = row["emergence_score"]
        shown = float(np.clip(value, -cap, cap)) if not math.isnan(value) else 0.0
        ax.barh(
            i,
            shown,
            color=KIND_COLORS.get(row["kind"], "0.5"),
            alpha=0.85,
            height=0.7,
            hatch="//" if math.isinf(value) else None,
            edgecolor="white",
        )
        if not (math.isnan(row["ci_low"]) or math.isnan(row["ci_high"])):
            lo, hi = np.clip([row["ci_low"], row["ci_high"]], -cap, cap)
            ax.plot([lo, hi], [i, i], color="k", lw=1)
        ax.text(
            1.01,
            i,
            f"{_score_text(value)} ({row['verdict']})",
            va="center",
            fontsize=7,
            transform=ax.get_yaxis_transform(),
        )
    ax.set_yticks(range(len(sel)), labels, fontsize=8)
    ax.set_ylim(len(sel) - 0.5, -0.5)
    for t in sorted(set(thresholds.round(6))):
        ax.axvline(t, ls="--", color="0.3", lw=1)
        if (sel["emergence_score"] < 0).any():
            ax.axvline(-t, ls="--", color="0.3", lw=1)
    ax.axvline(0, color="k", lw=0.6)
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    negative = bool((sel["emergence_score"] < 0).any())
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(-cap * 1.2 if negative else 0, cap * 1.2)
    decades = [10.0**k for k in range(0, int(math.log10(cap * 1.2)) + 1)]
    # after layout the bars get what the metric names (8 pt) and the value labels (7 pt) leave over
    room = _axes_inches(ax) - max([len(t) for t in labels] + [0]) * 0.07 - 1.4
    while (2 * len(decades) + 1 if negative else len(decades) + 1) * 0.5 > room and len(decades) > 2:
        decades = decades[::-2][::-1]  # every other decade, keeping the largest
    ticks = sorted({0.0, *decades, *([-d for d in decades] if negative else [])})
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("emergence score (symlog axis; dashed: verdict threshold)")
    title = "Emergence scores" + (f": {task}" if task else "") + (f" ({split})" if split != "all" else "")
    ax.set_title(_wrap(title, 60), fontsize=10)
    return ax


def plot_fit(table: pd.DataFrame, fit, *, metric: str | None = None, x_label: str = "x", ax=None):
    """Observed per-token cross-entropy (``-metric``) against x on log-log axes, with the fitted power law.

    ``fit`` is a row of :func:`~lm_eval_mirage.analysis.scaling.fit_table` (a dict, Series or named tuple).
    The legend gives R^2; a flagged fit (:func:`fit_flag`) is drawn grey and its legend says why."""
    require_matplotlib()
    get = (
        (lambda k: getattr(fit, k)) if hasattr(fit, "_fields") else (lambda k: fit[k])
    )  # named tuple, or dict / Series
    metric = metric or get("metric") or "per_token_logprob"
    df = tidy(table)
    sel = df[
        (df["task"] == get("fit_task"))
        & (df["metric"] == metric)
        & (df["series"] == get("series"))
        & (df["split"] == get("split"))
        & (df["filter"] == get("filter"))
        & df["x"].notna()
    ].sort_values("x")
    if ax is None:
        ax = new_figure(panel=(4.6, 3.4))[1][0, 0]
    ce = -sel["value"].to_numpy(float) if sel["higher_is_better"].all() else sel["value"].to_numpy(float)
    ax.plot(sel["x"], ce, "o", color=OKABE_ITO[0], label="observed -" + metric)
    if not math.isnan(get("c")):
        flag = fit_flag(fit)
        grid = _grid(get("x_min"), get("x_max"))
        ax.plot(
            grid,
            (grid / get("c")) ** get("alpha"),
            "--",
            color="0.6" if flag else OKABE_ITO[1],
            label=f"fit (N/c)^alpha: c={get('c'):.3g}, alpha={get('alpha'):.3g}, R2={get('r2'):.3f}"
            + (f"\n{flag}" if flag else ""),
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_x(ax, sel["x"].to_numpy(float))
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel(f"cross-entropy (nats): -{metric}")
    ax.set_title(
        _wrap(f"{get('fit_task')}: L_CE(N) power law ({get('series')}, {get('split')})", _title_chars(ax)), fontsize=9
    )
    ax.legend(fontsize=7, loc="best")
    return ax


def plot_paper_illustration(
    *,
    c: float = PAPER_C,
    alpha: float = PAPER_ALPHA,
    lengths: Sequence[int] = (1, 2, 3, 4, 5),
    N: Sequence[float] = PAPER_N,
    axes=None,
):
    """The paper's illustrative figure from the closed form: cross-entropy, per-token probability, exact match
    ``p**L`` (sharp) and token edit distance ``L*(1-p)`` (smooth), for target lengths ``lengths``."""
    require_matplotlib()
    if axes is None:
        fig, axes = new_figure(1, 4, panel=(3.4, 3.0))
        fig.suptitle(
            _wrap(f"Closed form: L_CE = (N/{c:.3g})^{alpha:g}, models at {', '.join(scale_text(n) for n in N)}", 120),
            fontsize=10,
        )
    axes = np.asarray(axes).reshape(-1)
    grid = _grid(min(N), max(N))
    base = predict(grid, c, alpha, 1)
    at_n = predict(np.asarray(N), c, alpha, 1)
    axes[0].plot(grid, base.cross_entropy, color=OKABE_ITO[0])
    axes[0].plot(N, at_n.cross_entropy, "o", color=OKABE_ITO[0])
    axes[0].set_ylabel("per-token cross-entropy")
    axes[1].plot(grid, base.p, color=OKABE_ITO[0])
    axes[1].plot(N, at_n.p, "o", color=OKABE_ITO[0])
    axes[1].set_ylabel("p(correct token)")
    for i, L in enumerate(lengths):
        pr, pts = predict(grid, c, alpha, L), predict(np.asarray(N), c, alpha, L)
        line = axes[2].plot(grid, pr.exact_match, color=OKABE_ITO[i % len(OKABE_ITO)], label=f"L={L}")[0]
        axes[2].plot(N, pts.exact_match, "o", color=line.get_color())
        axes[3].plot(grid, pr.token_edit_distance, color=line.get_color(), label=f"L={L}")
        axes[3].plot(N, pts.token_edit_distance, "o", color=line.get_color())
    axes[2].set_ylabel("exact match p^L")
    axes[3].set_ylabel("token edit distance L(1-p)")
    for ax in axes:
        _log_x(ax, np.asarray(N, dtype=float))
        ax.set_xlabel("parameters N")
    axes[2].legend(fontsize=7)
    return axes


def save_figure(fig, stem: str | os.PathLike, formats: Sequence[str] = ("png", "svg"), *, dpi: int = 110) -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for each format, atomically (temporary file, then rename); closes it."""
    plt = require_matplotlib()
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    try:
        for fmt in formats:
            target = stem.with_name(f"{stem.name}.{fmt}")
            with atomic_path(target) as tmp:
                # No timestamp in the SVG, so that identical inputs give identical files.
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata={"Date": None} if fmt == "svg" else None)
            written.append(target)
            # The layout (in inches, the same at any dpi) is done: the next formats reuse it, not redo it.
            fig.set_layout_engine("none")
    finally:
        plt.close(fig)
    return written
