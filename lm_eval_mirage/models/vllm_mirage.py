"""``vllm-mirage``: the harness's vLLM backend, keeping the per-token prompt log-probs vLLM already returns.

Optional extra (``pip install lm-eval-mirage[vllm]``, CUDA only). vLLM scores a request by returning
``prompt_logprobs``: for every prompt position, a dict token id -> log-prob holding the actual token and the
top-1 token. The stock backend (``lm_eval.models.vllm_causallms.VLLM._parse_logprobs``) sums the continuation's
entries and checks the top token; :func:`parse_prompt_logprobs` does the same and keeps the per-token values.

Importing this module does NOT import vLLM; the class :data:`VLLMMirageLM` is built on first access (the
harness resolves ``--model vllm-mirage`` by getting that attribute). Checked on a GPU machine, never in CI:
the tests here cover :func:`parse_prompt_logprobs` on hand-made ``prompt_logprobs``. On a harness whose
``VLLM._parse_logprobs`` source differs from the tested one (:mod:`lm_eval_mirage.harness_private`), a warning
says so and the stock method runs (stock numbers, no per-token values).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from lm_eval_mirage.models.result import LoglikelihoodResult

__all__ = ["parse_prompt_logprobs", "VLLMMirageLM", "REPLACES"]

#: The harness method this backend replaces (its source hash is recorded).
REPLACES = "lm_eval.models.vllm_causallms:VLLM._parse_logprobs"


def _num(logprob: Any) -> float:
    # vLLM >= 0.4 wraps values in Logprob objects; older versions give floats.
    return float(getattr(logprob, "logprob", logprob))


def parse_prompt_logprobs(
    tokens: Sequence[int], prompt_logprobs: Sequence[Mapping[int, Any] | None], ctxlen: int
) -> LoglikelihoodResult:
    """Score the continuation ``tokens[ctxlen:]`` from vLLM's ``prompt_logprobs`` (one entry per token).

    ``logprob_sum`` and ``is_greedy`` follow the stock vLLM backend: the sum of the continuation tokens'
    entries, and greedy when each continuation token is the arg-max of its position's dict.

    Example:
        >>> r = parse_prompt_logprobs([5, 7, 9], [None, {7: -0.1, 8: -2.5}, {9: -1.5, 4: -0.5}], ctxlen=1)
        >>> r, r.token_logprobs, r.token_greedy
        ((-1.6, False), [-0.1, -1.5], [True, False])
    """
    if not 1 <= ctxlen < len(tokens):
        raise ValueError(f"ctxlen must be in [1, {len(tokens)}) for {len(tokens)} tokens, got {ctxlen}")
    if len(prompt_logprobs) != len(tokens):
        raise ValueError(f"prompt_logprobs must have one entry per token ({len(tokens)}), got {len(prompt_logprobs)}")
    values, greedy = [], []
    for pos in range(ctxlen, len(tokens)):
        entry = prompt_logprobs[pos]
        if entry is None:
            raise ValueError(f"prompt_logprobs[{pos}] is None: vLLM gives no log-prob for a continuation token")
        by_token = {int(t): _num(v) for t, v in entry.items()}
        token = int(tokens[pos])
        values.append(by_token[token])
        greedy.append(max(by_token, key=by_token.get) == token)
    return LoglikelihoodResult(sum(values), all(greedy), values, list(tokens[ctxlen:]), greedy)


@functools.cache
def _build_class() -> type:
    from lm_eval.models.vllm_causallms import VLLM  # imports vllm: only here

    class VLLMMirageLM(VLLM):
        """``--model vllm-mirage``: stock ``vllm`` whose log-likelihood responses carry per-token values."""

        @staticmethod
        def _parse_logprobs(tokens: list, outputs, ctxlen: int) -> LoglikelihoodResult:
            from lm_eval_mirage import harness_private

            if not harness_private.check(REPLACES):
                return VLLM._parse_logprobs(tokens, outputs, ctxlen)
            return parse_prompt_logprobs(tokens, outputs.prompt_logprobs, ctxlen)

    VLLMMirageLM.__module__ = __name__
    return VLLMMirageLM


def __getattr__(name: str) -> Any:
    if name == "VLLMMirageLM":
        return _build_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
