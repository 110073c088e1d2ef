"""Figure 6: per-sample cost of each metric function of the plugin, at realistic sizes.

Each function runs over a fixed, seeded set of distinct inputs (cycled, so no per-input cache helps),
timed with this process's CPU time (``time.process_time``: robust on a shared machine) in several repeats;
the figure is the median per-sample cost. The baseline, timed the same way on the same inputs, is the
harness's own ``exact_match`` metric function (what every generation task already pays per sample), so the
ratio says how many "exact matches" a metric costs.

Sizes: 20-digit answers (10-digit x 10-digit products, the longest in the suite) with one or two wrong
digits; a runaway 5,000-character output (cut to ``MAX_TOKENS`` tokens); 21-token log-likelihood responses;
4-choice multiple-choice log-likelihoods; 784-pixel images for the vision demo.
Target (issue 9): token edit distance under 5 microseconds per 20-digit sample.

    python benchmarks/metrics_micro.py --quick
    python benchmarks/metrics_micro.py
"""

from __future__ import annotations

import random
import sys
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, base_parser, make_record, median, print_figures, relative_spread, write_record  # noqa: E402

BENCHMARK = "metrics_micro"
TARGET_EDIT_US = 5.0


def answer_pairs(n: int, digits: int = 20, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (gold, output) pairs of ``digits``-digit answers, the output with one or two digits changed.

    Example:
        >>> pairs = answer_pairs(3, digits=5)
        >>> [len(g) for g, _ in pairs], all(g != o for g, o in pairs)
        ([5, 5, 5], True)
    """
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        gold = str(rng.randrange(10 ** (digits - 1), 10**digits))
        out = list(gold)
        for pos in rng.sample(range(digits), rng.choice((1, 2))):
            out[pos] = str((int(out[pos]) + rng.randrange(1, 10)) % 10)
        pairs.append((gold, "".join(out)))
    return pairs


def per_call_us(
    fn: Callable[[Any], Any], inputs: Sequence[Any], *, repeats: int, min_seconds: float
) -> tuple[float, list[float]]:
    """Median per-input cost in microseconds over ``repeats`` timings of passes over ``inputs``."""

    def one_pass() -> None:
        for x in inputs:
            fn(x)

    timer = timeit.Timer(one_pass, timer=time.process_time)
    one_pass()  # warm-up: imports, regex compilation, lru caches of loaders
    number = 1
    while True:  # passes per timing, so that a timing lasts at least min_seconds
        if timer.timeit(number) >= min_seconds or number >= 1 << 16:
            break
        number *= 2
    samples = [t / number / len(inputs) * 1e6 for t in timer.repeat(repeats, number)]
    return median(samples), samples


def cases(
    n: int,
) -> tuple[
    list[tuple[str, Callable[[Any], Any], list[Any], str, bool, int]], tuple[str, Callable[[Any], Any], list[Any]]
]:
    """The measured cases and the baseline.

    Each case is (name, function of one input, inputs, what one input is, headline?, samples per input):
    aggregations take a whole list of samples as one input, and their cost is reported per sample.
    """
    import numpy as np
    from lm_eval.api.metrics import exact_match_fn

    from lm_eval_mirage.metrics import answers, choice, edit_distance, harness, likelihood, reconstruction
    from lm_eval_mirage.models.result import LoglikelihoodResult
    from lm_eval_mirage.tasks import likelihood as ll_task

    pairs = answer_pairs(n)
    rng = random.Random(1)
    runaway = [(g, (o + " and then " + "9" * 5000)[:5000]) for g, o in pairs[: max(1, n // 10)]]
    outputs = [" " + o + "\nQ: What is 1 plus 2? A: 3" for _, o in pairs]
    ll_resps = []
    for g, _ in pairs:
        lps = [-rng.random() for _ in range(len(g) + 1)]  # 20 digits + the newline
        ll_resps.append(
            (({"answer": g}), [LoglikelihoodResult(sum(lps), False, lps, list(range(len(lps))), [False] * len(lps))])
        )
    mc = [(rng.randrange(4), [-rng.random() * 5 for _ in range(4)]) for _ in range(n)]
    token_lists = [r[1][0].token_logprobs for r in ll_resps]
    conf = [rng.random() for _ in range(1000)]
    correct = [float(rng.random() < c) for c in conf]
    np_rng = np.random.default_rng(0)
    images = np_rng.random((1000, 784))
    recon = images + np_rng.normal(0, 0.1, images.shape)
    one = 1
    return [
        (
            "token_edit_distance_20d",
            lambda p: edit_distance.token_edit_distance(*p),
            pairs,
            "20-digit answer pair",
            True,
            one,
        ),
        (
            "normalized_edit_distance_20d",
            lambda p: edit_distance.normalized_edit_distance(*p),
            pairs,
            "20-digit answer pair",
            False,
            one,
        ),
        (
            "token_edit_distance_harness_call_20d",
            lambda p: harness.token_edit_distance(references=[p[0]], predictions=[p[1]]),
            pairs,
            "20-digit answer pair, through the harness adapter",
            False,
            one,
        ),
        (
            "token_edit_distance_runaway_5000ch",
            lambda p: edit_distance.token_edit_distance(*p),
            runaway,
            "20-digit gold vs a 5,000-character output (cut to MAX_TOKENS)",
            False,
            one,
        ),
        ("digit_accuracy_20d", lambda p: answers.digit_accuracy(*p), pairs, "20-digit answer pair", False, one),
        ("exact_match_plugin_20d", lambda p: answers.exact_match(*p), pairs, "20-digit answer pair", False, one),
        (
            "parse_answer_20d",
            answers.parse_answer,
            outputs,
            "raw 20-digit output with a trailing next question",
            False,
            one,
        ),
        (
            "ll_process_results_21tok",
            lambda r: ll_task.process_results(*r),
            ll_resps,
            "one _ll response with 21 per-token log-probs (all per-sample metrics)",
            True,
            one,
        ),
        (
            "per_token_logprob",
            lambda r: likelihood.per_token_logprob(r[1][0][0], 21),
            ll_resps,
            "one (sum, n) pair",
            False,
            one,
        ),
        (
            "pooled_token_logprob_21tok",
            lambda xs: likelihood.pooled_token_logprob(xs),
            [token_lists],
            f"aggregation over {len(token_lists)} samples of 21 token log-probs, per sample",
            False,
            len(token_lists),
        ),
        ("brier_score_4choices", lambda m: choice.brier_score(*m), mc, "4 choice log-likelihoods", True, one),
        (
            "correct_choice_prob_4choices",
            lambda m: choice.correct_choice_prob(*m),
            mc,
            "4 choice log-likelihoods",
            False,
            one,
        ),
        (
            "expected_calibration_error_1000",
            lambda _: choice.expected_calibration_error(conf, correct),
            [None],
            "aggregation over 1,000 samples, per sample",
            False,
            len(conf),
        ),
        (
            "mean_squared_error_784px",
            lambda _: reconstruction.mean_squared_error(images, recon),
            [None],
            f"{len(images)} images of 784 pixels in one call, per image",
            False,
            len(images),
        ),
    ], ("exact_match_harness_20d", lambda p: exact_match_fn(references=[p[0]], predictions=[p[1]]), pairs)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(BENCHMARK, __doc__)
    parser.add_argument("--inputs", type=int, default=None, help="distinct inputs per case (default: 200 quick, 1000)")
    parser.add_argument("--repeats", type=int, default=None, help="timings per case (default: 5 quick, 15)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    n = args.inputs or (200 if args.quick else 1000)
    repeats = args.repeats or (5 if args.quick else 15)
    min_seconds = 0.02 if args.quick else 0.1

    measured, (base_name, base_fn, base_inputs) = cases(n)
    base_us, base_samples = per_call_us(base_fn, base_inputs, repeats=repeats, min_seconds=min_seconds)
    figures = [
        Figure(
            base_name,
            base_us,
            "us/sample",
            1.0,
            baseline="itself",
            figure=6,
            noise=f"+-{relative_spread(base_samples):.1%}",
            description="the harness's exact_match metric function on a 20-digit answer pair (baseline)",
        )
    ]
    for name, fn, inputs, what, headline, per in measured:
        per_input, samples = per_call_us(fn, inputs, repeats=repeats, min_seconds=min_seconds)
        per_input /= per
        fig = Figure(
            name,
            per_input,
            "us/sample",
            per_input / base_us,
            baseline="harness exact_match per sample",
            figure=6,
            headline=headline,
            noise=f"+-{relative_spread(samples):.1%}",
            description=what,
        )
        if name == "token_edit_distance_20d":
            fig.target, fig.meets_target = f"< {TARGET_EDIT_US:g} us", per_input < TARGET_EDIT_US
        figures.append(fig)
    print_figures(figures)
    record = make_record(
        BENCHMARK,
        figures,
        mode="quick" if args.quick else "full",
        params={"inputs": n, "repeats": repeats, "min_seconds_per_timing": min_seconds, "clock": "process_time"},
        wall_seconds=time.perf_counter() - started,
    )
    print(f"record: {write_record(args.record, record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
