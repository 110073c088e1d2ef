"""The mirage report: tables (CSV, JSON), figures (PNG, SVG), Markdown and a self-contained HTML page.

:func:`write_report` takes any tidy table (harness results through :func:`~lm_eval_mirage.analysis.collect`,
or a hand-built one) and writes into ``out_dir``::

    table.csv / table.json            the tidy table
    emergence.csv / emergence.json    one row per curve: score, linearity, bootstrap interval, verdict
    fits.csv / fits.json              power-law fits of the per-token cross-entropy (when the table has one)
    predictions.csv / .json           predicted exact match p**L and TED L*(1-p) next to the observed values
    cross_task*.csv / .json           series with several tasks: verdicts per metric, metric vs task-model
    figures/<family>__headline.*      per family: the most emergent-looking task, its metrics side by side
    figures/<task>__*.png / .svg      side by side, log-y with resolution floor, scores, by length, fit
    report.md, report.html            the report (the HTML embeds every figure: one file to send around)

The report opens with the answer: for each family its headline figure and a verdict grid (tasks x metrics,
one coloured cell per curve, the reason on hover), then the details. The HTML is rendered by jinja2 with
autoescaping on (task names, notes and model labels come from files and are shown as text, never run).

JSON files are strict JSON: NaN becomes ``null`` and an infinite score the string ``"inf"`` / ``"-inf"``.
"""

from __future__ import annotations

import base64
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lm_eval_mirage._io import atomic_write_text
from lm_eval_mirage.analysis.emergence import DEFAULT_THRESHOLD_FACTOR
from lm_eval_mirage.analysis.output import (
    file_slug,
    format_value,
    markdown_table,
    write_frame,
)
from lm_eval_mirage.analysis.scaling import fit_table, prediction_table
from lm_eval_mirage.analysis.selection import (
    choose_filter,
    fit_flag,
    headline_choice,
    shown_metrics,
)
from lm_eval_mirage.analysis.table import emergence_table, step_zero_notes, tidy

__all__ = [
    "Report",
    "write_report",
    "summarize_task",
    "model_label",
    "verdict_grid",
    "VERDICT_STYLES",
]

#: Verdict -> (CSS class, short word in a grid cell). Verdicts not listed get class ``v-other``.
VERDICT_STYLES = {
    "emergent": ("v-emergent", "emergent"),
    "inverse emergent": ("v-inverse", "inverse"),
    "smooth": ("v-smooth", "smooth"),
    "flat (within noise)": ("v-flat", "flat"),
    "flat": ("v-flat", "flat"),
    "uncertain": ("v-uncertain", "uncertain"),
    "at chance": ("v-chance", "at chance"),
    "at resolution floor": ("v-floor", "at floor"),
    "too few models": ("v-few", "too few"),
    "direction unknown": ("v-unknown", "direction?"),
}
_SMOOTH = ("smooth", "flat", "flat (within noise)")
#: Grid rows shown on the first screen per family; the others are one click away.
GRID_ROWS = 8


