"""Write the vision experiment's report with the shared analysis (the same report ``analyze`` writes).

:func:`write_vision_report` hands the tidy table and the per-image samples to
:func:`lm_eval_mirage.analysis.write_report` (emergence scores with bootstrap intervals, side-by-side figures,
Markdown and HTML), then adds what is specific to this experiment: one overview figure that overlays every
threshold c (drawn with the shared :func:`~lm_eval_mirage.analysis.plots.plot_metric`), the per-image samples
and ``run.json`` (the configuration, the training time of each model, library versions).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING

from lm_eval_mirage._io import atomic_path, atomic_write_text  # shared with the analysis: same file rules
from lm_eval_mirage.vision.results import SERIES, TASK, results_table, samples_table

if TYPE_CHECKING:
    import pandas as pd

    from lm_eval_mirage.analysis.report import Report
    from lm_eval_mirage.vision.experiment import VisionRun

__all__ = ["REPORT_TITLE", "OVERVIEW_FIGURE", "write_vision_report", "vision_notes", "plot_overview"]

REPORT_TITLE = "Inducing emergence on purpose: shallow autoencoders on 8x8 digits"
#: Stem (under the report folder) of the figure that shows MSE and every Reconstruction_c in one row.
OVERVIEW_FIGURE = f"figures/{TASK}__overview"


def vision_notes(run: VisionRun) -> str:
    """The note at the top of the report: what was trained, how long it took, what each metric counts."""
    cfg = run.config
    models = run.models
    n_test = run.test_images.shape[0]
    return (
        f"Schaeffer et al. (2023), section 5, offline: {len(models)} one-hidden-layer sigmoid autoencoders of "
        f"widths {', '.join(str(m.width) for m in models)} ({models[0].params:,} to {models[-1].params:,} "
        f"parameters), each trained {cfg.epochs} epochs with Adam (lr {cfg.lr:g}, batch {cfg.batch_size}, seed "
        f"{cfg.seed}) on scikit-learn's 8x8 digits and scored on {n_test} held-out images; training took "
        f"{run.train_seconds:.1f} s on one CPU thread. Continuous: mse (per pixel, pixels scaled to [0, 1]) and "
        f"pixel_accuracy (pixels within {cfg.tolerance:g} of the original). Thresholded: reconstruction_c=C, the "
        "fraction of images whose squared error summed over the 64 pixels is below C, and subset_accuracy, images "
        f"with all 64 pixels within {cfg.tolerance:g}. Every metric scores the same reconstructions, so a jump in "
        f"one curve and not in the other is made by the metric. {OVERVIEW_FIGURE}.png overlays every threshold."
    )


def plot_overview(table: pd.DataFrame, *, axes=None):
    """Three panels against parameters: mse (log-log), every Reconstruction_c, pixel vs subset accuracy.

    Views of ``table`` (:func:`~lm_eval_mirage.vision.results.results_table`) in which each threshold or
    accuracy is its own series, so the shared ``plot_metric`` draws them as separate lines on one axis.
    """
    from lm_eval_mirage.analysis.plots import plot_metric, require_matplotlib

    plt = require_matplotlib()
    if axes is None:
        fig, axes = plt.subplots(1, 3, figsize=(13, 3.6), layout="constrained")
        fig.suptitle("Same autoencoders, three views: smooth error, jumping thresholded metrics", fontsize=11)
    mse = table[table["metric"] == "mse"].assign(n=float("nan"))  # no 1/n floor: mse is not a rate
    plot_metric(mse, task=TASK, metric="mse", log_y=True, x_label="parameters", ax=axes[0])
    recon = table[table["metric"].str.startswith("reconstruction_c=")]
    recon = recon.assign(
        series=recon["metric"].str.replace("reconstruction_", "", regex=False), metric="reconstruction_c"
    )
    plot_metric(recon, task=TASK, metric="reconstruction_c", x_label="parameters", ax=axes[1])
    acc = table[table["metric"].isin(["pixel_accuracy", "subset_accuracy"])]
    acc = acc.assign(series=acc["metric"], metric="accuracy")
    plot_metric(acc, task=TASK, metric="accuracy", x_label="parameters", ax=axes[2])
    return axes


def write_vision_report(
    run: VisionRun,
    out_dir: str | os.PathLike,
    *,
    n_boot: int = 1000,
    plots: bool = True,
    formats: tuple[str, ...] = ("png", "svg"),
    threshold_factor: float | None = None,
    progress: bool = True,
) -> Report:
    """Score ``run`` with the shared analysis and write the report into ``out_dir``.

    Writes everything :func:`lm_eval_mirage.analysis.write_report` writes (``table``, ``emergence``,
    ``report.md``/``report.html``, ``figures/``), plus ``samples.csv`` (per-image values), ``run.json`` and,
    with ``plots``, the overview figure :data:`OVERVIEW_FIGURE`. ``threshold_factor`` (default: the analysis'
    ``DEFAULT_THRESHOLD_FACTOR``) sets the verdict threshold. Returns the analysis' ``Report``.
    """
    from lm_eval_mirage.analysis import DEFAULT_THRESHOLD_FACTOR, write_report

    out = Path(out_dir)
    table = results_table(run)
    samples = samples_table(run)
    report = write_report(
        table,
        out,
        samples=samples,
        title=REPORT_TITLE,
        notes=vision_notes(run),
        x_label="parameters",
        plots=plots,
        formats=formats,
        n_boot=n_boot,
        seed=run.config.seed,
        progress=progress,
        threshold_factor=DEFAULT_THRESHOLD_FACTOR if threshold_factor is None else threshold_factor,
    )
    with atomic_path(out / "samples.csv") as tmp:
        samples.to_csv(tmp, index=False, float_format="%.8g")  # 8 digits: exact for the 0/1 values, ample for the rest
    report.files["samples.csv"] = out / "samples.csv"
    if plots:
        from lm_eval_mirage.analysis.plots import save_figure

        axes = plot_overview(table)
        for path in save_figure(axes[0].figure, out / OVERVIEW_FIGURE, formats):
            report.files[f"figures/{path.name}"] = path
    report.files["run.json"] = atomic_write_text(
        out / "run.json", json.dumps(run_record(run, report), indent=1, allow_nan=False) + "\n"
    )
    return report


def run_record(run: VisionRun, report: Report | None = None) -> dict:
    """What ``run.json`` holds: configuration, per-model training record, scores, versions."""
    import numpy
    import torch

    try:
        import sklearn

        sklearn_version = sklearn.__version__
    except ImportError:  # pragma: no cover - the data could not have been loaded without it
        sklearn_version = None
    record = {
        "experiment": "vision-demo",
        "task": TASK,
        "series": SERIES,
        "config": run.config.to_dict(),
        "n_test_images": int(run.test_images.shape[0]),
        "train_seconds_total": run.train_seconds,
        "models": [
            {
                "model": m.name,
                "width": m.width,
                "params": m.params,
                "train_seconds": m.train_seconds,
                "final_train_loss": m.final_train_loss,
            }
            for m in run.models
        ],
        "versions": {
            "python": platform.python_version(),
            "numpy": numpy.__version__,
            "torch": torch.__version__,
            "scikit-learn": sklearn_version,
        },
    }
    if report is not None and len(report.scores):
        from lm_eval_mirage.analysis.output import to_json_records

        record["emergence"] = to_json_records(
            report.scores[["metric", "kind", "emergence_score", "ci_low", "ci_high", "straight_line", "verdict"]]
        )
    return record
