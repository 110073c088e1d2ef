"""``lm-eval-mirage demo``: two model families, the real harness, the emergence report, in one command."""

from __future__ import annotations

import argparse
import os

HELP = "the offline demo: a simulated and a trained model family, evaluated by the harness, emergence report"
DESCRIPTION = """\
Evaluate two model families through lm-evaluation-harness and write a report in which exact match looks
"emergent" while continuous metrics improve smoothly (Schaeffer et al., "Are Emergent Abilities of Large
Language Models a Mirage?"). Offline, CPU only, a few minutes; a second run reuses the cache.

  simulated  the paper's model as a harness backend (mirage-sim, a SIMULATION): each answer token right with
             probability p(N) = exp(-(N/c)**alpha), N = the GPT-3 sizes; tasks mirage_paper_{mul_2d,add_4d}(_ll)
  trained    9 tiny GPT-2s (widths 4..20) trained by the package to memorise a table of random 12-digit codes;
             task mirage_demo_recall(_ll). Checkpoints ship with the package; --retrain rebuilds them.

Writes OUT/report.html, OUT/report.md (plots, tables, emergence scores per metric), OUT/demo_summary.md
(headline scores) and OUT/demo_summary.json (with timings). Cache: $LM_EVAL_MIRAGE_CACHE, else
$XDG_CACHE_HOME/lm-eval-mirage, else ~/.cache/lm-eval-mirage.

examples:
  lm-eval-mirage demo                               # report in ./mirage-demo
  lm-eval-mirage demo --out /tmp/demo --seeds 3     # 3 seeds per family and their mean (trains seeds 1, 2)
  lm-eval-mirage demo --retrain --threads 2         # retrain the family (bit-identical for the same threads)
  lm-eval-mirage demo --families simulated --members 4 --limit 100   # a 20-second look
"""


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (``--seeds``, ``--threads``, ``--limit``...)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def add_trained_family_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that trains and evaluates shipped tiny families shares (demo, control)."""
    parser.add_argument(
        "--seeds",
        type=positive_int,
        default=1,
        metavar="K",
        help="seeds 0..K-1 per family (default 1); unshipped seeds are trained",
    )
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="cache folder (default: $LM_EVAL_MIRAGE_CACHE or the user cache folder)"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=1,
        metavar="T",
        help="torch threads for training (default 1; recorded in the checkpoints)",
    )
    parser.add_argument("--no-plots", action="store_true", help="tables only (no matplotlib needed)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def offline_environment() -> None:
    """Offline by construction: nothing here needs a hub, and a stray lookup must fail fast, not hang."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lm_eval_mirage.demo.members import FAMILIES

    parser.add_argument("--out", default="mirage-demo", metavar="DIR", help="report folder (default: ./mirage-demo)")
    parser.add_argument(
        "--retrain", action="store_true", help="train the real family now instead of using the shipped checkpoints"
    )
    parser.add_argument(
        "--families",
        default=",".join(FAMILIES),
        metavar="LIST",
        help=f"comma-separated, from {', '.join(FAMILIES)} (default: both)",
    )
    parser.add_argument(
        "--members",
        type=positive_int,
        metavar="K",
        help="only K members per family and seed, evenly spread (default: all)",
    )
    parser.add_argument(
        "--limit",
        type=positive_int,
        metavar="N",
        help="problems per task (default: 500 simulated, the whole table for recall)",
    )
    add_trained_family_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    offline_environment()
    from lm_eval_mirage.analysis.plots import PLOT_INSTALL_HINT
    from lm_eval_mirage.demo.pipeline import headline_markdown
    from lm_eval_mirage.demo.run import run_demo

    if not args.no_plots:
        try:  # before minutes of harness runs, not after them
            import matplotlib  # noqa: F401
        except ImportError:
            print(f"lm-eval-mirage demo: error: {PLOT_INSTALL_HINT}; or run with --no-plots", file=sys.stderr)
            return 2
    families = [f.strip() for f in args.families.split(",") if f.strip()]
    try:
        result = run_demo(
            args.out,
            retrain=args.retrain,
            seeds=args.seeds,
            cache=args.cache_dir,
            families=families,
            members=args.members,
            limit=args.limit,
            threads=args.threads,
            plots=not args.no_plots,
            progress=not args.quiet,
            echo=lambda line: print(line, file=sys.stderr),
        )
    except ValueError as exc:
        print(f"lm-eval-mirage demo: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        if "pip install" not in str(exc):  # a broken install: keep the traceback
            raise
        # an optional package the chosen options need; the message says how to install it
        print(f"lm-eval-mirage demo: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    print(headline_markdown(result.headline))
    for message in result.messages:
        print(f"note: {message}")
    t = result.timings
    print(f"report: {result.out / 'report.html'} (and report.md, demo_summary.md); {t['total_s']:.0f} s in all")
    return 0
