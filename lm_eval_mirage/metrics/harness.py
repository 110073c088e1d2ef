"""The thin layer that registers the pure metric functions with lm-evaluation-harness.

Only this module (of ``lm_eval_mirage.metrics``) imports ``lm_eval``. Every function here adapts the harness's
per-sample call for ``generate_until`` tasks, ``fn(references=[gold], predictions=[text], **options)``, to a
pure function and returns one float; the harness then aggregates with ``mean`` (standard error included).

Options a task's ``metric_list`` entry may carry (passed through by the harness as keyword arguments):

- ``tokenizer``: a transformers tokenizer name or folder; edit distances are then counted in its tokens.
- ``parse``: ``true`` to apply the numeric parsing rule (first integer, sign kept) to the output first.

A reference or prediction is a string, an int (a ``doc_to_target`` may return one) or ``None``; anything else,
an unknown option, a non-string ``tokenizer`` or a non-bool ``parse`` is a ``ValueError`` naming it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from lm_eval_mirage.metrics import answers, edit_distance
from lm_eval_mirage.metrics._checks import describe

__all__ = [
    "GENERATION_METRICS",
    "register",
    "token_edit_distance",
    "normalized_edit_distance",
    "digit_accuracy",
]

_OPTIONS = {"tokenizer", "parse"}


def _first(values: Sequence[Any] | None, name: str) -> str:
    if values is None:
        return ""
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
        raise ValueError(f"{name} must be a list (the harness passes [value]), got {describe(values)}")
    value = values[0] if values else None
    if value is None:
        return ""
    if isinstance(value, list) and value and all(isinstance(v, str) and v == value[0] for v in value):
        # lm-eval 0.4.13 (api/task.py, multiple targets): once exact_match has run, ``result`` is replaced by
        # ``[result] * len(gold)`` for the metrics after it, so they receive ``predictions=[[text, text, ...]]``.
        return value[0]
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() < 1000:
        return str(value)
    raise ValueError(f"{name}[0] must be a string or an int, got {type(value).__name__} {describe(value)}")


def _pair(references: Sequence[Any] | None, predictions: Sequence[Any] | None, options: dict) -> tuple[str, str]:
    unknown = set(options) - _OPTIONS
    if unknown:
        # Not a TypeError: the harness would swallow it and retry the call with another signature.
        raise ValueError(f"unknown metric option(s) {sorted(map(str, unknown))}; accepted: {sorted(_OPTIONS)}")
    parse = options.get("parse", False)
    if parse is not None and not isinstance(parse, bool):  # "false" (a string) would read as true
        raise ValueError(f"option parse must be true or false, got {describe(parse)}")
    tokenizer = options.get("tokenizer")
    if tokenizer is not None and not isinstance(tokenizer, str):
        raise ValueError(f"option tokenizer must be a tokenizer name or folder (a string), got {describe(tokenizer)}")
    gold = _first(references, "references")
    output = _first(predictions, "predictions")
    if parse:
        output = answers.parse_answer(output)
    return gold, output


def _tokenize(options: dict) -> Callable | None:
    name = options.get("tokenizer")
    return edit_distance.tokenizer_tokens(name) if name else None


def token_edit_distance(references=None, predictions=None, **options) -> float:
    """Harness adapter for :func:`lm_eval_mirage.metrics.edit_distance.token_edit_distance`."""
    gold, output = _pair(references, predictions, options)
    return float(edit_distance.token_edit_distance(gold, output, tokenize=_tokenize(options)))


def normalized_edit_distance(references=None, predictions=None, **options) -> float:
    """Harness adapter for :func:`lm_eval_mirage.metrics.edit_distance.normalized_edit_distance`."""
    gold, output = _pair(references, predictions, options)
    return edit_distance.normalized_edit_distance(gold, output, tokenize=_tokenize(options))


def digit_accuracy(references=None, predictions=None, **options) -> float:
    """Harness adapter for :func:`lm_eval_mirage.metrics.answers.digit_accuracy`."""
    # digits are characters whatever the model's tokenizer: the option is checked, never loaded
    gold, output = _pair(references, predictions, options)
    return answers.digit_accuracy(gold, output)


#: name -> (adapter, higher_is_better) for the metrics usable in any ``generate_until`` task.
GENERATION_METRICS: dict[str, tuple[Callable[..., float], bool]] = {
    "token_edit_distance": (token_edit_distance, False),
    "normalized_edit_distance": (normalized_edit_distance, False),
    "digit_accuracy": (digit_accuracy, True),
}


def register() -> None:
    """Register the plugin's metrics with the harness; calling it again is harmless."""
    # The harness fills its built-in registry lazily when the registry is empty: import it first, or our
    # entries would make it non-empty and the built-ins (exact_match, acc, ...) would never load.
    import lm_eval.api.metrics  # noqa: F401
    from lm_eval.api.registry import metric_registry, register_metric

    for name, (fn, higher_is_better) in GENERATION_METRICS.items():
        if metric_registry.get(name, None) is fn:
            continue
        register_metric(
            metric=name, higher_is_better=higher_is_better, output_type="generate_until", aggregation="mean"
        )(fn)
