"""``MirageTask``: the harness's ``ConfigurableTask`` that also fills in the plugin's metrics its
``metric_list`` names, from the same responses (no extra model calls).

The harness calls listed metric functions only for ``generate_until`` tasks, and for a task with several
valid targets it reduces each to ``1.0 if any(scores)``; for ``multiple_choice`` and ``loglikelihood`` it
silently drops names it does not compute. After the original ``process_results`` (whose metrics are kept
unchanged), this class computes the plugin's metrics with :mod:`lm_eval_mirage.metrics.per_sample`, the
layer ``rescore`` uses offline, and gives their aggregations and directions through the public
``aggregation()`` / ``higher_is_better()`` methods, from :mod:`lm_eval_mirage.metrics.catalog`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lm_eval.api.task import ConfigurableTask

import lm_eval_mirage  # noqa: F401  (registers the generation metrics)
from lm_eval_mirage.metrics import per_sample
from lm_eval_mirage.metrics.catalog import METRICS
from lm_eval_mirage.metrics.harness import GENERATION_METRICS
from lm_eval_mirage.tasks.metric_registry import online_aggregation, register
from lm_eval_mirage.tasks.tokenizer import encoder_from_model_args

__all__ = ["MirageTask"]

logger = logging.getLogger(__name__)

_METRIC_LIST_KEYS = {"metric", "aggregation", "higher_is_better", "hf_evaluate"}

register()


class MirageTask(ConfigurableTask):
    """A ``ConfigurableTask`` that also computes the plugin's metrics named in its ``metric_list``."""

    def __init__(self, config: dict | None = None, **kwargs: Any) -> None:
        config = dict(config or {})
        config.pop("class", None)  # TaskConfig has no such field
        super().__init__(config=config, **kwargs)
        self._mirage_encoder: Any = ...

    def _plugin_metrics(self) -> list[str]:
        """Catalogue metrics of this output type that the task's ``metric_list`` names."""
        names = [m.get("metric") for m in (self.config.metric_list or []) if isinstance(m, dict)]
        return [n for n in names if isinstance(n, str) and n in METRICS and METRICS[n].output_type == self.OUTPUT_TYPE]

    def aggregation(self) -> dict:
        agg = dict(super().aggregation())
        for name in self._plugin_metrics():
            agg[name] = online_aggregation(name)
            if name in per_sample.CHAR_NAMES:
                agg[per_sample.CHAR_NAMES[name]] = agg[name]
        return agg

    def higher_is_better(self) -> dict:
        hib = dict(super().higher_is_better())
        for name in self._plugin_metrics():
            hib[name] = METRICS[name].higher_is_better
            if name in per_sample.CHAR_NAMES:
                hib[per_sample.CHAR_NAMES[name]] = hib[name]
        return hib

    def _encoder(self) -> Any:
        if self._mirage_encoder is ...:
            self._mirage_encoder = encoder_from_model_args(self.config.metadata, str(self.config.task))
        return self._mirage_encoder

    def process_results(self, doc: dict, results: Sequence[Any]) -> dict[str, Any]:
        out = dict(super().process_results(doc, results))
        wanted = self._plugin_metrics()
        if not wanted:
            return out
        if self.OUTPUT_TYPE == "multiple_choice":
            values = self._choice_values(doc, results)
        elif self.OUTPUT_TYPE == "loglikelihood":
            values = self._loglikelihood_values(doc, results)
        else:
            values = self._generation_values(doc, results, wanted)
        own = callable(self.config.process_results)  # the task's own values stand; only fill in the rest
        for name in wanted:
            key = name if name in values else per_sample.CHAR_NAMES.get(name, name)
            if key in values and not (own and (name in out or key in out)):
                # replaces the harness's own value of the same name: the built-in brier_score's (gold, probs)
                # tuple (ours is a float), a several-target task's any() reduction of a distance
                out.pop(name, None)
                out[key] = values[key]
        return out

    def _choice_values(self, doc: dict, results: Sequence[Any]) -> dict[str, Any]:
        choices = self.doc_to_choice(doc)
        lls = [float(r[0]) for r in results][: len(choices)]  # acc_mutual_info appends unconditional scores
        gold = self.doc_to_text(doc) if self.multiple_input else self.doc_to_target(doc)
        if isinstance(gold, str):
            gold = choices.index(gold) if gold in choices else None
        ok = lambda g: isinstance(g, int) and not isinstance(g, bool) and 0 <= g < len(choices)
        if isinstance(gold, list):
            gold = gold if gold and all(ok(g) for g in gold) else None
        elif not ok(gold):
            gold = None
        if gold is None:
            logger.warning(
                "%s: gold answer of doc %r is not among its %d choices; its continuous metrics are NaN",
                self.config.task,
                doc,
                len(choices),
            )
        return per_sample.choice_values(gold, lls)

    def _loglikelihood_values(self, doc: dict, results: Sequence[Any]) -> dict[str, Any]:
        resp = results[0]
        token_logprobs = getattr(resp, "token_logprobs", None)
        length, unit = None, "token"
        if not token_logprobs:
            # The continuation the harness scored: construct_requests sends doc_to_target alone.
            length, unit = per_sample.continuation_length(str(self.doc_to_target(doc)), self._encoder())
        return per_sample.loglikelihood_values(
            float(resp[0]), bool(resp[1]), length=length, unit=unit, token_logprobs=token_logprobs
        )

    def _generation_values(self, doc: dict, results: Sequence[Any], wanted: list[str]) -> dict[str, Any]:
        gold = self.doc_to_target(doc)
        if self.config.doc_to_choice is not None:
            gold = self.doc_to_choice(doc)[gold]
        golds = [str(g) for g in gold] if isinstance(gold, list) else [str(gold)]
        output = results[0] if results else ""
        entries = {m["metric"]: m for m in self.config.metric_list or [] if isinstance(m, dict)}
        fns = {}
        for name in wanted:
            # the options the harness passes the adapter: the metric_list entry's other keys
            kwargs = {k: v for k, v in entries[name].items() if k not in _METRIC_LIST_KEYS}
            adapter = GENERATION_METRICS[name][0]
            fns[name] = (
                (lambda t, o, f=adapter, kw=kwargs: f(references=[t], predictions=[o], **kw)),
                METRICS[name].higher_is_better,
            )
        return per_sample.generation_values(golds, str(output), fns)
