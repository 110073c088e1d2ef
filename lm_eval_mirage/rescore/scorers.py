"""Per-sample scoring of logged samples, one scorer per harness output type.

Each scorer reads one logged sample's fields and turns them into ``{metric: value}`` with
:mod:`lm_eval_mirage.metrics.per_sample`, the layer the online paths use too, or raises :class:`~lm_eval_mirage.rescore.samples.SampleError` saying
why the sample cannot be scored. A metric a sample cannot give (no per-token values, a non-numeric target
for ``digit_accuracy``) is simply absent from that sample's dict; :attr:`missing_reason` says why.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from lm_eval_mirage.metrics import answers, choice, edit_distance, per_sample
from lm_eval_mirage.metrics import harness as generation_adapters
from lm_eval_mirage.metrics.answers import FIRST_INTEGER
from lm_eval_mirage.metrics.catalog import MetricSpec
from lm_eval_mirage.metrics.edit_distance import normalize_text
from lm_eval_mirage.rescore.samples import SampleError, parse_bool, parse_target_list

__all__ = ["GenerationScorer", "LoglikelihoodScorer", "ChoiceScorer", "make_scorer"]

_INTEGER = re.compile(FIRST_INTEGER, flags=re.ASCII)
_METRIC_LIST_KEYS = {"metric", "aggregation", "higher_is_better"}


def _metric_entry(config: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The task's own ``metric_list`` entry for ``name``: by registry name, or a ``!function`` metric, which the
    harness logs as the function's source text (``"def name(..."``; read as text, never run)."""
    for entry in config.get("metric_list") or ():
        if isinstance(entry, dict) and isinstance(entry.get("metric"), str):
            metric = entry["metric"]
            if metric == name or metric.startswith(f"def {name}("):
                return entry
    return None


