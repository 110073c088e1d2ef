"""``lm-eval-mirage run|ls|validate``: the harness's own command line with the plugin loaded.

Every ``lm_eval`` argument passes through unchanged to the harness's public entry point
(``lm_eval.__main__.cli_evaluate``), with a rewritten ``argv``: the plugin registers its metrics and model
backends first, and ``--include_path`` names ONE folder (the harness takes one) that holds the plugin's
tasks, the user's folder(s) (from the command line or a ``--config`` file; they override the plugin's
tasks of the same name) and, with ``--add_metrics``, the recipes of :mod:`lm_eval_mirage.tasks.recipes`
(they override both). Without a user folder or ``--add_metrics`` that folder is the plugin's own.

Cost of the public route: the harness always indexes its ~14,700 built-in task files. The private patch of
``TaskManager.__init__`` that skipped them for plugin-only runs is gone: a one-doc plugin-only run went from
5.8 to 17.4 s CPU (README, "For developers"; figure ``run_one_plugin_task`` of ``benchmarks/startup.py``).
With a user folder, ``ls tasks`` and the results' ``config_source`` name the one-line shim files in the
temporary folder (each ``include:``s the original by absolute path).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "combined_include_root",
    "include_paths",
    "plugin_help",
    "run_harness",
    "split_add_metrics",
    "unknown_task_message",
]

_SKIP_DIRS = {"__pycache__", ".ipynb_checkpoints"}


def include_paths(user_path: str | Sequence[str] | None) -> list[str]:
    """The plugin's task folder followed by the user's folder(s) (later paths override earlier ones)."""
    from lm_eval_mirage.tasks import tasks_path

    paths = [tasks_path()]
    if isinstance(user_path, str):
        paths.append(user_path)
    elif user_path:
        paths.extend(str(p) for p in user_path)
    return paths


def _config_value(config: str | None, key: str) -> str | list[str] | None:
    """``key`` of a ``--config`` YAML file when it is a text or a list of texts, else ``None`` (also when
    absent); the harness reports a missing or malformed config file itself.

    Read as the harness reads it (``yaml.safe_load``, through the package's one YAML reader: regular
    files only), and only texts are taken: aliases may make a small file a huge value, never walked here.
    """
    if not config or not Path(config).is_file():
        return None
    from lm_eval_mirage._io import InputFileError, read_yaml_file

    try:
        data = read_yaml_file(config, strict=False)
    except (OSError, InputFileError):
        return None
    value = data.get(key) if isinstance(data, dict) else None
    if isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    return None


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


def _split_option(
    argv: list[str], names: tuple[str, ...], nargs: str | None = None
) -> tuple[list[str], list[str] | None]:
    """Take one option (all its occurrences, ``--x v`` and ``--x=v``) out of ``argv``: (rest, values or None)."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    parser.add_argument(*names, dest="value", action="extend" if nargs else "append", nargs=nargs)
    ns, rest = parser.parse_known_args(argv)
    values = ns.value
    return rest if values is not None else argv, values


def _task_names(tasks: Sequence[str] | None) -> list[str]:
    return [t for item in tasks or () for t in str(item).split(",") if t]


def _plugin_only(names: Sequence[str], plugin_index: set[str]) -> bool:
    """True when every requested task is in the plugin's (and the user's) folders: then the task index
    the plugin builds for ``--add_metrics`` need not include the harness's ~14,700 built-in files. Globs
    qualify only when they start with ``mirage`` (no built-in task does)."""
    if not names or any(n.endswith(".yaml") or "/" in n for n in names):
        return False
    return all(n.startswith("mirage") if any(c in n for c in "*?[") else n in plugin_index for n in names)


