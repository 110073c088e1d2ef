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
from lm_eval_mirage.analysis.table import tidy

__all__ = [
    "PLOT_INSTALL_HINT",
    "require_matplotlib",
    "choose_filter",
    "ordered_metrics",
    "plot_metric",
    "plot_side_by_side",
    "plot_by_length",
    "plot_emergence_scores",
    "plot_fit",
    "plot_paper_illustration",
    "save_figure",
    "new_figure",
]

PLOT_INSTALL_HINT = "plots need matplotlib: pip install 'lm-eval-mirage[plot]' (or pip install matplotlib)"
_KIND_COLORS = {"discontinuous": "tab:red", "nonlinear": "tab:orange", "continuous": "tab:blue"}


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


def choose_filter(table: pd.DataFrame, task: str, preference: Sequence[str] = ("parsed", "none", "raw")) -> str:
    """The filter shown for a task: the first of ``preference`` it has, else its first filter alphabetically."""
    filters = sorted(set(table.loc[table["task"] == task, "filter"]))
    return next((f for f in preference if f in filters), filters[0] if filters else "none")


def ordered_metrics(table: pd.DataFrame) -> list[str]:
    """Metric names, discontinuous ones first, then nonlinear, then continuous (each group alphabetical)."""
    kinds = table.drop_duplicates("metric").set_index("metric")["kind"]
    rank = {"discontinuous": 0, "nonlinear": 1}
    return sorted(kinds.index, key=lambda m: (rank.get(kinds[m], 2), m))


def new_figure(
    rows: int = 1, cols: int = 1, *, panel: tuple[float, float] = (4.0, 3.2), left: float = 0.75, top: float = 0.45
):
    """A figure of ``rows x cols`` panels of ``panel`` inches with fixed margins (inches), returning (fig, axes).

    Fixed margins instead of a layout engine: constrained layout renders each figure several times, which
    costs seconds per figure on a loaded machine and buys nothing for these regular grids.
    """
    plt = require_matplotlib()
    width, height = panel[0] * cols, panel[1] * rows + top
    fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
    fig.subplots_adjust(left=left / width, right=1 - 0.15 / width, bottom=0.55 / height, top=1 - top / height,
                        wspace=0.75 / panel[0] * 1.0, hspace=0.9 / panel[1] * 1.0)  # fmt: skip
    return fig, axes


def _short(model: str) -> str:
    return model.rstrip("/").rsplit("/", 1)[-1]


def _log_x(ax, x: np.ndarray) -> None:
    if x.size and np.all(x > 0):
        ax.set_xscale("log")
        # Families spanning about one decade get labelled minor ticks ("2x10^3", "3x10^3"...) that collide.
        ax.tick_params(axis="x", which="minor", labelsize=6, labelrotation=40)
    elif x.size:
        ax.set_xscale("symlog", linthresh=1.0)  # training step 0 has no logarithm


def _grid(x_min: float, x_max: float) -> np.ndarray:
    lo, hi = math.log10(x_min), math.log10(x_max)
    pad = max(0.05 * (hi - lo), 0.05)
    return np.logspace(lo - pad, hi + pad, 200)


def _series_label(series: str, family: str, notes: Mapping[str, str] | None) -> str:
    note = (notes or {}).get(family, "")
    return f"{series} [{note}]" if note and len(note) <= 30 else series


