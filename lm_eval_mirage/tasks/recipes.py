"""Task configs with the plugin's metrics added: the documented YAML recipe, written for the harness.

A recipe is a thin task file that ``include:``s the original task file by path and sets ``class`` and
``metric_list``::

    include: /path/to/lm_eval/tasks/arc/arc_easy.yaml
    task: arc_easy
    class: !function lm_eval_mirage.tasks.mirage_task.MirageTask
    metric_list: [{metric: acc}, {metric: acc_norm}, {metric: brier_score, higher_is_better: false}]

``lm-eval-mirage run --add_metrics`` writes one per task of the run (:func:`write_recipes`) into a temporary
folder that comes first on the harness's include path, so each recipe replaces its task under the same name:
tasks named directly, matched by a glob, or reached through a tag or a group all get the metrics. Not
reached: tasks written inline inside a group file (no file of their own to include), Python task classes
and files holding a ``task_list``; each is named in a warning and runs unchanged. :func:`with_metrics`
returns the same config as a dict for the Python API.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lm_eval_mirage.metrics.catalog import METRICS

__all__ = ["augment_metric_list", "check_metric_names", "leaf_tasks", "recipe_text", "with_metrics", "write_recipes"]

logger = logging.getLogger(__name__)

MIRAGE_TASK = "lm_eval_mirage.tasks.mirage_task.MirageTask"


def check_metric_names(metrics: Sequence[str]) -> None:
    """Raise ``ValueError`` naming the metrics the catalogue does not know, and the accepted names."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown} for --add_metrics; accepted: {sorted(METRICS)}")


def augment_metric_list(cfg: dict[str, Any], metrics: Sequence[str]) -> tuple[list[dict[str, Any]] | None, list[str]]:
    """``(new metric_list, skipped)`` for a task config: the original list (or the harness's default metrics
    for the output type) in front, then the ``metrics`` of the task's output type; ``None`` when none applies.

    Raises:
        ValueError: for a metric name the plugin does not know.
    """
    check_metric_names(metrics)
    output_type = cfg.get("output_type", "generate_until")
    wanted = [m for m in dict.fromkeys(metrics) if METRICS[m].output_type == output_type]
    skipped = [m for m in dict.fromkeys(metrics) if m not in wanted]
    if not wanted:
        return None, skipped
    from lm_eval.api.registry import DEFAULT_METRIC_REGISTRY

    current = cfg.get("metric_list")
    if current is None:
        current = [{"metric": m} for m in DEFAULT_METRIC_REGISTRY.get(output_type, [])]
    current = [dict(m) for m in current]
    present = {m.get("metric") for m in current}
    for name in wanted:
        if name == "brier_score" and name in present:
            # The built-in's per-sample tuple needs equal choice counts; ours is a float with the same mean.
            current = [m for m in current if m.get("metric") != name]
            present.discard(name)
        if name not in present:
            current.append({"metric": name, "higher_is_better": METRICS[name].higher_is_better})
    return current, skipped


def recipe_text(original: str | Path, task: str, metric_list: list[dict[str, Any]]) -> str:
    """The recipe YAML for one task (values quoted by ``yaml.safe_dump``; only the class tag is literal)."""
    import yaml

    head = yaml.safe_dump({"include": str(original), "task": task}, sort_keys=False, allow_unicode=True)
    body = yaml.safe_dump({"metric_list": metric_list}, sort_keys=False, allow_unicode=True)
    return f"# Written by lm-eval-mirage run --add_metrics (lm_eval_mirage/tasks/recipes.py).\n{head}class: !function {MIRAGE_TASK}\n{body}"