@dataclass
class Report:
    """What :func:`write_report` wrote and computed."""

    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    fits: pd.DataFrame = field(default_factory=pd.DataFrame)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame)
    summary: dict[str, list[str]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    forecast: object = None  # analysis.forecast.Forecast when write_report(forecast=...) was asked


def _metric_label(row, with_filter: bool = True) -> str:
    score = row.emergence_score
    shown = "inf" if score == math.inf else "-inf" if score == -math.inf else f"{score:.2f}"
    filt = "" if row.filter in ("none", "") or not with_filter else f" [{row.filter}]"
    return f"{row.metric}{filt} (ES {shown})"


def summarize_task(scores: pd.DataFrame, task: str, *, split: str = "all") -> list[str]:
    """One sentence per series saying which metrics of ``task`` look emergent and what that suggests.

    Reads the verdicts of :func:`~lm_eval_mirage.analysis.table.emergence_table`; kinds as in
    :func:`~lm_eval_mirage.analysis.schema.metric_kind`. The log-likelihood twin ``<task>_ll`` (the same
    problems, scored by log-likelihood: per-token log-prob, target probability) is read with ``task``, as in
    the verdict grid: a generation task's continuous metrics are often only in its twin.
    """
    out = []
    sel = scores[scores["task"].isin({task, f"{task}_ll"}) & (scores["split"] == split)]
    too_few: list[str] = []
    for series, g in sel.groupby("series", sort=True):
        if (g["verdict"] == "too few models").all():
            too_few.append(f"{series} ({int(g['n_models'].max()) if len(g) else 0})")
            continue
        emergent = g[g["verdict"] == "emergent"]
        sharp = emergent[emergent["kind"] != "continuous"]
        cont = g[g["kind"] == "continuous"]
        cont_emergent = emergent[emergent["kind"] == "continuous"]
        cont_smooth = cont[cont["verdict"].isin(_SMOOTH)]
        uncertain = g[g["verdict"] == "uncertain"]
        several = g["filter"].nunique() > 1  # name the filter only where it tells two curves apart
        names = lambda d: ", ".join(_metric_label(r, several) for r in d.itertuples())  # noqa: E731
        if len(cont_emergent):
            text = (
                f"{series}: looks emergent under continuous metric(s) {names(cont_emergent)}"
                + (f" as well as {names(sharp)}" if len(sharp) else "")
                + (f", though smooth under {names(cont_smooth)}" if len(cont_smooth) else "")
                + "; the jump is not explained by the choice of metric alone."
            )
        elif len(sharp) and len(cont_smooth):
            text = (
                f"{series}: looks emergent under {names(sharp)} but changes smoothly under {names(cont_smooth)}: "
                "consistent with a metric-induced mirage."
            )
        elif len(sharp):
            text = f"{series}: looks emergent under {names(sharp)}; no smooth continuous metric to compare with."
        elif len(uncertain):
            smooth = g[g["verdict"].isin(_SMOOTH)]
            text = (
                f"{series}: possibly emergent under {names(uncertain)} (score above the threshold, but the "
                "bootstrap interval reaches below it)"
                + (f"; smooth under {names(smooth)}" if len(smooth) else "")
                + "."
            )
            uncertain = uncertain.iloc[0:0]
        else:
            text = f"{series}: no metric looks emergent ({names(g[g['verdict'].isin(_SMOOTH)]) or 'none judged'})."
        if len(uncertain):
            text += f" Uncertain (bootstrap interval reaches below the threshold): {names(uncertain)}."
        out.append(text)
    if too_few:  # one line for all of them: 27 checkpoints of one model would otherwise be 27 lines
        shown = ", ".join(too_few[:3]) + (f" and {len(too_few) - 3} more" if len(too_few) > 3 else "")
        out.append(f"Not judged (fewer than three models with a known scale; models in brackets): {shown}.")
    return out


def _normalize_notes(notes: str | Mapping[str, str] | None) -> tuple[str, dict[str, str]]:
    if notes is None:
        return "", {}
    if isinstance(notes, str):
        return notes, {}
    general = str(notes.get("", notes.get("*", "")))
    return general, {str(k): str(v) for k, v in notes.items() if k not in ("", "*")}


def model_label(model: str) -> str:
    """How a model is named in the report: a local folder by its name, never by the absolute path of the
    machine that ran it; anything else (a hub id such as ``EleutherAI/pythia-160m``, an alias) unchanged.

    Example:
        >>> model_label("/home/me/zoo/checkpoints/recall-w4-s0/"), model_label("EleutherAI/pythia-160m")
        ('recall-w4-s0', 'EleutherAI/pythia-160m')
        >>> model_label("C:\\\\runs\\\\tiny"), model_label("./tiny"), model_label("~/m")
        ('tiny', 'tiny', 'm')
    """
    text = str(model)
    if text.startswith(("/", "./", "../", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        parts = [p for p in re.split(r"[\\/]+", text) if p not in ("", ".", "..", "~")]
        return parts[-1] if parts else text
    return text


def _display_scores(scores: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """The curves a reader is shown: split ``all``, the filter the figures show, each quantity once."""
    scores = scores[scores["split"] == "all"]
    if scores.empty:
        return scores
    keep = []
    for task, g in scores.groupby("task", sort=False):
        filt = choose_filter(table, task) if (table["task"] == task).any() else g["filter"].iloc[0]
        g = g[g["filter"] == filt] if (g["filter"] == filt).any() else g
        keep.append(g[g["metric"].isin(shown_metrics(g["metric"]))])
    return pd.concat(keep).sort_index() if keep else scores.iloc[0:0]


def _reason(row: Mapping, threshold_factor: float) -> str:
    """The sentence behind a verdict: the table's ``reason`` when it has one, else one built from the scores."""
    reason = row.get("reason")
    if isinstance(reason, str) and reason.strip():
        return reason.strip()
    score, line = row.get("emergence_score", math.nan), row.get("straight_line", math.nan)
    text = f"{row.get('verdict', '')}: emergence score {format_value(score)}"
    if isinstance(line, float) and not math.isnan(line):
        text += f" vs threshold {format_value(row.get('threshold', math.nan))} ({threshold_factor:g} x a straight line's {format_value(line)})"
    lo, hi = row.get("ci_low", math.nan), row.get("ci_high", math.nan)
    if isinstance(lo, float) and not (math.isnan(lo) and math.isnan(hi)):
        text += f", bootstrap interval [{format_value(lo)}, {format_value(hi)}]"
    return text + f"; {int(row.get('n_models', 0))} models"


def _score_cell(value: float) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "\u221e" if value > 0 else "-\u221e"
    if isinstance(value, float) and math.isnan(value):
        return "\u2013"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def verdict_grid(
    scores: pd.DataFrame,
    family: str,
    *,
    headline: str | None = None,
    threshold_factor: float = DEFAULT_THRESHOLD_FACTOR,
) -> dict:
    """The verdict grid of one family: rows are (series, task), columns metrics, one cell per curve.

    ``scores`` holds the curves to show (split ``all``, one filter per task). A task's log-likelihood twin
    (``<task>_ll``) shares its row when their metrics differ. Returns ``{"columns": [metric, ...], "rows":
    [{"label", "series", "tasks", "cells": [cell or None, ...]}]}``; a cell is ``{"verdict", "css", "word",
    "score", "reason", "task", "metric"}``. The ``headline`` task's row comes first, then rows with an emergent,
    uncertain or inverse emergent cell (in that order), the others after them (sorting is stable).
    """
    sel = scores[scores["family"] == family]
    rank = {"discontinuous": 0, "nonlinear": 1}
    kinds = sel.drop_duplicates("metric").set_index("metric")["kind"].to_dict()
    columns = sorted(kinds, key=lambda m: (rank.get(kinds[m], 2), m))
    metrics_of = {k: set(g["metric"]) for k, g in sel.groupby(["series", "task"])}
    rows: dict[tuple[str, str], dict] = {}
    for (series, task), g in sel.groupby(["series", "task"], sort=True):
        base = task[:-3] if task.endswith("_ll") else task
        if base != task and not ((series, base) in metrics_of and not metrics_of[(series, base)] & set(g["metric"])):
            base = task
        row = rows.setdefault(
            (series, base), {"label": base, "series": series, "tasks": [], "cells": [None] * len(columns)}
        )
        row["tasks"].append(task)
        for rec in g.to_dict(orient="records"):
            css, word = VERDICT_STYLES.get(rec["verdict"], ("v-other", str(rec["verdict"])))
            row["cells"][columns.index(rec["metric"])] = {
                "verdict": rec["verdict"],
                "css": css,
                "word": word,
                "score": _score_cell(rec["emergence_score"]),
                "reason": f"{task} / {rec['metric']}: " + _reason(rec, threshold_factor),
                "task": task,
                "metric": rec["metric"],
            }
    # rows where nothing could be judged (a series of one checkpoint) are left out: the notes list them
    rows = {k: r for k, r in rows.items() if any(c and c["verdict"] != "too few models" for c in r["cells"])}
    several = len({k[0] for k in rows}) > 1
    out = list(rows.values())
    for row in out:
        row["label"] = (
            (f"{row['series']}: " if several else "") + row["label"] + ("" if len(row["tasks"]) == 1 else " (+_ll)")
        )
    rank = {"emergent": 0, "uncertain": 1, "inverse emergent": 2}
    out.sort(
        key=lambda r: (headline not in r["tasks"], min([rank.get(c["verdict"], 3) for c in r["cells"] if c] + [3]))
    )
    return {"columns": columns, "rows": out}


def write_report(
    table: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    samples: pd.DataFrame | None = None,
    title: str = "Mirage report",
    notes: str | Mapping[str, str] | None = None,
    messages: Sequence[str] | None = None,
    x_label: str = "parameters",
    tasks: Sequence[str] | None = None,
    plots: bool = True,
    formats: Sequence[str] = ("png", "svg"),
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    threshold_factor: float = DEFAULT_THRESHOLD_FACTOR,
    paper_figure: bool = False,
    progress: bool = True,
    forecast=None,
) -> Report:
    """Score, fit, plot and write the report for a tidy table.

    Args:
        table: a tidy table (hand-built tables are completed by :func:`~lm_eval_mirage.analysis.table.tidy`).
        out_dir: folder to write into (created).
        samples: per-problem values for bootstrap intervals (``Collection.samples``), optional.
        title: the report's title.
        notes: free text shown at the top: one string for the whole report, or family -> text (the key ``""``
            holds a general note), repeated in each task section of that family (e.g. ``{"zoo": "SIMULATION"}``).
        messages: data notes to list (default: ``table.attrs["messages"]`` from :func:`collect`).
        x_label: name of the scale axis in figures.
        tasks: only these tasks (default: all).
        plots: draw figures (needs matplotlib: ``pip install 'lm-eval-mirage[plot]'``; ImportError otherwise).
        formats: figure formats; the HTML embeds PNG when written, else inline SVG.
        n_boot, level, seed: bootstrap settings; threshold_factor: see
            :func:`~lm_eval_mirage.analysis.emergence.emergence_verdict`.
        paper_figure: also draw the paper's closed-form illustration.
        progress: progress bars.
        forecast: a :class:`~lm_eval_mirage.analysis.forecast.ForecastOptions`: hold out the largest models,
            forecast them (``forecast.csv/json``, ``forecast_emergence.csv/json``, a report section).

    Returns:
        A :class:`Report` with the paths written and the computed tables.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    msgs = list(messages if messages is not None else table.attrs.get("messages", []))
    df = tidy(table)
    msgs += [note for note in step_zero_notes(df) if note not in msgs]  # for every caller, said once
    if tasks is not None:
        unknown = sorted(set(tasks) - set(df["task"]))
        if unknown:
            raise ValueError(f"tasks {unknown} are not in the table; it has {sorted(set(df['task']))}")
        df = df[df["task"].isin(set(tasks) | {f"{t}_ll" for t in tasks})]
    if plots:
        from lm_eval_mirage.analysis.plots import require_matplotlib

        require_matplotlib()  # fail before any work, with the install hint
    report = Report(out, messages=msgs)
    report.scores = emergence_table(
        df, samples, n_boot=n_boot, level=level, seed=seed, threshold_factor=threshold_factor, progress=progress
    )
    report.fits = fit_table(df)
    report.predictions = prediction_table(df, report.fits)
    for name, frame in (
        ("table", df),
        ("emergence", report.scores),
        ("fits", report.fits),
        ("predictions", report.predictions),
    ):
        if name in ("table", "emergence") or len(frame):
            csv, js = write_frame(frame, out / name)
            report.files[f"{name}.csv"], report.files[f"{name}.json"] = csv, js
    general, family_notes = _normalize_notes(notes)
    task_names = sorted(set(df["task"]))
    display = _display_scores(report.scores, df)
    families = sorted(set(display["family"])) if len(display) else []
    choices = {fam: choice for fam in families if (choice := headline_choice(display, fam)) is not None}
    figures: dict[str, list[tuple[str, str]]] = {t: [] for t in task_names}
    if plots:
        figures.update(
            _draw(_curves(df), report, out, task_names, family_notes, x_label, formats, paper_figure, progress, choices)
        )
    report.summary = {t: summarize_task(display, t) for t in task_names}
    forecast_section: list[tuple] = []
    if forecast is not None:  # forecast.csv, summary lines and a section before the list of files
        from lm_eval_mirage.analysis.forecast_plots import add_forecast

        forecast_section = add_forecast(report, df, samples, forecast, plots=plots, formats=formats, x_label=x_label)
    glance = [
        {
            "family": fam,
            "note": family_notes.get(fam, ""),
            "figure": (figures.get(f"headline:{fam}") or [(None, "")])[0],
            "task": choices[fam][0] if fam in choices else "",
            "summary": [
                line
                for line in report.summary.get(choices[fam][0], [])
                if line.split(":", 1)[0] in set(display.loc[display["family"] == fam, "series"])
            ]
            if fam in choices
            else [],
            "grid": verdict_grid(display, fam, headline=choices.get(fam, ("",))[0], threshold_factor=threshold_factor),
        }
        for fam in families
    ]
    from lm_eval_mirage.analysis.cross_task import (
        cross_task_section,  # cross_task*.csv/json and a section
    )

    cross_task = cross_task_section(report, out, plots=plots, formats=formats)
    blocks = _blocks(df, report, task_names, figures, title, general, family_notes, x_label, threshold_factor, level)
    blocks[-2:-2] = cross_task + forecast_section  # before the list of files
    report.files["report.md"] = atomic_write_text(out / "report.md", _render_markdown(blocks, out, title, glance))
    report.files["report.html"] = atomic_write_text(out / "report.html", _render_html(blocks, out, title, glance))
    return report


def _curves(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of series with at least two models on the x axis: the ones a figure can draw as a curve.

    A single checkpoint of a model (one of 27 steps of pythia-160m in a size plot) is a point, not a curve:
    it is listed in the tables and left out of the figures, which would otherwise draw one legend entry per
    checkpoint (and take minutes for a folder of published results).
    """
    if df.empty or "series" not in df.columns:
        return df
    n_x = df.groupby("series")["x"].nunique()
    return df[df["series"].isin(n_x[n_x >= 2].index)]


def _draw(
    df, report, out, task_names, family_notes, x_label, formats, paper_figure, progress, choices
) -> dict[str, list[tuple[str, str]]]:
    from tqdm.auto import tqdm

    from lm_eval_mirage.analysis import plots

    figures: dict[str, list[tuple[str, str]]] = {t: [] for t in task_names}
    fig_dir = out / "figures"

    def save(fig, task: str, kind: str, caption: str) -> None:
        stem = fig_dir / f"{file_slug(task)}__{kind}"
        for path in plots.save_figure(fig, stem, formats):
            report.files[f"figures/{path.name}"] = path
        figures.setdefault(task, []).append((f"figures/{stem.name}", caption))

    for fam, (task, metric, companions) in choices.items():
        axes = plots.plot_headline(
            df, (task, metric, companions), family=fam, fits=report.fits, x_label=x_label, notes=family_notes
        )
        names = ", ".join(m for _, m in companions)
        save(
            axes.flat[0].figure,
            f"{fam}",
            "headline",
            f"{metric} of {task} against scale, linear and log y (dotted: the resolution floor 1/n; open markers: "
            f"0 drawn at the floor)" + (f", next to the continuous {names}" if names else "") + ".",
        )
        figures[f"headline:{fam}"] = figures.pop(fam)
    for task in tqdm(task_names, desc="figures", unit="task", disable=not progress or len(task_names) < 3):
        axes = plots.plot_side_by_side(df, task, fits=report.fits, x_label=x_label, notes=family_notes)
        save(
            axes.flat[0].figure,
            task,
            "side_by_side",
            "Discontinuous and continuous metrics against scale; the last panel is log-y with the resolution floor 1/n.",
        )
        if (report.scores["task"] == task).any() and (
            report.scores.loc[report.scores["task"] == task, "split"] == "all"
        ).any():
            ax = plots.plot_emergence_scores(report.scores, task=task)
            save(ax.figure, task, "emergence", "Emergence score by metric; dashed lines: the verdict threshold.")
        by_len = df[(df["task"] == task) & df["target_digits"].notna()]
        if by_len["target_digits"].nunique() > 1:
            names = [
                m
                for m in ("exact_match", "token_edit_distance", "greedy_exact_match", "per_token_logprob")
                if m in set(by_len["metric"])
            ]
            names = names or sorted(set(by_len["metric"]))[:2]
            fig, axs = plots.new_figure(1, len(names), panel=(4.2, 3.2))
            for ax, metric in zip(axs.flat, names):
                plots.plot_by_length(df, task, metric=metric, x_label=x_label, ax=ax)
            save(fig, task, "by_length", "Split by the number of answer digits (the paper's Fig. 3/4).")
    for fit in report.fits[report.fits["c"].notna() & (report.fits["split"] == "all")].itertuples(index=False):
        ax = plots.plot_fit(df, fit, x_label=x_label)
        save(
            ax.figure,
            fit.task,
            f"fit_{file_slug(fit.series)}",
            f"Power-law fit of the per-token cross-entropy of {fit.fit_task} ({fit.series}).",
        )
    if paper_figure:
        axes = plots.plot_paper_illustration()
        save(axes[0].figure, "paper", "closed_form", "The paper's closed form with c = 2e9, alpha = -0.5.")
    return figures


def _models_table(df: pd.DataFrame, x_label: str) -> pd.DataFrame:
    """One row per model, named by its label; ``params`` only where it says more than the scale column."""
    models = df.drop_duplicates("model")[["model", "family", "series", "x", "params", "params_source", "step"]]
    models = models.sort_values(["series", "x"]).assign(model=lambda m: m["model"].map(model_label))
    same = models["params"].isna() | (models["params"] == models["x"])
    if same.all():
        models = models.drop(columns=["params"])
    if models["step"].isna().all():
        models = models.drop(columns=["step"])
    return models.rename(columns={"x": x_label}) if x_label not in models.columns else models


def _fits_shown(fits: pd.DataFrame) -> pd.DataFrame:
    """The fits table as shown: with a ``quality`` column (:func:`~lm_eval_mirage.analysis.selection.fit_flag`)."""
    cols = ["series", "fit_task", "metric", "split", "c", "alpha", "r2", "n_models", "L", "L_source"]
    cols += [c for c in ("L_unit", "error", "warning") if c in fits.columns]
    quality = [fit_flag(r) or "ok" for r in fits.to_dict(orient="records")]
    return fits[cols].assign(quality=quality)


def _blocks(
    df, report, task_names, figures, title, general, family_notes, x_label, threshold_factor, level
) -> list[tuple]:
    b: list[tuple] = [("h", 2, "Details")]
    if general:
        b.append(("note", general))
    for fam, text in sorted(family_notes.items()):
        b.append(("note", f"{fam}: {text}"))
    b.append(("h", 2, "Summary"))
    b.append(
        (
            "list",
            [s for t in task_names for s in (f"{t}: {line}" for line in report.summary.get(t, []))]
            or ["No curves to judge."],
        )
    )
    models = _models_table(df, x_label)
    b += [("h", 2, "Models"), ("table", models)]
    if len(models) == 1:
        b.append(
            (
                "p",
                f"Only one model ({models['model'].iloc[0]}): its values are shown, but emergence needs at least three models on a curve.",
            )
        )
    if report.messages:
        b += [("h", 2, "Data notes"), ("list", list(report.messages))]
    b += [
        ("h", 2, "How to read this report"),
        (
            "list",
            [
                "Emergence score (BIG-bench breakthroughness): sign(argmax y - argmin y) * (max y - min y) / sqrt(median (y_i - y_{i-1})^2), "
                "models ordered by scale, lower-is-better metrics negated first; inf when half or more of the steps are exactly zero (a pure jump), 0 for a flat curve.",
                f"Verdict: 'emergent' when the score is at least {threshold_factor:g} times the score of a straight line in log {x_label} over the same models "
                "('straight_line'; n - 1 for n equally spaced models); 'uncertain' when the bootstrap interval reaches below that threshold.",
                "Linearity: R^2 of a straight-line fit of the metric against log x (1 = exactly linear).",
                f"Interval: {level:.0%} percentile bootstrap over the problems (paired across models when all saw the same problems), from samples files.",
                "Kinds: discontinuous (exact match, accuracy), nonlinear (whole-target probability p^L), continuous (edit distances, log-likelihoods).",
                "Predicted curves: L_CE(N) = (N/c)^alpha fitted to -per_token_logprob; exact match p^L and token edit distance L(1-p), p = exp(-L_CE).",
            ],
        ),
    ]
    if figures.get("paper"):
        b.append(("h", 2, "The paper's closed form"))
        b += [("figure", stem, caption) for stem, caption in figures["paper"]]
    score_cols = [
        "series",
        "metric",
        "filter",
        "kind",
        "n_models",
        "emergence_score",
        "ci_low",
        "ci_high",
        "straight_line",
        "linearity",
        "verdict",
        "reason",
        "missing",
    ]
    for task in task_names:
        b.append(("h", 2, f"Task {task}", f"task-{file_slug(task)}"))
        fams = sorted(set(df.loc[df["task"] == task, "family"]))
        for fam in fams:
            if fam in family_notes:
                b.append(("note", f"{fam}: {family_notes[fam]}"))
        b.append(("list", report.summary.get(task, []) or ["No curves to judge."]))
        sc = report.scores[(report.scores["task"] == task)]
        sc = sc[sc["metric"].isin(shown_metrics(sc["metric"]))]
        if len(sc):
            b.append(("table", sc[sc["split"] == "all"][score_cols]))
        for stem, caption in figures.get(task, []):
            b.append(("figure", stem, caption))
        splits = sc[sc["split"] != "all"]
        if len(splits):
            b += [
                ("h", 3, "By target length"),
                ("table", splits[["series", "split", "metric", "filter", "n_models", "emergence_score", "verdict"]]),
            ]
        fits = report.fits[report.fits["task"] == task]
        if len(fits):
            b += [
                ("h", 3, "Power-law fit and prediction"),
                ("table", _fits_shown(fits)),
            ]
            pred = report.predictions[(report.predictions["task"] == task) & (report.predictions["split"] == "all")]
            if len(pred):
                pred = pred.assign(model=pred["model"].map(model_label))
                b.append(("table", pred[["series", "model", "x", "metric", "observed", "predicted", "L"]]))
    b += [
        ("h", 2, "Files"),
        (
            "list",
            sorted(k for k in report.files if not k.startswith("figures/")) + ["report.md", "report.html", "figures/"],
        ),
    ]
    return b


def _figure_files(out: Path, stem: str) -> list[str]:
    return [ext for ext in ("png", "svg", "pdf") if (out / f"{stem}.{ext}").is_file()]


def _markdown_glance(glance: list[dict], out: Path) -> list[str]:
    parts = []
    for fam in glance:
        parts.append(f"### {fam['family']}")
        stem, caption = fam["figure"]
        found = _figure_files(out, stem) if stem else []
        if found:
            parts.append(f"![{caption}]({stem}.{found[0]})")
        parts += [f"**{fam['task']}**: {line}" for line in fam["summary"]]
        grid = fam["grid"]
        if grid["rows"]:
            frame = pd.DataFrame(
                [[r["label"]] + [f"{c['word']} {c['score']}" if c else "" for c in r["cells"]] for r in grid["rows"]],
                columns=["task"] + grid["columns"],
            )
            parts.append(markdown_table(frame))
    return parts


def _render_markdown(blocks: list[tuple], out: Path, title: str, glance: list[dict]) -> str:
    parts = [f"# {title}"] + _markdown_glance(glance, out)
    for block in blocks:
        kind = block[0]
        if kind == "h":
            parts.append("#" * block[1] + " " + block[2])
        elif kind == "p":
            parts.append(block[1])
        elif kind == "note":
            parts.append(f"> **Note** - {block[1]}")
        elif kind == "list":
            parts.append("\n".join(f"- {item}" for item in block[1]))
        elif kind == "table":
            parts.append(markdown_table(block[1]))
        elif kind == "figure":
            found = _figure_files(out, block[1])
            if found:
                others = ", ".join(f"[{ext.upper()}]({block[1]}.{ext})" for ext in found[1:])
                parts.append(
                    f"![{block[2]}]({block[1]}.{found[0]})\n\n*{block[2]}*" + (f" ({others})" if others else "")
                )
    return "\n\n".join(parts) + "\n"


def _embedded(out: Path, stem: str | None) -> dict | None:
    """A figure as the page embeds it: PNG as a data URI, else the SVG inline (our own matplotlib output,
    which escapes every text it draws), else None."""
    from markupsafe import Markup

    if not stem:
        return None
    png, svg = out / f"{stem}.png", out / f"{stem}.svg"
    if png.is_file():
        return {"png": "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode("ascii")}
    if svg.is_file():
        body = re.sub(r"^.*?(<svg\b)", r"\1", svg.read_text(encoding="utf-8"), count=1, flags=re.S)
        return {"svg": Markup(body)}
    return None


def _html_blocks(blocks: list[tuple], out: Path) -> list[dict]:
    shown = []
    for block in blocks:
        kind = block[0]
        if kind == "h":
            shown.append({"kind": "h", "level": block[1], "text": block[2], "id": block[3] if len(block) > 3 else None})
        elif kind in ("p", "note"):
            shown.append({"kind": kind, "text": block[1]})
        elif kind == "list":
            shown.append({"kind": "list", "entries": [str(i) for i in block[1]]})
        elif kind == "table":
            frame = block[1]
            shown.append(
                {
                    "kind": "table",
                    "columns": [str(c) for c in frame.columns],
                    "rows": [[format_value(v) for v in row] for row in frame.itertuples(index=False)],
                }
            )
        elif kind == "figure":
            image = _embedded(out, block[1])
            if image is not None:
                shown.append({"kind": "figure", "image": image, "caption": block[2]})
    return shown


def _render_html(blocks: list[tuple], out: Path, title: str, glance: list[dict]) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("lm_eval_mirage.analysis", "templates"),
        autoescape=True,  # every value is text from files (task names, notes, labels): shown, never run
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["breakable"] = lambda text: str(text).replace("_", "_\u200b")  # long names wrap at "_"
    families = [{**fam, "image": _embedded(out, fam["figure"][0]), "caption": fam["figure"][1]} for fam in glance]
    legend = [(css, word, verdict) for verdict, (css, word) in VERDICT_STYLES.items() if verdict != "flat"]
    return env.get_template("report.html.j2").render(
        title=title,
        families=families,
        blocks=_html_blocks(blocks, out),
        legend=legend,
        slug=file_slug,
        max_rows=GRID_ROWS,
    )
