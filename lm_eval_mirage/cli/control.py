"""``lm-eval-mirage control``: a real transition (modadd family) beside a mirage (recall family), one command."""

from __future__ import annotations

import argparse

from lm_eval_mirage.cli.demo import add_trained_family_arguments, offline_environment, positive_int

HELP = "the control: a trained family with a real transition (modular addition) beside the demo's mirage"
DESCRIPTION = """\
A tool that always says "mirage" is useless: it must also recognise a transition that is real. This command
evaluates trained families through lm-evaluation-harness and writes one report with them:

  modadd  one-layer GPT-2s of width 8 to 64 trained on addition modulo 31 (half of the pairs); task
          mirage_control_modadd(_ll) asks the other half. Narrow members know only the answers' format, wide
          ones the algorithm: exact match, token edit distance and per-token log-prob jump at the same width
          (a real transition: emergent under exact match and per-token log-prob in 3 of 3 seeds, edit distance
          "uncertain"; docs/control.md). Default family.
  recall  the demo's 9 tiny GPT-2s that memorised random codes; task mirage_demo_recall(_ll). Exact match
          jumps, the continuous metrics do not (a mirage). Default family.
  carry-steps  10 checkpoints (steps 16 to 1000) of one depth-2 GPT-2 learning additions whose answer hangs
          on one long carry chain, x = training step; task mirage_control_carry(_ll). Measured over 3 seeds:
          every metric rises gradually, no real transition (docs/control.md).
  carry   tiny GPT-2s of depth 1 to 4 on the same additions. Their metrics move together (no mirage), but
          there is no transition over depth (measured over 3 seeds: docs/control.md).

Checkpoints of seed 0 ship with the package; other seeds and --retrain train into the cache (bit-identical
for the same seed, --threads and CPU kind). Offline, CPU only.

Writes OUT/report.html, OUT/report.md, OUT/control_summary.md (verdicts over seeds, emergence scores, raw
curves) and OUT/control_summary.json (with timings).

examples:
  lm-eval-mirage control                          # report in ./mirage-control
  lm-eval-mirage control --seeds 3 --out /tmp/c   # 3 seeds per family (trains the unshipped ones)
  lm-eval-mirage control --retrain                # retrain the modadd family (bit-identical, same --threads and CPU)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from lm_eval_mirage.demo.control import CONTROL_FAMILIES, DEFAULT_FAMILIES

    parser.add_argument(
        "--out", default="mirage-control", metavar="DIR", help="report folder (default: ./mirage-control)"
    )
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="train the modadd and carry families now instead of using the shipped checkpoints",
    )
    parser.add_argument(
        "--families",
        default=",".join(DEFAULT_FAMILIES),
        metavar="LIST",
        help=f"comma-separated, from {', '.join(CONTROL_FAMILIES)} (default: {','.join(DEFAULT_FAMILIES)})",
    )
    parser.add_argument("--limit", type=positive_int, metavar="N", help="problems per task (default: all)")
    add_trained_family_arguments(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    offline_environment()
    from lm_eval_mirage.demo.control import run_control

    families = [f.strip() for f in args.families.split(",") if f.strip()]
    try:
        result = run_control(
            args.out,
            retrain=args.retrain,
            seeds=args.seeds,
            cache=args.cache_dir,
            families=families,
            limit=args.limit,
            threads=args.threads,
            plots=not args.no_plots,
            progress=not args.quiet,
            echo=lambda line: print(line, file=sys.stderr),
        )
    except ValueError as exc:
        print(f"lm-eval-mirage control: error: {exc}", file=sys.stderr)
        return 2
    print((result.out / "control_summary.md").read_text())
    for message in result.messages:
        print(f"note: {message}")
    seconds = result.timings["total_s"]
    print(f"report: {result.out / 'report.html'} (and report.md, control_summary.md); {seconds:.0f} s in all")
    return 0