def unknown_task_message(names: Sequence[str], known: Sequence[str]) -> str:
    """One line naming the unknown tasks and, for each, the closest known names (``difflib``).

    Example:
        >>> unknown_task_message(["mirage_arith_add_1"], ["mirage_arith_add_1d", "mirage_arith_add_2d", "other"])
        'lm-eval-mirage: unknown task mirage_arith_add_1 (closest: mirage_arith_add_1d, mirage_arith_add_2d); list them with `lm-eval-mirage ls tasks`'
    """
    parts = []
    for name in names:
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        parts.append(f"{name} (closest: {', '.join(close)})" if close else name)
    plural = "s" if len(names) > 1 else ""
    return f"lm-eval-mirage: unknown task{plural} {'; '.join(parts)}; list them with `lm-eval-mirage ls tasks`"


def _shim_folder(source: Path, dest: Path) -> None:
    """A one-line YAML per task file of ``source`` that ``include:``s it by absolute path: the harness's own
    include mechanism, so relative includes and ``!function utils.fn`` still resolve next to the original."""
    for path in sorted(source.rglob("*.yaml")):
        if any(part in _SKIP_DIRS for part in path.relative_to(source).parts):
            continue
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"include: {_yaml_str(str(path.resolve()))}\n", encoding="utf-8")


