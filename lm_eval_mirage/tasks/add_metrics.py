"""Add the plugin's continuous metrics to ANY harness task, without copying it.

The harness calls listed metric functions only for ``generate_until`` tasks; for ``multiple_choice`` and
``loglikelihood`` it computes a fixed set of keys and silently drops the rest. :class:`MirageTask` is the
harness's own ``ConfigurableTask`` with one change: after the original ``process_results`` it fills in the
plugin's metrics that the task's ``metric_list`` names, from the same responses (no extra model calls). The
original metrics are computed by the original code and are unchanged.

Three ways in (see the README): ``lm-eval-mirage run --add_metrics ...``, :func:`with_metrics` from Python,
and a YAML recipe that ``include:``s the original task file and sets ``class`` and ``metric_list``.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from lm_eval.api.task import ConfigurableTask

import lm_eval_mirage  # noqa: F401  (registers the generation metrics)
from lm_eval_mirage.metrics import choice
from lm_eval_mirage.metrics import likelihood as ll
from lm_eval_mirage.metrics.harness import GENERATION_METRICS
from lm_eval_mirage.tasks.likelihood import _load_tokenizer

__all__ = ["ADDABLE", "MirageTask", "augment_config", "adding_metrics", "with_metrics", "ece_aggregation", "register"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Addable:
    output_type: str
    higher_is_better: bool
    aggregation: str | Callable = "mean"


def ece_aggregation(items: Sequence[Sequence[float]]) -> float:
    """Aggregate per-sample ``(confidence, correct)`` pairs into the 10-bin equal-mass ECE.

    Example:
        >>> round(ece_aggregation([(0.9, 1), (0.9, 0)]), 12)
        0.4
    """
    items = [tuple(i) for i in items if not math.isnan(i[0])]
    if not items:
        return float("nan")
    confidences, correct = zip(*items)
    return choice.expected_calibration_error(confidences, correct, n_bins=10)


_MC = {
    "brier_score": Addable("multiple_choice", False),
    "binary_brier_score": Addable("multiple_choice", False),
    "correct_choice_prob": Addable("multiple_choice", True),
    "correct_choice_logprob": Addable("multiple_choice", True),
    "ece": Addable("multiple_choice", False, ece_aggregation),
}
_LL = {
    "greedy_exact_match": Addable("loglikelihood", True),
    "target_logprob": Addable("loglikelihood", True),
    "target_prob": Addable("loglikelihood", True),
    "per_token_logprob": Addable("loglikelihood", True),
    "per_token_prob": Addable("loglikelihood", True),
    "target_tokens": Addable("loglikelihood", False),
}
_GEN = {name: Addable("generate_until", higher) for name, (_, higher) in GENERATION_METRICS.items()}
#: metric name -> where it applies, its direction and aggregation.
ADDABLE: dict[str, Addable] = {**_MC, **_LL, **_GEN}
# Without hf-mirage's per-token detail, per-token values are per character and named so.
_CHAR_NAMES = {"per_token_logprob": "per_char_logprob", "per_token_prob": "per_char_prob", "target_tokens": "target_chars"}


def _computed_by_mirage_task(*args: Any, **kwargs: Any) -> float:
    raise RuntimeError("this metric is computed by lm_eval_mirage.tasks.add_metrics.MirageTask.process_results")


def register() -> None:
    """Give the multiple-choice and likelihood names registry entries, so a ``metric_list`` naming them never
    falls back to a hub lookup (the harness does that for unknown names). Idempotent."""
    import lm_eval.api.metrics  # noqa: F401  (built-ins first; see metrics.harness.register)
    from lm_eval.api.registry import metric_registry, register_metric

    for name, spec in {**_MC, **_LL}.items():
        if metric_registry.get(name, None) is None:
            register_metric(metric=name, higher_is_better=spec.higher_is_better, output_type=spec.output_type, aggregation="mean")(_computed_by_mirage_task)


def _metric_entry(name: str) -> dict[str, Any]:
    spec = ADDABLE[name]
    return {"metric": name, "aggregation": spec.aggregation, "higher_is_better": spec.higher_is_better}


def augment_config(cfg: dict[str, Any], metrics: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Return a copy of a task config with ``metrics`` added, and the metrics skipped for its output type.

    The original ``metric_list`` (or the harness's default metrics for the output type) is kept in front.
    ``class`` becomes :class:`MirageTask` when a metric needs it and the task has no class of its own.

    Raises:
        ValueError: for a metric name the plugin does not know.
    """
    unknown = [m for m in metrics if m not in ADDABLE]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown} for --add_metrics; accepted: {sorted(ADDABLE)}")
    cfg = copy.copy(cfg)
    output_type = cfg.get("output_type", "generate_until")
    wanted = [m for m in dict.fromkeys(metrics) if ADDABLE[m].output_type == output_type]
    skipped = [m for m in dict.fromkeys(metrics) if m not in wanted]
    if not wanted:
        return cfg, skipped
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
            current.append(_metric_entry(name))
    cfg["metric_list"] = current
    if output_type != "generate_until" or cfg.get("process_results") is not None:
        if "class" in cfg and cfg["class"] is not MirageTask:
            raise ValueError(
                f"task {cfg.get('task')!r} is a Python task class ({cfg['class']!r}); the plugin can add metrics "
                "only to ConfigurableTask-based tasks"
            )
        cfg["class"] = MirageTask
    return cfg, skipped


