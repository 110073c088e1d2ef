"""``lm-eval-mirage rescore``: add continuous metrics to saved harness runs, without the model."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator

from lm_eval_mirage._io import Terminated, raise_on_signals

HELP = "re-score saved lm_eval runs (results + --log_samples files) with continuous metrics, no model needed"
DESCRIPTION = """\
Re-score what `lm_eval --output_path DIR --log_samples` wrote (one model folder or a tree of them, any task)
and write results_<ts>.rescored.json next to each results_<ts>.json (or under --out), in the harness's own
layout, with the added metrics next to the original ones:

  generate_until    token_edit_distance, normalized_edit_distance, digit_accuracy (from filtered_resps, per filter)
  loglikelihood     target_logprob, target_prob, greedy_exact_match; per_token_logprob, per_token_prob,
                    target_tokens, token_logprobs when the samples carry per-token values
  multiple_choice   brier_score, binary_brier_score, correct_choice_prob, correct_choice_logprob, ece

Originals are never modified. Lines that cannot be read or scored (cut by a killed job, malformed, missing
fields, values that are not log-likelihoods, NaN) are reported as file:line: reason and skipped, tasks that
cannot be scored (unknown output type, a bad metric option) as file: task: reason; the rest is written and
the exit status is 1. A destination that cannot be written is an error (exit 2). Killed by SIGTERM/SIGINT,
it removes its temporary files; a later run removes those a SIGKILL left.

examples:
  lm_eval --model hf --model_args pretrained=EleutherAI/pythia-160m --tasks arc_easy,gsm8k \\
      --output_path runs --log_samples
  lm-eval-mirage rescore runs
  lm-eval-mirage rescore runs/EleutherAI__pythia-160m --metrics brier_score,ece --out rescored
  lm-eval-mirage rescore runs --write-samples        # also per-sample values, samples_<task>_<ts>.rescored.jsonl
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "output_path", metavar="OUTPUT_PATH", help="a results_*.json file, a model folder, or a tree of them"
    )
    parser.add_argument(
        "--metrics",
        nargs="+",
        metavar="NAME",
        help="metrics to add, comma- or space-separated (default: all that apply to each task)",
    )
    parser.add_argument(
        "--out", metavar="DIR", help="write under DIR, mirroring the tree (default: next to the originals)"
    )
    parser.add_argument(
        "--write-samples", action="store_true", help="also write per-sample values (samples_<task>_<ts>.rescored.jsonl)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="parse every line fully as JSON (slower; default: fast path for generation samples)",
    )
    parser.add_argument(
        "--tokenizer",
        metavar="NAME",
        help="count edit distances in this transformers tokenizer's tokens (default: characters)",
    )
    parser.add_argument(
        "--show-problems",
        type=int,
        default=20,
        metavar="N",
        help="skipped lines to list per results file (default 20; all are counted)",
    )
    parser.add_argument("--quiet", action="store_true", help="print only paths and problems, no tables")


def _progress(lines: Iterator, task: str) -> Iterator:
    from tqdm import tqdm

    return tqdm(lines, desc=task, unit=" lines", disable=None, leave=False, mininterval=0.5, file=sys.stderr)


def _table(path) -> str:
    import json

    from lm_eval.utils import make_table

    with open(path, encoding="utf-8") as fh:
        return make_table(json.load(fh))


def run(args: argparse.Namespace) -> int:
    from lm_eval_mirage.rescore import OutputError, parse_metric_names, rescore

    try:
        metrics = parse_metric_names(args.metrics)
        with raise_on_signals():  # SIGTERM/SIGHUP: finally blocks remove temporary files
            report = rescore(
                args.output_path,
                metrics=metrics,
                out=args.out,
                write_samples=args.write_samples,
                strict=args.strict,
                tokenizer=args.tokenizer,
                progress=_progress,
            )
    except OutputError as exc:
        print(f"lm-eval-mirage rescore: error: {exc}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as exc:
        print(f"lm-eval-mirage rescore: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as exc:
        signum = exc.signum if isinstance(exc, Terminated) else signal.SIGINT
        print(
            f"lm-eval-mirage rescore: stopped by {signal.Signals(signum).name}; files being written were removed, finished ones kept",
            file=sys.stderr,
        )
        return 128 + signum

    for run_report in report.runs:
        if run_report.output_file is not None:
            print(f"{run_report.results_file} -> {run_report.output_file}")
            for path in run_report.samples_outputs:
                print(f"  per-sample values: {path}")
            if not args.quiet:
                print(_table(run_report.output_file))
        for note in run_report.notes:
            print(f"note: {note}")
        for task, missing in run_report.unavailable.items():
            for metric, reason in missing.items():
                print(f"unavailable: {task} {metric}: {reason}")
        if run_report.skipped:
            print(f"SKIPPED {run_report.skipped} (lines or files) for {run_report.results_file}:", file=sys.stderr)
            for file, n in run_report.skipped_by_file.items():
                print(f"  {n:>8} skipped in {file}", file=sys.stderr)
            for problem in run_report.problems[: max(args.show_problems, 0)]:
                print(f"  {problem}", file=sys.stderr)
            hidden = len(run_report.problems) - max(args.show_problems, 0)
            if hidden > 0:
                print(
                    f"  ... {hidden} more (the first 100 are in the 'rescore' block of the output file; all are counted)",
                    file=sys.stderr,
                )
    if report.skipped:
        print(f"lm-eval-mirage rescore: {report.skipped} skipped in total; exit status 1", file=sys.stderr)
    return report.exit_status
