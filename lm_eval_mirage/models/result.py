"""The response object of the plugin's backends: the harness's ``(logprob_sum, is_greedy)`` pair, plus detail.

A ``tuple`` subclass of length 2, so every harness code path (filters, metrics, request caching, the
``--log_samples`` writer) treats it as the plain pair it expects; the per-token values ride along as attributes
and reach a task's ``process_results`` untouched. Light module: no torch, no ``lm_eval`` import.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["LoglikelihoodResult"]


class LoglikelihoodResult(tuple):
    """``(logprob_sum, is_greedy)`` with the per-position values of the scored continuation.

    Attributes:
        token_logprobs: log-probability of each continuation token given everything before it.
        token_ids: the continuation's token ids in the model's tokenization.
        token_greedy: whether each continuation token is the model's argmax at its position.

    Example:
        >>> r = LoglikelihoodResult(-0.5, False, [-0.25, -0.25], [7, 8], [True, False])
        >>> r
        (-0.5, False)
        >>> ll, greedy = r
        >>> r.token_logprobs, r.token_ids, r.token_greedy
        ([-0.25, -0.25], [7, 8], [True, False])
        >>> import pickle
        >>> pickle.loads(pickle.dumps(r)).token_ids
        [7, 8]
    """

    token_logprobs: list[float]
    token_ids: list[int]
    token_greedy: list[bool]

    def __new__(
        cls,
        logprob_sum: float,
        is_greedy: bool,
        token_logprobs: Sequence[float],
        token_ids: Sequence[int],
        token_greedy: Sequence[bool],
    ) -> LoglikelihoodResult:
        if not (len(token_logprobs) == len(token_ids) == len(token_greedy)):
            raise ValueError(
                "token_logprobs, token_ids and token_greedy must have one entry per continuation token, got "
                f"lengths {len(token_logprobs)}, {len(token_ids)}, {len(token_greedy)}"
            )
        self = super().__new__(cls, (float(logprob_sum), bool(is_greedy)))
        self.token_logprobs = [float(x) for x in token_logprobs]
        self.token_ids = [int(x) for x in token_ids]
        self.token_greedy = [bool(x) for x in token_greedy]
        return self

    def __reduce__(self):
        # The request cache (--use_cache) pickles responses: keep the attributes.
        return (type(self), (self[0], self[1], self.token_logprobs, self.token_ids, self.token_greedy))

    def __getnewargs__(self):
        return (self[0], self[1], self.token_logprobs, self.token_ids, self.token_greedy)
