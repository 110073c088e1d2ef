"""``lm-eval-mirage analyze``: the mirage report for a folder of harness results from a model family."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "emergence report across a model family: scores, power-law fit, side-by-side plots (Markdown + HTML)"
DESCRIPTION = """\
Collect lm_eval results (results_*.json, and samples_*.jsonl when --log_samples was used) of several models
or checkpoints, score every task x metric curve for emergence, fit L_CE(N) = (N/c)^alpha to the per-token
cross-entropy of the likelihood twins (*_ll tasks), predict exact match p^L and token edit distance L(1-p),
and write tables (CSV, JSON), figures (PNG, SVG) and a report (report.md, self-contained report.html).

Model sizes come from --params, else a built-in table (Pythia, GPT-2, OPT, Cerebras-GPT, Llama-2, Qwen2.5,
OLMo), else the count the harness recorded, else a local model folder; unknown sizes are reported.

examples:
  lm-eval-mirage analyze out/ --out report/
  lm-eval-mirage analyze out/ --params my-org/tiny-a=12m --params my-org/tiny-b=50m --out report/
  lm-eval-mirage analyze out/pythia-checkpoints --x steps --out report-steps/
  lm-eval-mirage analyze out/ --family zoo --note "zoo=SIMULATION: trained for 2 minutes on a CPU" --out report/
  lm-eval-mirage analyze out/ --holdout 2 --out report/   # forecast the 2 largest models from the smaller ones
