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

import functools
import logging
from collections.abc import Sequence
from typing import Any

from lm_eval_mirage.metrics import likelihood as ll
from lm_eval_mirage.tasks.utils import load_arith

__all__ = ["load_arith_ll", "process_results", "pooled_token_logprob", "target_text", "LIST_KEYS"]

logger = logging.getLogger(__name__)

#: Per-sample keys whose values are lists (logged in --log_samples; need their own aggregation).
LIST_KEYS = ("token_logprobs",)

# Set by the dataset loader from the --model_args it receives; read by process_results (same process).
_tokenizer_spec: dict[str, Any] = {"name": None, "kwargs": {}}


def load_arith_ll(**kwargs: Any) -> dict:
    """``custom_dataset`` of the ``_ll`` tasks: the generation task's docs (:func:`load_arith`), unchanged.

    It also remembers which tokenizer the model arguments name, for counting target tokens when the
    backend does not report them (stock ``hf``).
    """
    name = kwargs.get("tokenizer") or kwargs.get("pretrained")
    _tokenizer_spec["name"] = str(name) if name else None
    _tokenizer_spec["kwargs"] = {k: kwargs[k] for k in ("revision", "trust_remote_code") if k in kwargs}
    return load_arith(**kwargs)


def target_text(doc: dict) -> str:
    """The scored continuation: leading space, answer, stop sequence (what ``doc_to_target`` renders).

    Example:
        >>> target_text({"answer": "124"})
        ' 124\\n'
    """
    return f" {doc['answer']}\n"


@functools.lru_cache(maxsize=8)
def _load_tokenizer(name: str, revision: str | None, trust_remote_code: bool):
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if revision:
        kwargs["revision"] = revision
    return AutoTokenizer.from_pretrained(name, **kwargs)


def _tokenizer():
    name = _tokenizer_spec["name"]
    if not name:
        return None
    kw = _tokenizer_spec["kwargs"]
    trust = str(kw.get("trust_remote_code", False)).lower() in {"1", "true", "yes"}
    try:
        return _load_tokenizer(name, kw.get("revision"), trust)
    except Exception as exc:  # an API backend's model name, an unreachable hub: fall back, loudly
        logger.warning("cannot load tokenizer %r (%s); per-token metrics fall back to characters", name, exc)
        _tokenizer_spec["name"] = None
        return None


def _count(text: str) -> tuple[int, str]:
    """(L, unit) for a response without per-token detail."""
    tok = _tokenizer()
    if tok is not None:
        n = len(tok.encode(text, add_special_tokens=False))
        if n > 0:
            return n, "token"
    return len(text), "char"


def process_results(doc: dict, results: Sequence[Any]) -> dict[str, Any]:
    """Per-sample metrics of one problem from its ``(logprob_sum, is_greedy)`` response (see module doc)."""
    if len(results) != 1 or len(results[0]) != 2:
        raise ValueError(f"expected one (logprob_sum, is_greedy) response per doc, got {results!r}")
    resp = results[0]
    logprob_sum, is_greedy = float(resp[0]), resp[1]
    out: dict[str, Any] = {
        "greedy_exact_match": ll.greedy_exact_match(bool(is_greedy)),
        "target_logprob": ll.check_logprob(logprob_sum, "target log-probability"),
        "target_prob": ll.target_prob(logprob_sum),
    }
    token_logprobs = getattr(resp, "token_logprobs", None)
    if token_logprobs:
        n, unit = len(token_logprobs), "token"
    else:
        n, unit = _count(target_text(doc))
    prefix = "per_token" if unit == "token" else "per_char"
    out[f"{prefix}_logprob"] = ll.per_token_logprob(logprob_sum, n)
    out[f"{prefix}_prob"] = ll.per_token_prob(logprob_sum, n)
    out["target_tokens" if unit == "token" else "target_chars"] = n
    if token_logprobs:
        out["token_logprobs"] = [float(x) for x in token_logprobs]
    return out


def pooled_token_logprob(items: Sequence[Sequence[float]]) -> float:
    """Aggregation of ``token_logprobs``: mean log-prob over all target tokens of all docs (token-weighted).

    A list-valued per-sample key needs an aggregation of its own, or the harness crashes summing lists.

    Example:
        >>> pooled_token_logprob([[-1.0, -1.0], [-4.0]])
        -2.0
    """
    return ll.pooled_token_logprob(items)