def _yaml_str(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML string


def combined_include_root(root: Path, folders: Sequence[str], *, recipes: Path | None = None) -> Path:
    """Lay out one include folder: ``0_add_metrics/`` (recipes), then the folders from highest to lowest
    precedence (``folders`` is lowest first, as :func:`include_paths`). Within one include path the harness
    keeps the first file of a task name in path order, so the prefixes give the precedence."""
    if recipes is not None and recipes != root / "0_add_metrics":
        raise ValueError("recipes must live in ROOT/0_add_metrics")
    for rank, folder in enumerate(reversed(list(folders)), start=1):
        _shim_folder(Path(folder), root / f"{rank}_{Path(folder).name or 'tasks'}")
    return root


class _OwnOverrides(logging.Filter):
    """Drops the harness's 'overrides existing task' / 'Duplicate task name' warnings caused by our own
    include folder (expected: that is how recipes and user folders take precedence)."""

    def __init__(self, root: Path):
        super().__init__()
        self.root = str(root)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            return self.root not in record.getMessage()
        except Exception:  # a record that cannot format: keep it
            return True


@contextlib.contextmanager
def _quiet_own_overrides(root: Path) -> Iterator[None]:
    log = logging.getLogger("lm_eval.tasks._index")
    flt = _OwnOverrides(root)
    log.addFilter(flt)
    try:
        yield
    finally:
        log.removeFilter(flt)


def plugin_help() -> str:
    """The plugin's part of ``lm-eval-mirage run --help``: its options, backends, tasks and tags."""
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.metrics.catalog import METRICS, OUTPUT_TYPES
    from lm_eval_mirage.models import BACKENDS
    from lm_eval_mirage.tasks import tasks_path

    tm = TaskManager(include_path=tasks_path(), include_defaults=False)
    by_type = "\n".join(
        f"      {t}: {', '.join(n for n, s in METRICS.items() if s.output_type == t)}" for t in OUTPUT_TYPES
    )
    tags = sorted(set(tm.all_tags) | set(tm.all_groups))
    return (
        "lm-eval-mirage run: `lm_eval run` with the plugin's tasks, metrics and model backends loaded.\n\n"
        "plugin options:\n"
        "  --add_metrics NAME[,NAME...]\n"
        "      add the plugin's metrics to every task of the run they apply to (by name, glob, tag or group;\n"
        "      tasks written inline in a group file are not reached, and are named in a warning):\n"
        f"{by_type}\n\n"
        f"plugin model backends (--model): {', '.join(BACKENDS)}\n"
        f"plugin tasks ({len(tm.all_subtasks)}; --tasks 'mirage_*' runs all): e.g. {', '.join(tm.all_subtasks[:4])}, ...\n"
        f"plugin tags and groups: {', '.join(tags)}\n\n"
        "The harness's own options follow.\n" + "-" * 78 + "\n"
    )


def run_harness(argv: Sequence[str]) -> int:
    """Run ``lm_eval <argv>`` in this process with the plugin loaded; returns the exit status.

    ``run`` also takes ``--add_metrics NAME,...``: the plugin's metrics are added to every task of the run
    that they apply to (see :mod:`lm_eval_mirage.tasks.recipes`).
    """
    argv, add_metrics = split_add_metrics(argv)
    command = argv[0] if argv else None
    if add_metrics and command != "run":
        raise SystemExit("lm-eval-mirage: --add_metrics is an option of `run`")
    if add_metrics:
        from lm_eval_mirage.tasks.recipes import check_metric_names

        try:
            check_metric_names(add_metrics)
        except ValueError:
            from lm_eval_mirage.metrics.catalog import METRICS

            unknown = [m for m in add_metrics if m not in METRICS]
            print(
                f"lm-eval-mirage: unknown metric(s) for --add_metrics: {', '.join(unknown)}; accepted: {', '.join(sorted(METRICS))}",
                file=sys.stderr,
            )
            return 2
    import lm_eval_mirage
    from lm_eval_mirage import models

    lm_eval_mirage.register()
    models.register()
    if command == "run" and any(a in ("-h", "--help") for a in argv[1:]):
        print(plugin_help(), end="", flush=True)

    rest, user_paths = _split_option(list(argv[1:]), ("--include_path",))
    config = (_split_option(list(argv[1:]), ("--config", "-C"))[1] or [None])[-1]
    if user_paths is None:
        user = _config_value(config, "include_path")
        user_paths = [user] if isinstance(user, str) else []
    user_paths = user_paths[-1:]  # as the harness: the last --include_path wins
    for path in user_paths:
        if not Path(path).is_dir():
            print(f"lm-eval-mirage: --include_path {path}: not a folder", file=sys.stderr)
            return 2
    _, tasks = _split_option(rest, ("--tasks", "-t"), nargs="+")
    if tasks is None:  # tasks from the --config file
        from_config = _config_value(config, "tasks")
        tasks = (
            [from_config]
            if isinstance(from_config, str)
            else [str(t) for t in from_config]
            if isinstance(from_config, list)
            else None
        )
    names = _task_names(tasks)
    folders = include_paths(user_paths)

    with contextlib.ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lm-eval-mirage-tasks-")))
        stack.enter_context(_quiet_own_overrides(root))
        if len(folders) == 1 and not add_metrics:
            include = folders[0]
        else:
            include = str(combined_include_root(root, folders))
        if command == "run" and names:
            from lm_eval.tasks import TaskManager

            own = TaskManager(include_path=include, include_defaults=False)
            plugin_index = set(own.all_tasks)
            unknown = [
                n for n in names if n.startswith("mirage") and not any(c in n for c in "*?[") and n not in plugin_index
            ]
            if unknown:
                print(unknown_task_message(unknown, own.all_tasks), file=sys.stderr)
                return 2
            if add_metrics:
                from lm_eval_mirage.tasks.recipes import write_recipes

                tm = own if _plugin_only(names, plugin_index) else TaskManager(include_path=include)
                (root / "0_add_metrics").mkdir()
                write_recipes(root / "0_add_metrics", tm, names, add_metrics)
        return _cli_evaluate([command, *rest, "--include_path", include] if command else [], names, folders)


def _cli_evaluate(argv: list[str], names: list[str], folders: list[str]) -> int:
    from lm_eval.__main__ import cli_evaluate

    saved = sys.argv
    sys.argv = ["lm-eval", *argv]
    try:
        cli_evaluate()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except ValueError as exc:
        if not str(exc).startswith("Tasks not found"):
            raise
        from lm_eval.tasks import TaskManager

        known = TaskManager(
            include_path=folders[-1] if len(folders) > 1 else folders[0], include_defaults=False
        ).all_tasks
        if len(folders) > 1:
            known = sorted(set(known) | set(TaskManager(include_path=folders[0], include_defaults=False).all_tasks))
        missing = [n for n in names if n in str(exc)] or [str(exc).split(":", 1)[-1].strip()]
        print(unknown_task_message(missing, known), file=sys.stderr)
        return 2
    finally:
        sys.argv = saved
    return 0
