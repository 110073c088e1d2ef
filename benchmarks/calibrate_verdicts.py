"""Calibrate the verdict rule on simulated curves with known truth; print false-positive / false-negative rates.

Deterministic (fixed seed): the numbers quoted in docs/analysis.md come from

    python benchmarks/calibrate_verdicts.py --reps 10

(about a minute on one core). Not a speed benchmark: it measures how often the rule is wrong, not how fast.
See lm_eval_mirage.analysis.calibration for the simulated shapes and the definition of the truth.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lm_eval_mirage.analysis.calibration import calibrate, format_rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=10, help="noisy replicates per noise-free curve (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates per curve (default 200)")
    parser.add_argument("--threshold-factor", type=float, default=1.5)
    parser.add_argument("--json", type=Path, help="also write the counts and rates as JSON here")
    args = parser.parse_args(argv)
    result = calibrate(reps=args.reps, seed=args.seed, n_boot=args.n_boot, threshold_factor=args.threshold_factor)
    print(format_rates(result))
    for family, rates in result["families"].items():
        print(f"\n{family}: " + json.dumps(rates["counts"]))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