"""


def _pairs(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.rpartition("=")
        if not sep or not key or not value:
            raise ValueError(f"{flag} {item!r}: expected MODEL=VALUE, e.g. {flag} EleutherAI/pythia-160m=162322944")
        out[key] = value
    return out


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: must be a positive, finite number")
    return value


def _sizes(values: list[str] | None, flag: str) -> dict[str, str]:
    """``MODEL=N`` pairs whose N is a positive, finite count (a size of 0, -5 or NaN cannot go on a log axis)."""
    import math

    from lm_eval_mirage.analysis.families import parse_size

    out = _pairs(values, flag)
    for key, value in out.items():
        size = parse_size(value)
        if not (math.isfinite(size) and size > 0):
            raise ValueError(f"{flag} {key}={value}: a size must be a positive, finite number (e.g. 160m, 1.4b, 7e9)")
    return out


def _out_error(exc: Exception, out: Path) -> int:
    reason = f"cannot write --out {out}: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
    print(f"lm-eval-mirage analyze: error: {reason}", file=sys.stderr)
    return 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS", help="results files or lm_eval --output_path folders")
    parser.add_argument("--out", default="mirage-report", help="output folder (default: %(default)s)")
    parser.add_argument(
        "--x", choices=("params", "steps", "flops"), default="params", help="scale axis (default: %(default)s)"
    )
    parser.add_argument(
        "--params", action="append", metavar="MODEL=N", help="model size, e.g. my-model=350m (repeatable)"
    )
    parser.add_argument(
        "--steps", action="append", metavar="MODEL=STEP", help="training step of a checkpoint not named revision=stepN"
    )
    parser.add_argument(
        "--tokens", action="append", metavar="MODEL=D", help="training tokens, for --x flops (FLOPs = 6 N D)"
    )
    parser.add_argument(
        "--family",
        action="append",
        metavar="[MODEL=]NAME",
        help="family of a model, or of every model when no MODEL= is given",
    )
    parser.add_argument(
        "--note",
        action="append",
        metavar="[FAMILY=]TEXT",
        help="free text shown in the report, for one family or for the whole report",
    )
    parser.add_argument("--title", default="Mirage report", help="report title")
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help="only these tasks (their *_ll twins are kept)")
    parser.add_argument(
        "--n-boot", type=int, default=1000, help="bootstrap replicates for intervals (default: %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument(
        "--threshold-factor",
        type=_positive_float,
        default=None,
        help="verdict threshold in straight-line units (default: 1.5)",
    )
    parser.add_argument(
        "--formats",
        default="png",
        help="figure formats, comma-separated: png, svg, pdf (default: %(default)s; the report embeds the PNGs, and "
        "SVG doubles the drawing time, about 0.4 s a figure)",
    )
    parser.add_argument("--no-plots", action="store_true", help="tables and report text only")
    parser.add_argument(
        "--no-samples", action="store_true", help="ignore samples files (no split by length, no intervals)"
    )
    parser.add_argument("--paper-figure", action="store_true", help="also draw the paper's closed-form illustration")
    parser.add_argument(
        "--holdout",
        type=int,
        metavar="K",
        help="forecast the K largest models of each series from the others (forecast.csv)",
    )
    parser.add_argument(
        "--emerge-at",
        type=float,
        default=0.5,
        metavar="T",
        help="exact match whose size --holdout forecasts (default: 0.5)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--progress",
        action="store_true",
        help="progress bars even when stderr is not a terminal (default: on a terminal)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="processes reading samples files in parallel (default and at most: one per core); results do not depend on it",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        default=None,
        help="cache of the samples files' arrays, so a second analysis parses nothing (default: "
        "$XDG_CACHE_HOME/lm-eval-mirage/analyze); an entry is used only while its file is unchanged",
    )
    parser.add_argument("--no-cache", action="store_true", help="read every samples file, use and write no cache")


def run(args: argparse.Namespace) -> int:
    from lm_eval_mirage._outdir import check_replaceable, publish, stage
    from lm_eval_mirage.analysis.collect import load
    from lm_eval_mirage.analysis.emergence import DEFAULT_THRESHOLD_FACTOR
    from lm_eval_mirage.analysis.forecast import ForecastOptions
    from lm_eval_mirage.analysis.plots import PLOT_INSTALL_HINT
    from lm_eval_mirage.analysis.report import write_report
    from lm_eval_mirage.analysis.sample_cache import default_cache_dir

    progress = False if args.quiet else True if args.progress else None
    try:
        formats = [f.strip() for f in args.formats.split(",") if f.strip()]
        if not formats or any(f not in ("png", "svg", "pdf") for f in formats):
            raise ValueError(f"--formats {args.formats!r}: give png, svg or pdf, comma-separated")
        if args.jobs is not None and args.jobs < 1:
            raise ValueError(f"--jobs {args.jobs}: must be at least 1")
        if args.no_cache and args.cache:
            raise ValueError("use either --cache DIR or --no-cache, not both")
        forecast = None
        if args.holdout is not None:
            forecast = ForecastOptions(args.holdout, args.emerge_at, max(args.n_boot, 20), seed=args.seed)
        families: dict[str, str] | str | None = None
        plain = [f for f in args.family or [] if "=" not in f]
        if len(plain) > 1:
            raise ValueError(f"--family given without MODEL= more than once: {plain}")
        mapped = _pairs([f for f in args.family or [] if "=" in f], "--family")
        families = plain[0] if plain and not mapped else mapped or None
        if plain and mapped:
            raise ValueError("use either --family NAME (every model) or --family MODEL=NAME, not both")
        found = load(
            args.results,
            params=_sizes(args.params, "--params") or None,
            steps={k: int(v) for k, v in _pairs(args.steps, "--steps").items()} or None,
            tokens=_sizes(args.tokens, "--tokens") or None,
            families=families,
            x=args.x,
            samples=not args.no_samples,
            progress=progress,
            jobs=args.jobs,
            cache=None if args.no_cache else (args.cache or default_cache_dir()),
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"lm-eval-mirage analyze: error: {exc}", file=sys.stderr)
        return 2
    table_families = set(found.table["family"])
    notes: dict[str, str] = {}
    for item in args.note or []:
        key, sep, text = item.partition("=")
        if sep and key in table_families:
            notes[key] = text
        else:
            notes[""] = (notes.get("", "") + " " + item).strip()
    plots = not args.no_plots
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                f"lm-eval-mirage analyze: {PLOT_INSTALL_HINT}; writing tables and text without figures", file=sys.stderr
            )
            plots = False
    for message in found.messages:
        print(f"note: {message}", file=sys.stderr)
    x_label = {"params": "parameters", "steps": "training step", "flops": "training FLOPs"}[args.x]
    out = Path(args.out)
    try:  # written into a staging folder swapped in at the end: --out holds exactly one run's files
        check_replaceable(out, "analyze", inputs=args.results)
        staged = stage(out)
    except (OSError, ValueError) as exc:
        return _out_error(exc, out)
    try:
        report = write_report(
            found.table,
            staged.path,
            samples=None if args.no_samples else found.store,
            title=args.title,
            notes=notes or None,
            messages=found.messages,
            x_label=x_label,
            tasks=args.tasks,
            plots=plots,
            formats=formats,
            n_boot=args.n_boot,
            seed=args.seed,
            threshold_factor=args.threshold_factor if args.threshold_factor is not None else DEFAULT_THRESHOLD_FACTOR,
            paper_figure=args.paper_figure,
            progress=progress,
            forecast=forecast,
        )
        publish(staged, "analyze")
    except (OSError, ValueError) as exc:
        staged.abort()
        return _out_error(exc, out)
    except BaseException:
        staged.abort()
        raise
    report.out_dir = out
    report.files = {name: out / Path(path).relative_to(staged.path) for name, path in report.files.items()}
    n_models = found.models["model"].nunique()
    print(f"{n_models} model(s), {found.table['task'].nunique()} task(s), {len(report.scores)} curve(s) scored")
    # Series with fewer than three models (e.g. each intermediate checkpoint under --x params) are not judged:
    # one line for all of them instead of one per task and series.
    scores = report.scores
    unjudged = sorted(set(scores["series"]) - set(scores.loc[scores["verdict"] != "too few models", "series"]))
    for task, lines in report.summary.items():
        for line in lines:
            if not any(line.startswith(f"{series}:") for series in unjudged):
                print(f"{task}: {line}")
    if unjudged:
        shown = ", ".join(unjudged[:3]) + (", ..." if len(unjudged) > 3 else "")
        hint = "; checkpoints of one model: --x steps" if args.x == "params" and any("@" in u for u in unjudged) else ""
        print(f"{len(unjudged)} series not judged: emergence needs at least three models ({shown}){hint}")
    for fit in report.fits[(report.fits["split"] == "all") & report.fits["c"].notna()].itertuples(index=False):
        print(f"fit {fit.fit_task} ({fit.series}): c = {fit.c:.4g}, alpha = {fit.alpha:.4g}, R^2 = {fit.r2:.4f}")
    for fit in report.fits[report.fits["c"].isna()].itertuples(index=False):  # failed or flagged: said, not used
        print(f"note: fit {fit.fit_task} ({fit.series}, {fit.split}): {fit.error or fit.warning}", file=sys.stderr)
    if report.forecast is not None:
        for message in report.forecast.messages:
            print(f"note: forecast: {message}", file=sys.stderr)
        rows = report.forecast.table[report.forecast.table["split"] == "all"]
        for method, g in rows.groupby("method", sort=True):
            covered = g["covered"].dropna().astype(bool)
            print(
                f"forecast ({method}): {int(covered.sum())} of {len(covered)} held-out value(s) inside the 95% interval"
            )
        print(f"forecast: {report.files['forecast.csv']}")
    print(f"report: {report.files['report.md']} and {report.files['report.html']}")
    if found.skipped:
        print(
            f"lm-eval-mirage analyze: {found.skipped} unreadable line(s) or task(s) skipped (see the notes above)",
            file=sys.stderr,
        )
        return 1
    return 0