class MirageTask(ConfigurableTask):
    """A ``ConfigurableTask`` that also fills in the plugin's metrics named in its ``metric_list``."""

    def __init__(self, config: dict | None = None, **kwargs: Any) -> None:
        config = dict(config or {})
        config.pop("class", None)  # TaskConfig has no such field
        super().__init__(config=config, **kwargs)
        for name in ADDABLE:
            if name in self._metric_fn_list and name in _MC | _LL:
                agg = ADDABLE[name].aggregation
                if isinstance(agg, str):
                    from lm_eval.api.registry import get_aggregation

                    agg = get_aggregation(agg)
                self._aggregation_list[name] = agg
                self._higher_is_better.setdefault(name, ADDABLE[name].higher_is_better)

    def _tokenizer(self) -> Any:
        """The model's tokenizer, named by the model arguments the harness merges into the task metadata."""
        if not hasattr(self, "_mirage_tokenizer"):
            meta = self.config.metadata or {}
            name = meta.get("tokenizer") or meta.get("pretrained")
            self._mirage_tokenizer = None
            if isinstance(name, str) and name:
                trust = str(meta.get("trust_remote_code", False)).lower() in {"1", "true", "yes"}
                try:
                    self._mirage_tokenizer = _load_tokenizer(name, meta.get("revision"), trust)
                except Exception as exc:  # an API model name, no hub: fall back to characters, loudly
                    logger.warning("%s: cannot load tokenizer %r (%s); per-token metrics fall back to characters", self.config.task, name, exc)
        return self._mirage_tokenizer

    def _extras(self) -> list[str]:
        return [m for m in self._metric_fn_list if m in ADDABLE]

    def process_results(self, doc: dict, results: Sequence[Any]) -> dict[str, Any]:
        out = dict(super().process_results(doc, results))
        extras = [m for m in self._extras() if ADDABLE[m].output_type == self.OUTPUT_TYPE]
        if not extras:
            return out
        if self.OUTPUT_TYPE == "multiple_choice":
            values = _multiple_choice_values(self, doc, results)
        elif self.OUTPUT_TYPE == "loglikelihood":
            values = _loglikelihood_values(results, self.config.target_delimiter + str(self.doc_to_target(doc)), self._tokenizer())
        else:  # generate_until with a custom process_results
            values = _generation_values(self, doc, results)
        for name in extras:
            key = name if name in values else _CHAR_NAMES.get(name, name)
            if name == "brier_score" or name not in out:
                out.pop(name, None)
                out[key] = values[name if name in values else key]
                if key != name:
                    self._aggregation_list.setdefault(key, self._aggregation_list[name])
                    self._higher_is_better.setdefault(key, self._higher_is_better[name])
        return out


def _gold_index(task: Any, doc: dict, choices: Sequence[str]) -> int | list[int] | None:
    gold = task.doc_to_text(doc) if task.multiple_input else task.doc_to_target(doc)
    if isinstance(gold, list):
        return gold if all(isinstance(g, int) and 0 <= g < len(choices) for g in gold) else None
    if isinstance(gold, str):
        return choices.index(gold) if gold in choices else None
    return gold if isinstance(gold, int) and 0 <= gold < len(choices) else None


