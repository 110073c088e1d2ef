"""Coverage of the forecast's 95% intervals on simulated families with known truth (deterministic).

For each seed: draw ``alpha`` in [-0.7, -0.3] and ``c`` so that the per-token loss crosses 0.3 nats inside the
family, write harness-layout results for six sizes from 1e8 to 3.2e10 (``simulate_results``: per problem,
each answer digit right with probability ``p = exp(-(N/c)**alpha)``), read them back through ``load`` as
``analyze`` does, hold out the two largest models and forecast them (``forecast``). A held-out value is
covered when it lies in ``[low, high]``. Settings: no noise on the per-token log-likelihood, Gaussian noise
of 0.3 nats per problem, and the same without samples files (parametric intervals from ``stderr``).
"When will it emerge?" is scored too: does the interval of the size where exact match reaches 0.5 hold the
true size (``crossing_size`` with the true ``c``, ``alpha`` and the problems' lengths)? Without noise the fit
is exact and the interval has zero width: covered means equal to a relative 1e-6.

    python benchmarks/forecast_coverage.py                 # 100 seeds per setting (several minutes)
    python benchmarks/forecast_coverage.py --seeds 10      # a quick look
    python benchmarks/forecast_coverage.py --json out.json

Prints one line per (setting, method, metric): covered / total, the coverage and its binomial standard error.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lm_eval_mirage.analysis.collect import load  # noqa: E402
from lm_eval_mirage.analysis.forecast import ForecastOptions, crossing_size, forecast  # noqa: E402
from lm_eval_mirage.analysis.simulated_results import simulate_results  # noqa: E402

SIZES = (1e8, 4e8, 1.6e9, 6.4e9, 1.28e10, 3.2e10)
TASKS = {"mirage_arith_add_2d": (2, 3), "mirage_arith_mul_3d": (5, 6)}
SETTINGS = {"no noise": (0.0, True), "noise 0.3": (0.3, True), "noise 0.3, no samples": (0.3, False)}
KEEP = ("exact_match", "token_edit_distance", "per_token_logprob", "target_tokens")


def one_seed(seed: int, noise: float, samples: bool, n_boot: int, n_problems: int) -> tuple[list[dict], list[dict]]:
    rng = np.random.default_rng(10_000 + seed)
    alpha = float(rng.uniform(-0.7, -0.3))
    n_mid = math.exp(rng.uniform(math.log(1e9), math.log(1e10)))
    c = n_mid / 0.3 ** (1 / alpha)  # L_CE(n_mid) = 0.3 nats
    models = {f"sim/s{seed}-{i}": n for i, n in enumerate(SIZES)}
    with tempfile.TemporaryDirectory() as tmp:
        simulate_results(
            tmp,
            models=models,
            tasks=TASKS,
            c=c,
            alpha=alpha,
            n_problems=n_problems,
            logprob_noise=noise,
            seed=seed,
            samples=samples,
        )
        found = load([tmp], progress=False)
    table = found.table[found.table["metric"].isin(KEEP)]
    result = forecast(table, found.samples if samples else None, ForecastOptions(2, 0.5, n_boot, seed=seed))
    rows = result.table[result.table["metric"].isin(["exact_match", "token_edit_distance"])]
    rows = rows.assign(alpha=alpha, c=c).to_dict("records")
    emerge = []
    for r in result.emergence.itertuples(index=False):
        lengths = np.array([TASKS[r.task][i % 2] for i in range(n_problems)], dtype=float)
        truth = crossing_size(c, alpha, lengths, 0.5)
        emerge.append(
            {
                "task": r.task,
                "truth": truth,
                "x": r.x,
                "low": r.low,
                "high": r.high,
                "covered": bool(r.low * (1 - 1e-6) <= truth <= r.high * (1 + 1e-6)),
            }
        )
    return rows, emerge


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--n-boot", type=int, default=400)
    parser.add_argument("--n-problems", type=int, default=200)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    figures = []
    for name, (noise, samples) in SETTINGS.items():
        rows, emerge = [], []
        for seed in range(args.seeds):
            r, e = one_seed(seed, noise, samples, args.n_boot, args.n_problems)
            rows += r
            emerge += e
        groups: dict[tuple[str, str, str], list[bool]] = {}
        for r in rows:
            if r["covered"] is None:
                continue
            split = "all" if r["split"] == "all" else "by digits"
            groups.setdefault((r["method"], r["metric"], split), []).append(bool(r["covered"]))
        groups[("likelihood", "emergence size (exact match 0.5)", "all")] = [e["covered"] for e in emerge]
        for (method, metric, split), hits in sorted(groups.items()):
            k, n = sum(hits), len(hits)
            cov = k / n if n else math.nan
            se = math.sqrt(cov * (1 - cov) / n) if n else math.nan
            print(f"{name:22s} {method:10s} {metric:34s} {split:9s} {k:4d}/{n:<4d} coverage {cov:.3f} +- {se:.3f}")
            figures.append(
                {
                    "setting": name,
                    "method": method,
                    "metric": metric,
                    "split": split,
                    "covered": k,
                    "total": n,
                    "coverage": cov,
                    "stderr": se,
                }
            )
    if args.json:
        params = {
            "seeds": args.seeds,
            "n_boot": args.n_boot,
            "n_problems": args.n_problems,
            "sizes": SIZES,
            "holdout": 2,
            "tasks": TASKS,
        }
        args.json.write_text(
            json.dumps({"benchmark": "forecast_coverage", "params": params, "figures": figures}, indent=1)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
