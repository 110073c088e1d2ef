"""From one harness response (online) or one logged sample (offline) to per-sample metric values.

THE step from what the harness scored to the plugin's metric inputs, per output type, used by all three
paths that compute these metrics: the ``_ll`` tasks' ``process_results`` (:mod:`lm_eval_mirage.tasks.likelihood`),
:class:`~lm_eval_mirage.tasks.mirage_task.MirageTask` (``--add_metrics`` and the YAML recipe) and
``rescore`` (:mod:`lm_eval_mirage.rescore.scorers`). Pure: no ``lm_eval`` import; callers read the harness's
objects (task, doc, logged sample) and pass plain values.

- ``loglikelihood``: :func:`continuation_length` counts ``L`` over the continuation the harness scored
  (``doc_to_target(doc)`` alone: ``construct_requests`` adds no ``target_delimiter`` to loglikelihood
  requests; offline, the logged ``arguments``' second element), tokenized on its own; characters when no
  tokenizer is known, and the keys then say so (:data:`CHAR_NAMES`). :func:`loglikelihood_values` gives the
  metrics.
- ``multiple_choice``: :func:`choice_values` from the gold index (or indices) and the per-choice
  log-likelihoods.
- ``generate_until``: :func:`generation_values` scores the output against EVERY valid target and keeps the
  best one (smallest distance, largest accuracy), where the harness itself would reduce a non-exact-match
  metric of a several-target task to ``1.0 if any(scores)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lm_eval_mirage.metrics import choice
from lm_eval_mirage.metrics import likelihood as ll

__all__ = [
    "CHAR_NAMES",
    "CHOICE_KEYS",
    "choice_values",
    "continuation_length",
    "generation_values",
    "loglikelihood_values",
]

#: Per-token key -> its name when L counts characters (no tokenizer known), so a character count never
#: passes for a token count.
CHAR_NAMES: dict[str, str] = {
    "per_token_logprob": "per_char_logprob",
    "per_token_prob": "per_char_prob",
    "target_tokens": "target_chars",
}
#: Keys :func:`choice_values` returns.
CHOICE_KEYS = (
    "brier_score",
    "binary_brier_score",
    "correct_choice_prob",
    "correct_choice_logprob",
    "ece",
    "ece_equal_width",
)


def continuation_length(continuation: str, encode: Callable[[str], Sequence[Any]] | None = None) -> tuple[int, str]:
    """``(L, unit)`` of the scored continuation: its tokens by ``encode`` (on its own), else its characters.

    Pass exactly the continuation the harness scored: for a ``loglikelihood`` task that is
    ``doc_to_target(doc)`` WITHOUT ``target_delimiter``.

    Example:
        >>> continuation_length(" mat")
        (4, 'char')
        >>> continuation_length(" mat", lambda s: s.split())
        (1, 'token')
    """
    if encode is not None:
        n = len(encode(continuation))
        if n > 0:
            return n, "token"
    return max(len(continuation), 1), "char"


def loglikelihood_values(
    logprob_sum: float,
    is_greedy: bool,
    *,
    length: int | None = None,
    unit: str = "token",
    token_logprobs: Sequence[float] | None = None,
) -> dict[str, Any]:
    """Per-sample metrics of one ``(logprob_sum, is_greedy)`` loglikelihood response.

    ``L`` is ``len(token_logprobs)`` when the backend gave per-token values (``hf-mirage``), else ``length``
    in ``unit`` (``"token"`` or ``"char"``, see :func:`continuation_length`); without either, the per-token
    keys are absent. ``token_logprobs`` is returned (as floats) when given.

    Example:
        >>> loglikelihood_values(-6.0, True, length=4, unit="char")["per_char_logprob"]
        -1.5
        >>> v = loglikelihood_values(-2.0, False, token_logprobs=[-1.5, -0.5])
        >>> v["target_tokens"], v["per_token_logprob"], v["greedy_exact_match"]
        (2, -1.0, 0.0)
    """
    if unit not in ("token", "char"):
        raise ValueError(f"unit must be 'token' or 'char', got {unit!r}")
    out: dict[str, Any] = {
        "greedy_exact_match": ll.greedy_exact_match(bool(is_greedy)),
        "target_logprob": ll.check_logprob(logprob_sum, "target log-probability"),
        "target_prob": ll.target_prob(logprob_sum),
    }
    if token_logprobs:
        values = [ll.check_logprob(float(v), f"token_logprobs[{i}]") for i, v in enumerate(token_logprobs)]
        length, unit = len(values), "token"
        out["token_logprobs"] = values
    if length is None:
        return out
    names = {k: (k if unit == "token" else CHAR_NAMES[k]) for k in CHAR_NAMES}
    out[names["per_token_logprob"]] = ll.per_token_logprob(logprob_sum, length)
    out[names["per_token_prob"]] = ll.per_token_prob(logprob_sum, length)
    out[names["target_tokens"]] = length
    return out


def choice_values(gold: int | Sequence[int] | None, lls: Sequence[float]) -> dict[str, Any]:
    """Per-sample multiple-choice metrics (:data:`CHOICE_KEYS`) from the gold and the choice log-likelihoods.

    ``ece`` and ``ece_equal_width`` are the ``(confidence, correct)`` pair that the two ECE aggregations bin. A ``None`` gold (not among
    the choices) gives NaN everywhere.

    Example:
        >>> v = choice_values(0, [-0.5, -0.5])
        >>> v["correct_choice_prob"], v["brier_score"], v["ece"]
        (0.5, 0.5, (0.5, 1.0))
    """
    if gold is None:
        nan = math.nan
        return {
            "brier_score": nan,
            "binary_brier_score": nan,
            "correct_choice_prob": nan,
            "correct_choice_logprob": nan,
            "ece": (nan, nan),
            "ece_equal_width": (nan, nan),
        }
    pair = (choice.max_choice_prob(lls), choice.choice_accuracy(gold, lls))
    return {
        "brier_score": choice.brier_score(gold, lls),
        "binary_brier_score": choice.binary_brier_score(gold, lls),
        "correct_choice_prob": choice.correct_choice_prob(gold, lls),
        "correct_choice_logprob": choice.correct_choice_logprob(gold, lls),
        "ece": pair,
        "ece_equal_width": pair,
    }


def generation_values(
    golds: str | Sequence[str],
    output: str,
    metrics: Mapping[str, tuple[Callable[[str, str], float], bool]],
    *,
    accepts: Mapping[str, Callable[[str], bool]] | None = None,
) -> dict[str, float]:
    """Score ``output`` against every valid target and keep the best: the closest target's distance.

    ``metrics`` maps a name to ``(fn(target, output) -> float, higher_is_better)``. ``accepts`` optionally
    restricts a metric to targets it applies to (e.g. integer targets for ``digit_accuracy``); a metric with
    no applicable target is absent.

    Example:
        >>> dist = lambda t, o: float(sum(a != b for a, b in zip(t, o)) + abs(len(t) - len(o)))
        >>> generation_values(["four", "4"], "4", {"d": (dist, False)})
        {'d': 0.0}
        >>> generation_values("four", "4", {"d": (dist, False)})
        {'d': 4.0}
    """
    targets = [golds] if isinstance(golds, str) else list(golds)
    out: dict[str, float] = {}
    for name, (fn, higher_is_better) in metrics.items():
        ok = (accepts or {}).get(name)
        refs = [t for t in targets if ok is None or ok(t)]
        if refs:
            out[name] = (max if higher_is_better else min)(fn(t, output) for t in refs)
    return out