def _multiple_choice_values(task: Any, doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    choices = task.doc_to_choice(doc)
    lls = [float(r[0]) for r in results][: len(choices)]  # mutual-info runs append unconditional scores
    gold = _gold_index(task, doc, choices)
    if gold is None:
        logger.warning("%s: gold answer of doc %r is not among its %d choices; its continuous metrics are NaN", task.config.task, doc, len(choices))
        nan = float("nan")
        return {"brier_score": nan, "binary_brier_score": nan, "correct_choice_prob": nan, "correct_choice_logprob": nan, "ece": (nan, nan)}
    return {
        "brier_score": choice.brier_score(gold, lls),
        "binary_brier_score": choice.binary_brier_score(gold, lls),
        "correct_choice_prob": choice.correct_choice_prob(gold, lls),
        "correct_choice_logprob": choice.correct_choice_logprob(gold, lls),
        "ece": (choice.max_choice_prob(lls), choice.choice_accuracy(gold, lls)),
    }


def _loglikelihood_values(results: Sequence[Any], continuation: str, tokenizer: Any = None) -> dict[str, Any]:
    """Per-sample likelihood metrics; L from hf-mirage's per-token detail, else the model's tokenizer (the
    continuation tokenized on its own, as for the plugin's ``_ll`` tasks), else characters (named so)."""
    resp = results[0]
    logprob_sum, is_greedy = float(resp[0]), bool(resp[1])
    out: dict[str, Any] = {
        "greedy_exact_match": ll.greedy_exact_match(is_greedy),
        "target_logprob": ll.check_logprob(logprob_sum, "target log-probability"),
        "target_prob": ll.target_prob(logprob_sum),
    }
    token_logprobs = getattr(resp, "token_logprobs", None)
    n = len(token_logprobs) if token_logprobs else 0
    if not n and tokenizer is not None:
        n = len(tokenizer.encode(continuation, add_special_tokens=False))
    if n:
        out.update(per_token_logprob=ll.per_token_logprob(logprob_sum, n), per_token_prob=ll.per_token_prob(logprob_sum, n), target_tokens=n)
    else:
        n = max(len(continuation), 1)
        out.update(per_char_logprob=ll.per_token_logprob(logprob_sum, n), per_char_prob=ll.per_token_prob(logprob_sum, n), target_chars=n)
    return out


def _generation_values(task: Any, doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    gold = task.doc_to_target(doc)
    output = results[0] if results else ""
    return {name: fn(references=[gold], predictions=[output]) for name, (fn, _) in GENERATION_METRICS.items()}


def with_metrics(task: str, metrics: Sequence[str], task_manager: Any = None) -> dict[str, Any]:
    """A full task config of a registered task with the plugin's ``metrics`` added.

    Use it with ``lm_eval.simple_evaluate(tasks=[with_metrics("arc_easy", [...])], ...)`` or
    ``TaskManager().load([...])``. Metrics that do not apply to the task's output type are skipped with a
    warning.

    Raises:
        KeyError: if ``task`` is not a registered task name (groups and tags: call it per member task).
        ValueError: for unknown metric names.
    """
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._factory import TaskFactory
    from lm_eval.tasks._index import Kind

    register()
    tm = task_manager or TaskManager()
    entry = tm.task_index.get(task)
    if entry is None or entry.kind not in (Kind.TASK, Kind.PY_TASK):
        kind = "not a registered task" if entry is None else f"a {entry.kind.name.lower()}, not a single task"
        raise KeyError(f"{task!r} is {kind}; with_metrics takes one task name (expand groups and tags first)")
    cfg = TaskFactory(meta=getattr(tm, "metadata", None))._load_full_config(entry)
    for key in ("tag", "group", "task_list"):
        cfg.pop(key, None)
    cfg, skipped = augment_config(cfg, metrics)
    if skipped:
        logger.warning("%s (%s): skipping metrics that do not apply to this output type: %s", task, cfg.get("output_type"), ", ".join(skipped))
    return cfg


@contextlib.contextmanager
def adding_metrics(metrics: Sequence[str]) -> Iterator[dict[str, list[str]]]:
    """Within the block, every task the harness builds (by name, glob, group or tag) gets ``metrics``.

    Yields a dict task -> skipped metrics, filled as tasks are built (for one warning per task).
    """
    from lm_eval.tasks._factory import TaskFactory

    unknown = [m for m in metrics if m not in ADDABLE]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown} for --add_metrics; accepted: {sorted(ADDABLE)}")
    register()
    skipped_by_task: dict[str, list[str]] = {}
    original = TaskFactory._load_full_config

    def patched(self, entry, overrides=None):
        cfg = original(self, entry, overrides)
        if isinstance(cfg.get("task"), str) and "group" not in cfg and "output_type" in cfg:
            cfg, skipped = augment_config(cfg, metrics)
            if skipped and cfg["task"] not in skipped_by_task:
                skipped_by_task[cfg["task"]] = skipped
                logger.warning(
                    "%s (%s): --add_metrics skips %s (they apply to other output types)",
                    cfg["task"], cfg.get("output_type"), ", ".join(skipped),
                )
        return cfg

    TaskFactory._load_full_config = patched
    try:
        yield skipped_by_task
    finally:
        TaskFactory._load_full_config = original


register()
