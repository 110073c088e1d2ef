"""``lm-eval-mirage vision-demo``: induce "emergence" on purpose with shallow autoencoders, offline."""

from __future__ import annotations

import argparse
import math
import sys
import time

HELP = "train shallow autoencoders on 8x8 digits and watch a metric induce emergence (offline, CPU)"
DESCRIPTION = """\
The paper's vision experiment (Schaeffer et al. 2023, section 5), offline. Trains one-hidden-layer sigmoid
autoencoders of growing width on scikit-learn's bundled 8x8 digits (no download), deterministic with --seed,
on one CPU thread, then writes the same report as `analyze`: mse and Reconstruction_c (fraction of test images
whose squared error is below c) side by side against parameter count, with an emergence score per metric.
Needs the vision extra (pip install 'lm-eval-mirage[vision,plot]'; plot for the figures).

examples:
  lm-eval-mirage vision-demo --out vision-report            # 16 widths, 200 epochs: 1-3 minutes on a CPU
  lm-eval-mirage vision-demo --out /tmp/v --thresholds 0.2,0.5 --seed 1
  lm-eval-mirage vision-demo --out /tmp/v --micro           # seconds: 3 widths, 3 epochs (a smoke test)
  lm-eval-mirage vision-demo --out /tmp/v --widths 1,4,16,64,256 --epochs 100 --no-plots
"""


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated numbers such as '0.1,0.5,1'") from None
    if not values or any(not (math.isfinite(v) and v > 0) for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every value must be a number > 0")
    return values


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated integers such as '1,2,4,8'") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every width must be an integer >= 1")
    return values


def _formats(text: str) -> tuple[str, ...]:
    values = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    if not values or any(v not in ("png", "svg", "pdf") for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: accepted formats are png, svg, pdf (comma-separated)")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lm_eval_mirage.vision.experiment import DEFAULT_EPOCHS, DEFAULT_THRESHOLDS, DEFAULT_TOLERANCE, DEFAULT_WIDTHS

    add = parser.add_argument
    add(
        "--out",
        "--output",
        "-o",
        dest="out",
        default="vision-report",
        help="report folder (created; default: %(default)s)",
    )
    add("--widths", type=_ints, help=f"hidden widths, comma-separated (default: {','.join(map(str, DEFAULT_WIDTHS))})")
    add("--epochs", type=int, help=f"training epochs per model (default: {DEFAULT_EPOCHS})")
    add("--batch-size", type=int, default=64, help="images per Adam step (default: %(default)s)")
    add("--lr", type=float, default=3e-3, help="Adam learning rate (default: %(default)s)")
    add(
        "--seed",
        type=int,
        default=0,
        help="seed of the split, initialisation, batch order and bootstrap (default: %(default)s)",
    )
    add(
        "--test-fraction",
        type=float,
        default=0.3,
        help="share of the 1797 digits held out for testing (default: %(default)s)",
    )
    thresholds = ",".join(f"{c:g}" for c in DEFAULT_THRESHOLDS)
    add("--thresholds", type=_floats, help=f"thresholds c of Reconstruction_c, comma-separated (default: {thresholds})")
    add(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help="a pixel is right within this distance, pixels in [0, 1] (default: %(default)s = 2 of 16 grey levels)",
    )
    add(
        "--micro",
        action="store_true",
        help="seconds-long smoke run: widths 2,8,32, 3 epochs, c = 1,2 (explicit flags still win)",
    )
    add(
        "--n-boot",
        type=int,
        default=1000,
        help="bootstrap replicates of the emergence intervals (default: %(default)s)",
    )
    add(
        "--threshold-factor",
        type=float,
        help="verdict threshold in straight-line units (default: the analysis default)",
    )
    add("--formats", type=_formats, default=("png", "svg"), help="figure formats, comma-separated (default: png,svg)")
    add("--no-plots", action="store_true", help="tables and report text only (no matplotlib needed)")
    add("--quiet", action="store_true", help="no progress bars")


def _config(args: argparse.Namespace):
    """The :class:`~lm_eval_mirage.vision.experiment.VisionConfig` the arguments ask for (ValueError if bad)."""
    from lm_eval_mirage.vision.experiment import MICRO_CONFIG, VisionConfig

    base = MICRO_CONFIG if args.micro else VisionConfig()
    return VisionConfig(
        widths=args.widths or base.widths,
        epochs=args.epochs if args.epochs is not None else base.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        test_fraction=args.test_fraction,
        thresholds=args.thresholds or base.thresholds,
        tolerance=args.tolerance,
    )


def _shown(score: float) -> str:
    return (
        "inf" if score == math.inf else "-inf" if score == -math.inf else "n/a" if math.isnan(score) else f"{score:.2f}"
    )


def run(args: argparse.Namespace) -> int:
    from lm_eval_mirage.analysis.emergence import DEFAULT_THRESHOLD_FACTOR
    from lm_eval_mirage.analysis.plots import PLOT_INSTALL_HINT
    from lm_eval_mirage.vision.experiment import run_experiment
    from lm_eval_mirage.vision.report import write_vision_report

    try:
        config = _config(args)
    except ValueError as exc:
        print(f"lm-eval-mirage vision-demo: error: {exc}", file=sys.stderr)
        return 2
    plots = not args.no_plots
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:  # said before minutes of training, not after
            print(
                f"lm-eval-mirage vision-demo: {PLOT_INSTALL_HINT}; writing tables and text without figures",
                file=sys.stderr,
            )
            plots = False
    start = time.perf_counter()
    try:
        result = run_experiment(config, progress=not args.quiet)
    except ImportError as exc:  # scikit-learn missing: the message names the extra to install
        print(f"lm-eval-mirage vision-demo: error: {exc}", file=sys.stderr)
        return 1
    factor = args.threshold_factor if args.threshold_factor is not None else DEFAULT_THRESHOLD_FACTOR
    report = write_vision_report(
        result,
        args.out,
        n_boot=args.n_boot,
        plots=plots,
        formats=args.formats,
        threshold_factor=factor,
        progress=not args.quiet,
    )
    first, last = result.models[0], result.models[-1]
    print(
        f"trained {len(result.models)} autoencoders ({first.params:,} to {last.params:,} parameters) "
        f"in {result.train_seconds:.1f} s; total {time.perf_counter() - start:.1f} s"
    )
    for row in report.scores.itertuples(index=False):
        interval = f"[{_shown(row.ci_low)}, {_shown(row.ci_high)}]"
        print(
            f"  {row.metric:<22} {row.kind:<14} emergence score {_shown(row.emergence_score):>8} {interval}"
            f"  {row.verdict} (straight line {row.straight_line:.2f})"
        )
    for task, lines in report.summary.items():
        for line in lines:
            print(f"{task}: {line}")
    print(f"report: {report.files['report.md']} and {report.files['report.html']}")
    return 0
