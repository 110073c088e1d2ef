"""Figures and report blocks of the forecast (:mod:`lm_eval_mirage.analysis.forecast`).

One figure per task and series: a panel per metric (exact match and token edit distance when forecast by
the likelihood path, else the first two forecast metrics), the observed values of every model, the held-out
region shaded, and for each method its predicted curve, its 95% band and its interval at each held-out model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_mirage.analysis.forecast import (
    Forecast,
    ForecastOptions,
    forecast,
    summary_lines,
)
from lm_eval_mirage.analysis.output import file_slug, write_frame

__all__ = ["MAX_FIGURES", "forecast_metrics", "plot_forecast", "forecast_blocks", "add_forecast"]

#: At most this many forecast figures per report (a Pythia folder has about 80 tasks per series).
MAX_FIGURES = 24
_METHOD_STYLE = {"likelihood": ("tab:blue", "likelihood fit of L_CE"), "trend": ("tab:orange", "trend of the metric")}


def forecast_metrics(result: Forecast, task: str, series: str) -> list[str]:
    """The metrics drawn for ``task`` and ``series``: those with a likelihood forecast, else the first two."""
    rows = result.table[
        (result.table["task"] == task) & (result.table["series"] == series) & (result.table["split"] == "all")
    ]
    with_ll = sorted(set(rows.loc[rows["method"] == "likelihood", "metric"]))
    return with_ll or sorted(set(rows["metric"]))[:2]


def plot_forecast(
    result: Forecast,
    table: pd.DataFrame,
    task: str,
    series: str,
    *,
    metrics: Sequence[str] | None = None,
    x_label: str = "parameters",
    axes=None,
):
    """Draw the forecast of ``task`` for ``series``; returns the axes (one per metric)."""
    from lm_eval_mirage.analysis.plots import _log_x, new_figure

    metrics = list(metrics or forecast_metrics(result, task, series))
    if axes is None:
        _, axes = new_figure(1, max(len(metrics), 1), panel=(4.4, 3.4))
    axes = np.asarray(axes).reshape(-1)
    rows = result.table[
        (result.table["task"] == task) & (result.table["series"] == series) & (result.table["split"] == "all")
    ]
    bands = result.bands[
        (result.bands["task"] == task) & (result.bands["series"] == series) & (result.bands["split"] == "all")
    ]
    for ax, metric in zip(axes, metrics):
        fr = rows[rows["metric"] == metric]
        filt = fr["filter"].iloc[0] if len(fr) else "none"
        obs = table[
            (table["series"] == series)
            & (table["task"] == task)
            & (table["metric"] == metric)
            & (table["filter"] == filt)
            & (table["split"] == "all")
            & table["x"].notna()
        ].sort_values("x")
        held = set(fr["model"])
        if held:
            edge = (
                float(obs.loc[~obs["model"].isin(held), "x"].max())
                if (~obs["model"].isin(held)).any()
                else float(fr["x"].min())
            )
            ax.axvspan(
                np.sqrt(edge * float(fr["x"].min())),
                float(obs["x"].max()) * 1.6,
                color="0.92",
                zorder=0,
                label="held out",
            )
        for method, (color, label) in _METHOD_STYLE.items():
            band = bands[(bands["metric"] == metric) & (bands["method"] == method)].sort_values("x")
            if len(band):
                ax.fill_between(band["x"], band["low"], band["high"], color=color, alpha=0.18, lw=0)
                ax.plot(band["x"], band["predicted"], color=color, lw=1.3, label=label)
            pts = fr[fr["method"] == method]
            if len(pts):
                shift = 1.06 if method == "trend" else 1 / 1.06
                err = np.vstack([pts["predicted"] - pts["low"], pts["high"] - pts["predicted"]]).clip(min=0)
                ax.errorbar(pts["x"] * shift, pts["predicted"], yerr=err, fmt="s", ms=4, color=color, capsize=3, lw=1)
        fitted = obs[~obs["model"].isin(held)]
        ax.plot(fitted["x"], fitted["value"], "o", color="k", ms=4, label="observed (fitted)")
        out = obs[obs["model"].isin(held)]
        ax.plot(out["x"], out["value"], "o", mfc="white", mec="k", ms=6, label="observed (held out)")
        _log_x(ax, obs["x"].to_numpy())
        ax.set_title(f"{metric} [{filt}]", fontsize=9)
        ax.set_xlabel(x_label)
        if ax is axes[0]:
            ax.legend(fontsize=6)
    axes[0].figure.suptitle(f"{task}: forecast of the held-out models ({series})", fontsize=9)
    return axes


def forecast_blocks(
    result: Forecast,
    table: pd.DataFrame,
    out: Path,
    *,
    holdout: int,
    plots: bool,
    formats: Sequence[str],
    x_label: str,
    files: dict,
) -> list[tuple]:
    """Report blocks (the renderer's ``("h", ...)``, ``("table", ...)``, ``("figure", ...)`` tuples) of the forecast
    section, drawing its figures into ``out/figures`` (paths recorded in ``files``)."""
    blocks: list[tuple] = [("h", 2, f"Forecast: the {holdout} largest model(s) of each series held out")]
    blocks.append(
        (
            "p",
            "Every fit uses only the smaller models; the held-out models' values are forecast and "
            "compared with what was observed. likelihood: L_CE(N) = (N/c)^alpha fitted to the smaller "
            "models' per-token loss, then exact match mean_i p^T_i and token edit distance "
            "mean_i D_i (1 - p^(T_i/D_i)) over the held-out model's problems (T_i model tokens, D_i answer "
            "digits). trend: the metric's own curve (logistic in log x for proportions, a line otherwise). "
            "Intervals (95%): the fit's bootstrap over the smaller models' problems (from stderr without "
            "samples) plus the sampling noise of the held-out model's number of problems.",
        )
    )
    if result.messages:
        blocks.append(("list", list(result.messages)))
    t = result.table
    if t.empty and result.emergence.empty:
        return blocks + [("p", "Nothing to forecast (no series with enough models).")]
    lines = [
        f"{task}: {line}"
        for task in sorted(set(t["task"]) | set(result.emergence["task"]))
        for line in summary_lines(result, task, x_label=x_label)
    ]
    blocks.append(("list", lines or ["No likelihood forecast of exact match or token edit distance."]))
    shown = t[t["split"] == "all"]
    if len(shown):
        covered = shown["covered"].dropna().astype(bool)
        blocks.append(
            (
                "p",
                f"{int(covered.sum())} of {len(covered)} held-out values lie inside their 95% interval "
                "(split 'all'; every row, with the splits by answer digits, is in forecast.csv).",
            )
        )
        cols = ["series", "task", "metric", "filter", "model", "x", "observed", "predicted", "low", "high", "method"]
        key = shown["metric"].isin(["exact_match", "token_edit_distance"]) | ~shown["task"].isin(
            shown.loc[shown["method"] == "likelihood", "task"]
        )
        blocks.append(("table", shown[key][cols].head(200)))
    if plots and len(t):
        from lm_eval_mirage.analysis.plots import save_figure

        pairs = (
            t[t["split"] == "all"]
            .assign(ll=t["method"] == "likelihood")
            .groupby(["task", "series"], sort=True)["ll"]
            .any()
        )
        pairs = pairs.sort_values(ascending=False, kind="stable")
        if len(pairs) > MAX_FIGURES:
            blocks.append(
                (
                    "p",
                    f"Figures for the first {MAX_FIGURES} of {len(pairs)} (task, series) pairs "
                    "(likelihood forecasts first); forecast.csv has every row.",
                )
            )
        for task, series in pairs.index[:MAX_FIGURES]:
            axes = plot_forecast(result, table, task, series, x_label=x_label)
            stem = out / "figures" / f"{file_slug(task)}__forecast_{file_slug(series)}"
            for path in save_figure(axes[0].figure, stem, formats):
                files[f"figures/{path.name}"] = path
            blocks.append(
                (
                    "figure",
                    f"figures/{stem.name}",
                    f"Forecast of {task} ({series}): shaded, the held-out "
                    "region; lines and bands, each method's prediction and 95% interval; hollow points, "
                    "the held-out models' observed values.",
                )
            )
    return blocks


def add_forecast(
    report,
    table: pd.DataFrame,
    samples: pd.DataFrame | None,
    options: ForecastOptions,
    *,
    plots: bool,
    formats: Sequence[str],
    x_label: str,
) -> list[tuple]:
    """What :func:`~lm_eval_mirage.analysis.report.write_report` does with ``forecast=``: compute the forecast
    (``report.forecast``), write ``forecast.csv/json`` and ``forecast_emergence.csv/json``, add the summary
    lines to ``report.summary`` and return the report section's blocks."""

    result = forecast(table, samples, options)
    report.forecast = result
    out = Path(report.out_dir)
    for name, frame in (("forecast", result.table), ("forecast_emergence", result.emergence)):
        csv, js = write_frame(frame, out / name)
        report.files[f"{name}.csv"], report.files[f"{name}.json"] = csv, js
    for task in sorted(set(result.emergence["task"])):
        report.summary.setdefault(task, []).extend(summary_lines(result, task, x_label=x_label, errors=False))
    return forecast_blocks(
        result, table, out, holdout=options.holdout, plots=plots, formats=formats, x_label=x_label, files=report.files
    )
