"""The ``lm-eval-mirage`` command line. Nothing in the package imports this module."""

from lm_eval_mirage.cli.main import main

__all__ = ["main"]
