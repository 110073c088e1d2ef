"""Glue of the log-likelihood twins (``mirage_arith_*_ll``): data loading and ``process_results``.

One ``loglikelihood`` request per problem scores the continuation ``" <answer>\\n"`` (the stop sequence
included) after the same prompt as the generation task. :func:`process_results` turns the response into the
per-sample metrics with the pure functions of :mod:`lm_eval_mirage.metrics.likelihood`:

========================  ======================================================================  ===========
key                       value                                                                   aggregation
========================  ======================================================================  ===========
greedy_exact_match        1.0 when every target token is the greedy choice (= greedy generation)  mean
target_logprob            ``S = sum_i log p(t_i | ...)``                                          mean
target_prob               ``exp(S)`` (mean: unbiased pass rate of sampling at temperature 1)      mean
per_token_logprob         ``S / L``, L = target tokens in the model's tokenization                mean
per_token_prob            ``exp(S / L)``: the paper's per-token probability p                     mean
target_tokens             ``L``                                                                   mean
token_logprobs            list of the L per-position log-probs (``hf-mirage`` only; logged in     pooled mean
                          ``--log_samples``); aggregated to the mean over all tokens of all docs
========================  ======================================================================  ===========

Where ``L`` comes from: the response itself with ``--model hf-mirage`` (the tokens actually scored); else the
tokenizer named by the model arguments the dataset loader received (``tokenizer``, else ``pretrained``),
counting the continuation's tokens on their own; else characters, and the keys are then named
``per_char_logprob``, ``per_char_prob`` and ``target_chars`` so a character count never passes for a token
count.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from lm_eval_mirage.metrics import likelihood as ll
from lm_eval_mirage.metrics import per_sample
from lm_eval_mirage.tasks.tokenizer import encoder_from_model_args
from lm_eval_mirage.tasks.utils import load_arith

__all__ = ["load_arith_ll", "process_results", "pooled_token_logprob", "target_text", "LIST_KEYS"]

logger = logging.getLogger(__name__)

#: Per-sample keys whose values are lists (logged in --log_samples; need their own aggregation).
LIST_KEYS = ("token_logprobs",)

# Set by the dataset loader from the --model_args it receives; read by process_results (same process).
_model_args: dict[str, Any] = {}


def load_arith_ll(**kwargs: Any) -> dict:
    """``custom_dataset`` of the ``_ll`` tasks: the generation task's docs (:func:`load_arith`), unchanged.

    It also remembers which tokenizer the model arguments name, for counting target tokens when the
    backend does not report them (stock ``hf``).
    """
    _model_args.clear()
    _model_args.update(
        {k: kwargs[k] for k in ("tokenizer", "pretrained", "revision", "trust_remote_code") if k in kwargs}
    )
    return load_arith(**kwargs)


def target_text(doc: dict) -> str:
    """The scored continuation: leading space, answer, stop sequence (what ``doc_to_target`` renders).

    Example:
        >>> target_text({"answer": "124"})
        ' 124\\n'
    """
    return f" {doc['answer']}\n"


def process_results(doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    """Per-sample metrics of one problem from its ``(logprob_sum, is_greedy)`` response (see module doc)."""
    if len(results) != 1 or len(results[0]) != 2:
        raise ValueError(f"expected one (logprob_sum, is_greedy) response per doc, got {results!r}")
    resp = results[0]
    token_logprobs = getattr(resp, "token_logprobs", None)
    length, unit = None, "token"
    if not token_logprobs:
        length, unit = per_sample.continuation_length(
            target_text(doc), encoder_from_model_args(_model_args, "mirage _ll task")
        )
    return per_sample.loglikelihood_values(
        float(resp[0]), bool(resp[1]), length=length, unit=unit, token_logprobs=token_logprobs
    )


def pooled_token_logprob(items: Sequence[Sequence[float]]) -> float:
    """Aggregation of ``token_logprobs``: mean log-prob over all target tokens of all docs (token-weighted).

    A list-valued per-sample key needs an aggregation of its own, or the harness crashes summing lists.

    Example:
        >>> pooled_token_logprob([[-1.0, -1.0], [-4.0]])
        -2.0
    """
    return ll.pooled_token_logprob(items)
