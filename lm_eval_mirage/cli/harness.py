"""``lm-eval-mirage run|ls|validate``: the harness's own command line with the plugin loaded.

Every ``lm_eval`` argument passes through unchanged. Before the harness parses them, the plugin registers
its metrics and model backends, and its task folder is added to ``--include_path`` (next to the user's own
folder, if one is given on the command line or in a ``--config`` file).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["include_paths", "run_harness"]


def include_paths(user_path: str | Sequence[str] | None) -> list[str]:
    """The plugin's task folder followed by the user's folder(s) (later paths override earlier ones)."""
    from lm_eval_mirage.tasks import tasks_path

    paths = [tasks_path()]
    if isinstance(user_path, str):
        paths.append(user_path)
    elif user_path:
        paths.extend(str(p) for p in user_path)
    return paths


def _config_include_path(config: str | None) -> str | None:
    if not config or not Path(config).is_file():
        return None  # the harness reports a missing config file itself
    import yaml

    with open(config) as f:
        data = yaml.safe_load(f) or {}
    return data.get("include_path") if isinstance(data, dict) else None


def split_add_metrics(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Take ``--add_metrics a,b`` (or ``--add_metrics=a,b``, repeatable) out of ``argv``.

    Example:
        >>> split_add_metrics(["run", "--add_metrics", "brier_score,ece", "--tasks", "arc_easy"])
        (['run', '--tasks', 'arc_easy'], ['brier_score', 'ece'])
    """
    rest: list[str] = []
    metrics: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--add_metrics":
            value = next(it, None)
            if value is None or value.startswith("--"):
                raise SystemExit("lm-eval-mirage: --add_metrics needs a comma-separated list of metric names")
            metrics += [m for m in value.split(",") if m]
        elif arg.startswith("--add_metrics="):
            metrics += [m for m in arg.split("=", 1)[1].split(",") if m]
        else:
            rest.append(arg)
    return rest, metrics


def _plugin_only(tasks: Sequence[str] | None, include_path: list[str]) -> bool:
    """True when every requested task is found in the plugin's (and the user's) folders alone.

    Then the harness need not index its ~14,700 built-in task files (seconds per run). Exact names must be in
    that smaller index; globs qualify only when they start with ``mirage`` (no built-in task does), so a
    glob such as ``*arith*`` still sees the harness's own ``arithmetic_*`` tasks.
    """
    if not tasks:
        return False
    names = [t for item in tasks for t in str(item).split(",") if t]
    if not names or any(n.endswith(".yaml") or "/" in n for n in names):
        return False
    from lm_eval.tasks import TaskManager

    index = set(TaskManager(include_path=include_path, include_defaults=False).all_tasks)
    for name in names:
        if any(c in name for c in "*?["):
            if not name.startswith("mirage"):
                return False
        elif name not in index:
            return False
    return True


@contextlib.contextmanager
def _without_builtin_index() -> Iterator[None]:
    from lm_eval.tasks import TaskManager

    original = TaskManager.__init__

    def init(self, *args, **kwargs):
        kwargs["include_defaults"] = False
        original(self, *args, **kwargs)

    TaskManager.__init__ = init
    try:
        yield
    finally:
        TaskManager.__init__ = original


def run_harness(argv: Sequence[str]) -> int:
    """Run ``lm_eval <argv>`` in this process with the plugin loaded; returns the exit status.

    ``run`` also takes ``--add_metrics NAME,...``: the plugin's metrics are added to every task of the run
    that they apply to (see :mod:`lm_eval_mirage.tasks.add_metrics`).
    """
    argv, add_metrics = split_add_metrics(argv)
    if add_metrics and (not argv or argv[0] != "run"):
        raise SystemExit("lm-eval-mirage: --add_metrics is an option of `run`")
    import lm_eval_mirage
    from lm_eval_mirage import models

    lm_eval_mirage.register()
    models.register()

    from lm_eval._cli import HarnessCLI
    from lm_eval.utils import setup_logging

    setup_logging()
    cli = HarnessCLI()
    saved = sys.argv
    sys.argv = ["lm-eval-mirage", *argv]
    try:
        args = cli.parse_args()
        if hasattr(args, "include_path"):
            user = args.include_path or _config_include_path(getattr(args, "config", None))
            args.include_path = include_paths(user)
        stack = contextlib.ExitStack()
        if getattr(args, "command", None) == "run" and _plugin_only(getattr(args, "tasks", None), args.include_path):
            stack.enter_context(_without_builtin_index())
        if add_metrics:
            from lm_eval_mirage.tasks.add_metrics import ADDABLE, adding_metrics

            unknown = [m for m in add_metrics if m not in ADDABLE]
            if unknown:
                print(f"lm-eval-mirage: unknown metric(s) for --add_metrics: {', '.join(unknown)}; accepted: {', '.join(sorted(ADDABLE))}", file=sys.stderr)
                return 2
            stack.enter_context(adding_metrics(add_metrics))
        with stack:
            cli.execute(args)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = saved
    return 0