def plot_metric(
    table: pd.DataFrame,
    *,
    task: str,
    metric: str,
    filter: str | None = None,
    split: str = "all",
    log_y: bool = False,
    fits: pd.DataFrame | None = None,
    x_label: str = "x",
    notes: Mapping[str, str] | None = None,
    ax=None,
):
    """One metric of one task against log x, one line per series, error bars from ``stderr``.

    With ``log_y`` the y axis is logarithmic and the resolution floor ``1 / n`` (n = number of problems) is
    drawn; zero values, which a log axis cannot show, are drawn ON the floor as open markers. With ``fits``
    (rows of :func:`~lm_eval_mirage.analysis.scaling.fit_table`), ``exact_match`` and ``token_edit_distance``
    panels also get the predicted curve ``p**L`` / ``L * (1 - p)`` as a dashed line.
    """
    require_matplotlib()
    df = tidy(table)
    filt = filter or choose_filter(df, task)
    sel = df[(df["task"] == task) & (df["metric"] == metric) & (df["split"] == split) & (df["filter"] == filt)]
    if ax is None:
        ax = new_figure()[1][0, 0]
    xs_all = sel.loc[sel["x"].notna(), "x"].to_numpy(dtype=float)
    floors = []
    for i, ((series, family), g) in enumerate(sel.groupby(["series", "family"], sort=True)):
        g = g[g["x"].notna()].sort_values("x")
        if g.empty:
            continue
        color = f"C{i % 10}"
        x, y, err = g["x"].to_numpy(float), g["value"].to_numpy(float), g["stderr"].to_numpy(float)
        label = _series_label(series, family, notes)
        if log_y:
            n = float(np.nanmax(g["n"])) if g["n"].notna().any() else math.nan
            floor = 1.0 / n if n and not math.isnan(n) else math.nan
            floors.append(floor)
            positive = y > 0
            ax.plot(x[positive], y[positive], "o-", color=color, label=label)
            if not math.isnan(floor) and (~positive).any():
                ax.plot(
                    x[~positive],
                    np.full((~positive).sum(), floor),
                    "o",
                    mfc="none",
                    color=color,
                    label=f"{series}: 0 (drawn at floor)",
                )
        else:
            ax.errorbar(
                x,
                y,
                yerr=None if np.all(np.isnan(err)) else np.nan_to_num(err),
                fmt="o-",
                capsize=2,
                color=color,
                label=label,
            )
        if fits is not None and metric in ("exact_match", "token_edit_distance"):
            rows = fits[
                (fits["task"] == task)
                & (fits["series"] == series)
                & (fits["split"] == split)
                & fits["c"].notna()
                & fits["L"].notna()
            ]
            for fit in rows.itertuples(index=False):
                grid = _grid(min(x.min(), fit.x_min), max(x.max(), fit.x_max))
                pr = predict(grid, fit.c, fit.alpha, fit.L)
                curve = pr.exact_match if metric == "exact_match" else pr.token_edit_distance
                what = "p^L" if metric == "exact_match" else "L(1-p)"
                ax.plot(grid, curve, "--", color=color, alpha=0.8, label=f"predicted {what}, L={fit.L:.3g}")
                break
    if log_y:
        ax.set_yscale("log")
        finite = [f for f in floors if not math.isnan(f)]
        positive = sel.loc[sel["value"] > 0, "value"]
        lows = finite + ([float(positive.min())] if len(positive) else [])
        if finite:
            ax.axhline(min(finite), ls=":", color="0.4", label=f"resolution 1/n = {min(finite):.2g}")
        if lows:
            # A predicted p**L reaches 1e-12 for small models; show a decade below the data, not the whole tail.
            ax.set_ylim(bottom=min(lows) / 10)
    _log_x(ax, xs_all)
    arrow = "" if sel.empty or bool(sel["higher_is_better"].iloc[0]) else " (lower is better)"
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel(metric + arrow)
    ax.set_title(
        f"{metric} [{filt}]" + (f", {split}" if split != "all" else "") + (" - log y" if log_y else ""), fontsize=9
    )
    if sel.empty:
        ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", color="0.5")
    ax.legend(
        fontsize=6,
        loc="lower right" if log_y else "best" if sel.empty else "upper left" if arrow == "" else "upper right",
    )
    return ax


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
    the first discontinuous metric on a log y axis with the resolution floor. Returns the array of axes."""
    require_matplotlib()
    df = tidy(table)
    filt = filter or choose_filter(df, task)
    sel = df[(df["task"] == task) & (df["split"] == split) & (df["filter"] == filt)]
    names = list(metrics) if metrics is not None else ordered_metrics(sel)
    log_metric = next((m for m in names if sel.loc[sel["metric"] == m, "kind"].eq("discontinuous").any()), None)
    panels = len(names) + (1 if log_view and log_metric else 0)
    if axes is None:
        cols = min(max(panels, 1), 4)
        rows = math.ceil(max(panels, 1) / cols)
        fig, axes = new_figure(rows, cols, panel=(3.8, 3.2), top=0.6)
        fig.suptitle(f"{task}" + (f" ({split})" if split != "all" else ""), fontsize=11)
        for extra in axes.flat[panels:]:
            extra.set_visible(False)
    flat = np.asarray(axes).reshape(-1)
    if flat.size < panels:
        raise ValueError(f"axes has {flat.size} panels; this task needs {panels}")
    for ax, metric in zip(flat, names):
        plot_metric(
            df, task=task, metric=metric, filter=filt, split=split, fits=fits, x_label=x_label, notes=notes, ax=ax
        )
    if log_view and log_metric:
        plot_metric(
            df,
            task=task,
            metric=log_metric,
            filter=filt,
            split=split,
            log_y=True,
            fits=fits,
            x_label=x_label,
            notes=notes,
            ax=flat[len(names)],
        )
    return np.asarray(axes)


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
    plt = require_matplotlib()
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
        ax = new_figure(panel=(4.2, 3.2))[1][0, 0]
    cmap = plt.get_cmap("viridis")
    lengths = sorted(sel["target_digits"].unique())
    for i, d in enumerate(lengths):
        g = sel[sel["target_digits"] == d].sort_values("x")
        ax.plot(g["x"], g["value"], "o-", color=cmap(i / max(len(lengths) - 1, 1)), label=f"{int(d)} digits")
    _log_x(ax, sel["x"].to_numpy(float))
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} [{filt}] by target length, {series}", fontsize=9)
    ax.legend(fontsize=6)
    return ax


def plot_emergence_scores(scores: pd.DataFrame, *, task: str | None = None, split: str = "all", ax=None):
    """Horizontal bars of emergence scores by metric (red: discontinuous, orange: nonlinear, blue: continuous).

    Infinite scores (a pure jump) are drawn to the edge of the axis, hatched and marked with the infinity sign;
    bootstrap intervals, where present, as error bars; the dashed lines are the verdict's thresholds.
    """
    require_matplotlib()
    sel = scores[(scores["split"] == split) & ((scores["task"] == task) if task is not None else True)]
    sel = sel.sort_values(["kind", "metric", "filter", "series"]).reset_index(drop=True)
    if ax is None:
        longest = max([len(str(m)) + len(str(f)) + 3 for m, f in zip(sel["metric"], sel["filter"])] + [10])
        ax = new_figure(panel=(4.5 + 0.07 * longest, 0.4 * max(len(sel), 2) + 0.9), left=0.3 + 0.07 * longest)[1][0, 0]
    finite = sel["emergence_score"].replace([np.inf, -np.inf], np.nan).abs()
    thresholds = sel["threshold"].dropna()
    cap = (
        float(
            np.nanmax(
                [finite.max() if finite.notna().any() else 0.0, thresholds.max() if len(thresholds) else 0.0, 1.0]
            )
        )
        * 1.3
    )
    several = sel["series"].nunique() > 1
    for i, row in sel.iterrows():
        value = row["emergence_score"]
        shown = float(np.clip(value, -cap, cap)) if not math.isnan(value) else 0.0
        color = _KIND_COLORS.get(row["kind"], "0.5")
        ax.barh(i, shown, color=color, alpha=0.75, hatch="//" if math.isinf(value) else None)
        right = max(shown, 0.0)
        if not (math.isnan(row["ci_low"]) or math.isnan(row["ci_high"])):
            lo, hi = np.clip([row["ci_low"], row["ci_high"]], -cap, cap)
            ax.plot([lo, hi], [i, i], color="k", lw=1)
            right = max(right, float(hi))
        text = (
            "inf"
            if value == math.inf
            else "-inf"
            if value == -math.inf
            else "n/a"
            if math.isnan(value)
            else f"{value:.2f}"
        )
        ax.text(right, i, f" {text} ({row['verdict']})", va="center", fontsize=7)
    labels = [f"{r.metric} [{r.filter}]" + (f" {r.series}" if several else "") for r in sel.itertuples()]
    ax.set_yticks(range(len(sel)), labels, fontsize=8)
    for t in sorted(set(thresholds.round(6))):
        ax.axvline(t, ls="--", color="0.4", lw=0.8)
        ax.axvline(-t, ls="--", color="0.4", lw=0.8)
    ax.axvline(0, color="k", lw=0.6)
    ax.set_xlim(-cap if (sel["emergence_score"] < 0).any() else 0, cap * 1.5)
    ax.set_xlabel("emergence score (dashed: verdict threshold)")
    ax.set_title(
        f"Emergence scores{': ' + task if task else ''}" + (f" ({split})" if split != "all" else ""), fontsize=10
    )
    return ax


def plot_fit(table: pd.DataFrame, fit, *, metric: str | None = None, x_label: str = "x", ax=None):
    """Observed per-token cross-entropy (``-metric``) against x on log-log axes, with the fitted power law.

    ``fit`` is a row of :func:`~lm_eval_mirage.analysis.scaling.fit_table` (a dict, Series or named tuple)."""
    require_matplotlib()
    get = (
        (lambda k: getattr(fit, k)) if hasattr(fit, "_fields") else (lambda k: fit[k])
    )  # named tuple, or dict / Series
    metric = metric or get("metric") or "per_token_logprob"
    df = tidy(table)
    sel = df[(df["task"] == get("fit_task")) & (df["metric"] == metric) & (df["series"] == get("series"))
             & (df["split"] == get("split")) & (df["filter"] == get("filter")) & df["x"].notna()].sort_values("x")  # fmt: skip
    if ax is None:
        ax = new_figure(panel=(4.6, 3.4), left=1.15)[1][0, 0]
    ce = -sel["value"].to_numpy(float) if sel["higher_is_better"].all() else sel["value"].to_numpy(float)
    ax.plot(sel["x"], ce, "o", label="observed -" + metric)
    if not math.isnan(get("c")):
        grid = _grid(get("x_min"), get("x_max"))
        ax.plot(
            grid,
            (grid / get("c")) ** get("alpha"),
            "--",
            label=f"fit (N/c)^alpha: c={get('c'):.3g}, alpha={get('alpha'):.3g}, R2={get('r2'):.3f}",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{x_label} (log scale)")
    ax.set_ylabel(f"cross-entropy (nats): -{metric}")
    ax.set_title(f"{get('fit_task')}: L_CE(N) power law ({get('series')}, {get('split')})", fontsize=9)
    ax.legend(fontsize=6)
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
        fig, axes = new_figure(1, 4, panel=(3.6, 3.2), top=0.6)
        fig.suptitle(
            f"Closed form: L_CE = (N/{c:.3g})^{alpha:g}, models at {', '.join(f'{n:.2g}' for n in N)}", fontsize=10
        )
    axes = np.asarray(axes).reshape(-1)
    grid = _grid(min(N), max(N))
    base = predict(grid, c, alpha, 1)
    at_n = predict(np.asarray(N), c, alpha, 1)
    axes[0].plot(grid, base.cross_entropy)
    axes[0].plot(N, at_n.cross_entropy, "o")
    axes[0].set_ylabel("per-token cross-entropy")
    axes[1].plot(grid, base.p)
    axes[1].plot(N, at_n.p, "o")
    axes[1].set_ylabel("p(correct token)")
    for L in lengths:
        pr, pts = predict(grid, c, alpha, L), predict(np.asarray(N), c, alpha, L)
        line = axes[2].plot(grid, pr.exact_match, label=f"L={L}")[0]
        axes[2].plot(N, pts.exact_match, "o", color=line.get_color())
        axes[3].plot(grid, pr.token_edit_distance, color=line.get_color(), label=f"L={L}")
        axes[3].plot(N, pts.token_edit_distance, "o", color=line.get_color())
    axes[2].set_ylabel("exact match p^L")
    axes[3].set_ylabel("token edit distance L(1-p)")
    for ax in axes:
        ax.set_xscale("log")
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
    finally:
        plt.close(fig)
    return written
