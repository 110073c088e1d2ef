"""``lm-eval-mirage tasks-path``: print the folder of the plugin's task YAMLs, for ``lm_eval --include_path``."""

from __future__ import annotations

import argparse

HELP = "print the folder of the plugin's task YAMLs (for lm_eval --include_path)"
DESCRIPTION = """\
Print the folder of the plugin's task YAMLs, for the unmodified harness command line.

example:
  lm_eval --include_path "$(lm-eval-mirage tasks-path)" --tasks 'mirage_arith_*' \\
      --model hf --model_args pretrained=EleutherAI/pythia-160m
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from lm_eval_mirage.tasks import tasks_path

    print(tasks_path())
    return 0