def leaf_tasks(task_manager: Any, names: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(tasks, unreached)``: the task names that ``names`` (tasks, globs, groups, tags) run, and the
    group members written inline (no task file of their own), which no recipe can replace."""
    index = task_manager.task_index
    subtasks, groups, tags = set(task_manager.all_subtasks), set(task_manager.all_groups), set(task_manager.all_tags)
    out: dict[str, None] = {}
    unreached: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        if name in subtasks:
            out[name] = None
        elif name in tags:
            for member in sorted(index[name].tags):
                visit(member)
        elif name in groups:
            for item in (index[name].cfg or {}).get("task") or []:
                if isinstance(item, str):
                    for m in task_manager.match_tasks([item]) or [item]:
                        visit(m)
                elif isinstance(item, dict) and isinstance(item.get("task"), str):
                    if item["task"] in index:
                        visit(item["task"])
                    else:
                        unreached.append(f"{item['task']} (inline in group {name})")

    for name in task_manager.match_tasks(list(names)):
        visit(name)
    return list(out), unreached


def write_recipes(
    folder: Path, task_manager: Any, names: Sequence[str], metrics: Sequence[str]
) -> dict[str, list[str]]:
    """Write a recipe for every task ``names`` reach into ``folder``; returns task -> skipped metrics.

    Tasks that cannot take the metrics (inline group members, Python task classes, ``task_list`` files)
    are warned about by name and left as they are.
    """
    check_metric_names(metrics)
    tasks, unreached = leaf_tasks(task_manager, names)
    for item in unreached:
        logger.warning(
            "--add_metrics cannot reach %s: it has no task file of its own; it runs without the added metrics", item
        )
    skipped_by_task: dict[str, list[str]] = {}
    for i, task in enumerate(tasks):
        entry = task_manager.task_index[task]
        cfg = entry.cfg or {}
        if entry.yaml_path is None or "class" in cfg or "task_list" in cfg:
            why = "a Python task class" if "class" in cfg else "defined without a task file of its own"
            logger.warning("--add_metrics cannot add metrics to %s (%s); it runs unchanged", task, why)
            continue
        metric_list, skipped = augment_metric_list(cfg, metrics)
        if skipped:
            skipped_by_task[task] = skipped
            logger.warning(
                "%s (%s): --add_metrics skips %s (they apply to other output types)",
                task,
                cfg.get("output_type", "generate_until"),
                ", ".join(skipped),
            )
        if metric_list is not None:
            (folder / f"recipe_{i:05d}.yaml").write_text(
                recipe_text(Path(entry.yaml_path).resolve(), task, metric_list), encoding="utf-8"
            )
    return skipped_by_task


def with_metrics(task: str, metrics: Sequence[str], task_manager: Any = None) -> dict[str, Any]:
    """A full task config of a registered task with the plugin's ``metrics`` added.

    Use it with ``lm_eval.simple_evaluate(tasks=[with_metrics("arc_easy", [...])], ...)`` or
    ``TaskManager().load([...])``. Metrics that do not apply to the task's output type are skipped with a
    warning.

    Raises:
        KeyError: if ``task`` is not a registered task name (groups and tags: call it per member task).
        ValueError: for unknown metric names, or a Python task class.
    """
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml  # the loader the harness's own files go through

    from lm_eval_mirage.tasks.mirage_task import MirageTask

    check_metric_names(metrics)
    tm = task_manager or TaskManager()
    if task not in tm.all_subtasks:
        kind = "a group or tag, not a single task" if task in tm.all_tasks else "not a registered task"
        raise KeyError(f"{task!r} is {kind}; with_metrics takes one task name (expand groups and tags first)")
    entry = tm.task_index[task]
    cfg = (
        copy.deepcopy(load_yaml(entry.yaml_path, resolve_func=True))
        if entry.yaml_path
        else copy.deepcopy(entry.cfg or {})
    )
    for key in ("tag", "group", "task_list"):
        cfg.pop(key, None)
    metric_list, skipped = augment_metric_list(cfg, metrics)
    if skipped:
        logger.warning(
            "%s (%s): skipping metrics that do not apply to this output type: %s",
            task,
            cfg.get("output_type"),
            ", ".join(skipped),
        )
    if metric_list is None:
        return cfg
    if "class" in cfg:
        raise ValueError(
            f"task {task!r} is a Python task class ({cfg['class']!r}); the plugin can add metrics only to ConfigurableTask-based tasks"
        )
    cfg["metric_list"] = metric_list
    cfg["class"] = MirageTask
    if getattr(tm, "metadata", None):
        cfg["metadata"] = {**(cfg.get("metadata") or {}), **tm.metadata}
    return cfg
