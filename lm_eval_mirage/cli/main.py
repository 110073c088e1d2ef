"""Entry point of ``lm-eval-mirage``: one subcommand per module, imported only when it is used.

A subcommand module defines ``HELP`` (one line), ``DESCRIPTION`` (with runnable examples),
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status). The harness pass-through commands
(``run``, ``ls``, ``validate``) hand their arguments to ``lm_eval`` unchanged.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["COMMANDS", "PASSTHROUGH", "main"]

#: subcommand -> module under lm_eval_mirage.cli
COMMANDS: dict[str, str] = {
    "tasks-path": "tasks_path",
    "rescore": "rescore",
    "analyze": "analyze",
    "demo": "demo",
    "control": "control",
    "vision-demo": "vision_demo",
    "sweep": "sweep",
}
#: lm_eval subcommands that run with the plugin loaded; every argument passes through unchanged.
PASSTHROUGH = ("run", "ls", "validate")

EPILOG = """\
harness commands (every lm_eval argument passes through; the plugin's tasks, metrics and model backends are loaded):
  run        lm-eval-mirage run --model hf --model_args pretrained=EleutherAI/pythia-160m --tasks 'mirage_arith_*'
  ls         lm-eval-mirage ls tasks
  validate   lm-eval-mirage validate --tasks mirage_arith_add_2d
"""


def _build_parser(available: dict[str, object]) -> argparse.ArgumentParser:
    from lm_eval_mirage import __version__

    parser = argparse.ArgumentParser(
        prog="lm-eval-mirage",
        description="Is that emergent ability a mirage? Continuous and discontinuous metrics side by side "
        "for lm-evaluation-harness.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lm-eval-mirage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in PASSTHROUGH:
        sub.add_parser(name, help=f"lm_eval {name} with the plugin loaded", add_help=False)
    for name, module in available.items():
        p = sub.add_parser(
            name, help=module.HELP, description=module.DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
        )
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _load(name: str):
    try:
        return importlib.import_module(f"lm_eval_mirage.cli.{COMMANDS[name]}")
    except ModuleNotFoundError as exc:
        if exc.name == f"lm_eval_mirage.cli.{COMMANDS[name]}":
            return None  # not built yet in this version
        raise


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in PASSTHROUGH:
        from lm_eval_mirage.cli.harness import run_harness

        return run_harness(argv)
    wanted = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
    available = {name: module for name in wanted if (module := _load(name)) is not None}
    parser = _build_parser(available)
    args = parser.parse_args(argv)
    if getattr(args, "_module", None) is None:
        parser.print_help()
        return 0 if not argv else 2
    return int(args._module.run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