def _metric_options(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Keyword options the task's own ``metric_list`` gives ``name`` (e.g. ``tokenizer``), as online."""
    entry = _metric_entry(config, name) or {}
    return {k: v for k, v in entry.items() if k not in _METRIC_LIST_KEYS}


class GenerationScorer:
    """``generate_until``: edit distances and digit accuracy of ``filtered_resps[0]`` against ``target``.

        Computes what the harness adapters of :mod:`lm_eval_mirage.metrics.harness` compute online: their pure
        functions directly, or the adapters themselves (``fn(references=[target], predictions=[output],
        **options)``) when the task's ``metric_list`` gives options or ``tokenizer=`` is set. A target logged as a list (several references) scores the closest reference (smallest
        distance, largest digit accuracy), as :class:`~lm_eval_mirage.tasks.mirage_task.MirageTask` does online. ``digit_accuracy`` is given only for integer targets, unless the task's
    own ``metric_list`` has it (then for every sample, as online).
    """

    fast = True  # samples can be read with samples.generation_fields

    def __init__(self, config: dict[str, Any], specs: list[MetricSpec], *, tokenizer: str | None = None):
        self.specs = specs
        self.unsupported: str | None = None
        if config.get("doc_to_choice") is not None:
            self.unsupported = (
                "generate_until task with doc_to_choice: the logged target is a choice index, not the answer text"
            )
        self._fns: dict[str, tuple] = {}
        self._accepts: dict[str, object] = {}
        for spec in specs:
            options = _metric_options(config, spec.name)
            if tokenizer and spec.name != "digit_accuracy":
                options["tokenizer"] = tokenizer
            # Without options the adapter is just its pure function (and a float()): call that directly,
            # it is most of the cost of a sample.
            fn = _PLAIN[spec.name] if not options else _with_options(getattr(generation_adapters, spec.name), options)
            self._fns[spec.name] = (fn, spec.higher_is_better)
            # digit accuracy only means something for integer targets; a task that computes it online on
            # every sample gets it on every sample here too, so the values stay equal
            if spec.name == "digit_accuracy" and _metric_entry(config, spec.name) is None:
                self._accepts[spec.name] = _is_integer
        self.missing_reason = {"digit_accuracy": "no integer targets (digit accuracy compares integer answers)"}

    def score(self, sample: dict[str, Any]) -> dict[str, float]:
        if "target" not in sample or "filtered_resps" not in sample:
            raise SampleError(f"missing field {'target' if 'target' not in sample else 'filtered_resps'!r}")
        return self.score_fields(sample["target"], sample["filtered_resps"])

    def score_fields(self, target: Any, filtered: Any) -> dict[str, float]:
        if not isinstance(filtered, list) or len(filtered) != 1:
            raise SampleError(f"filtered_resps must hold one response, got {_short(filtered)}")
        output = filtered[0]
        if not isinstance(output, str):
            raise SampleError(f"the filtered response must be a string (a take_first filter), got {_short(output)}")
        if not isinstance(target, str):
            raise SampleError(f"target must be a string, got {_short(target)}")
        listed = parse_target_list(target) if target.lstrip()[:1] == "[" else None
        golds = listed if listed and all(isinstance(g, str) for g in listed) else target
        return per_sample.generation_values(golds, output, self._fns, accepts=self._accepts)


@functools.lru_cache(maxsize=65536)
def _is_integer(text: str) -> bool:
    return _INTEGER.fullmatch(normalize_text(text)) is not None


def _ted(target: str, output: str) -> float:
    return float(edit_distance.token_edit_distance(target, output))


#: The harness adapters of lm_eval_mirage.metrics.harness without options, as their pure functions.
_PLAIN = {
    "token_edit_distance": _ted,
    "normalized_edit_distance": edit_distance.normalized_edit_distance,
    "digit_accuracy": answers.digit_accuracy,
}


def _with_options(adapter, options: dict[str, Any]):
    def call(target: str, output: str) -> float:
        return adapter(references=[target], predictions=[output], **options)

    return call


class LoglikelihoodScorer:
    """``loglikelihood``: target log-prob, probability and greedy match from the logged ``(loglik, is_greedy)``;
    per-token metrics when the sample carries ``token_logprobs`` (``hf-mirage``) or ``target_tokens``
    (the plugin's likelihood tasks, ``--add_metrics``), or, with ``tokenizer=``, counting the logged
    continuation (``arguments``: exactly what the harness scored) in that tokenizer's tokens."""

    fast = False
    missing_reason = {
        **{
            name: "the samples carry no per-token values (token_logprobs or target_tokens: logged by the "
            "plugin's likelihood tasks, token_logprobs with --model hf-mirage)"
            for name in ("per_token_logprob", "per_token_prob", "target_tokens")
        },
        "token_logprobs": "the samples carry no token_logprobs (logged with --model hf-mirage)",
    }

    def __init__(self, config: dict[str, Any], specs: list[MetricSpec], *, tokenizer: str | None = None):
        self.specs = specs
        self.names = {s.name for s in specs}
        self.unsupported: str | None = None
        self._encode = None
        if tokenizer:
            from lm_eval_mirage.tasks.tokenizer import load_tokenizer

            tok = load_tokenizer(tokenizer, None, trust_remote_code=False)  # a name from the command line
            self._encode = lambda text: tok.encode(text, add_special_tokens=False)

    def score(self, sample: dict[str, Any]) -> dict[str, Any]:
        filtered = sample.get("filtered_resps")
        if not isinstance(filtered, list) or len(filtered) != 1:
            raise SampleError(f"filtered_resps must hold one (loglikelihood, is_greedy) pair, got {_short(filtered)}")
        logprob_sum, is_greedy = _pair(filtered[0])
        tokens = sample.get("token_logprobs")
        length = None
        if isinstance(tokens, list) and tokens:
            for i, v in enumerate(tokens):
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise SampleError(f"token_logprobs[{i}] must be a number, got {_short(v)}")
        else:
            tokens = None
            if "target_tokens" in sample:
                length = sample["target_tokens"]
                if isinstance(length, bool) or not isinstance(length, int) or length < 1:
                    raise SampleError(f"target_tokens must be a positive int, got {_short(length)}")
            elif self._encode is not None:
                # the continuation the harness scored, as logged: arguments.gen_args_0.arg_1
                _, conts = _arguments(sample.get("arguments"), 1)
                if not conts:
                    raise SampleError("no logged continuation (arguments.gen_args_0.arg_1) to count tokens in")
                length, unit = per_sample.continuation_length(conts[0], self._encode)
                if unit != "token":
                    length = None
        try:
            out = per_sample.loglikelihood_values(logprob_sum, is_greedy, length=length, token_logprobs=tokens)
        except (TypeError, ValueError) as exc:
            raise SampleError(str(exc)) from None
        return {k: v for k, v in out.items() if k in self.names}


class ChoiceScorer:
    """``multiple_choice``: Brier scores, correct-choice probability and log-prob, and the (confidence,
    correct) pair of ECE, from the logged per-choice log-likelihoods (:mod:`lm_eval_mirage.metrics.choice`).

    The gold is the logged ``target``: a choice index (``"2"``), a list of indices (``"[0, 2]"``, several
    correct choices) or a choice's text (matched against the logged continuations). When the sample carries
    the harness's own ``acc`` and the task has no custom ``process_results``, the gold must reproduce it:
    a reading that disagrees is rejected (that is how an index-looking choice text is told apart).
    Unconditional requests of ``acc_mutual_info`` (the second half, empty context) are dropped.
    """

    fast = False
    missing_reason: dict[str, str] = {}

    def __init__(self, config: dict[str, Any], specs: list[MetricSpec], **_: Any):
        self.specs = specs
        self.names = {s.name for s in specs}
        self.unsupported: str | None = None
        self.delimiter = config.get("target_delimiter", " ")
        if not isinstance(self.delimiter, str):
            self.delimiter = " "
        self.check_acc = not config.get("process_results")

    def score(self, sample: dict[str, Any]) -> dict[str, Any]:
        filtered = sample.get("filtered_resps")
        if not isinstance(filtered, list) or not filtered:
            raise SampleError(
                f"filtered_resps must hold one (loglikelihood, is_greedy) pair per choice, got {_short(filtered)}"
            )
        lls = [_pair(p)[0] for p in filtered]
        contexts, conts = _arguments(sample.get("arguments"), len(lls))
        half = len(lls) // 2
        if (
            contexts
            and len(lls) % 2 == 0
            and all(c == "" for c in contexts[half:])
            and any(c != "" for c in contexts[:half])
        ):
            lls, contexts, conts = lls[:half], contexts[:half], conts[:half]  # acc_mutual_info's unconditional half
        if conts and len(conts) > 1 and len(set(conts)) == 1 and len(set(contexts)) > 1:
            raise SampleError(
                "multiple-input task (choices in the context, e.g. winogrande): the gold index is not in the samples file"
            )
        gold = self._gold(sample.get("target"), lls, conts, sample.get("acc"))
        try:
            values = per_sample.choice_values(gold, lls)
        except ValueError as exc:
            raise SampleError(str(exc)) from None
        return {k: v for k, v in values.items() if k in self.names}

    def _gold(self, target: Any, lls: list[float], conts: list[str], logged_acc: Any) -> int | list[int]:
        if not isinstance(target, str):
            raise SampleError(f"target must be a string, got {_short(target)}")
        readings: list[int | list[int]] = []
        t = target.strip()
        if re.fullmatch(r"-?\d+", t) and 0 <= int(t) < len(lls):
            readings.append(int(t))
        listed = parse_target_list(t)
        if listed and all(isinstance(g, int) and not isinstance(g, bool) and 0 <= g < len(lls) for g in listed):
            readings.append(listed)
        for text in (self.delimiter + target, target):
            if text in conts:
                readings.append(conts.index(text))
                break
        if not readings:
            raise SampleError(f"target {target!r} is neither a choice index in [0, {len(lls)}) nor one of the choices")
        if self.check_acc and isinstance(logged_acc, (int, float)) and not isinstance(logged_acc, bool):
            agreeing = [g for g in readings if choice.choice_accuracy(g, lls) == float(logged_acc)]
            if not agreeing:
                raise SampleError(f"no reading of target {target!r} reproduces the logged acc {logged_acc!r}")
            return agreeing[0]
        return readings[0]


def _pair(value: Any) -> tuple[float, bool]:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SampleError(f"a response must be a (loglikelihood, is_greedy) pair, got {_short(value)}")
    try:
        x = float(value[0])
    except (TypeError, ValueError):
        raise SampleError(f"loglikelihood must be a number, got {_short(value[0])}") from None
    return x, parse_bool(value[1], "is_greedy")


def _arguments(arguments: Any, n: int) -> tuple[list[str], list[str]]:
    """(contexts, continuations) of the logged requests, or two empty lists when not logged as expected."""
    if not isinstance(arguments, dict) or len(arguments) != n:
        return [], []
    contexts, conts = [], []
    for i in range(n):
        arg = arguments.get(f"gen_args_{i}")
        if not isinstance(arg, dict) or not isinstance(arg.get("arg_0"), str) or not isinstance(arg.get("arg_1"), str):
            return [], []
        contexts.append(arg["arg_0"])
        conts.append(arg["arg_1"])
    return contexts, conts


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


_SCORERS = {"generate_until": GenerationScorer, "loglikelihood": LoglikelihoodScorer, "multiple_choice": ChoiceScorer}


def make_scorer(output_type: str, config: dict[str, Any], specs: list[MetricSpec], *, tokenizer: str | None = None):
    """The scorer of ``output_type`` (``KeyError`` for a type without one)."""
    return _SCORERS[output_type](config, specs, tokenizer=tokenizer)
