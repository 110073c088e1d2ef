"""``hf-mirage``: the harness's Hugging Face backend, keeping the per-token log-probs of its one forward pass.

Stock ``hf`` (``lm_eval.models.huggingface.HFLM``) log-softmaxes each batch once, gathers the continuation
tokens' log-probs and returns only their sum and an all-greedy flag. :class:`HFMirageLM` is that class with one
method changed, :meth:`HFMirageLM._loglikelihood_tokens`, which is the 0.4.13 method with the answer step
rewritten: from the same log-softmaxed rows it keeps the per-token log-probs, ids and greedy flags in a
:class:`~lm_eval_mirage.models.result.LoglikelihoodResult` (a 2-tuple, so the harness sees the usual pair).
No extra forward pass, no per-character requests; sums are computed exactly as stock ``hf`` computes them.

It also fixes the harness's logits-cache bug (see docs): with ``logits_cache=True`` requests sharing
``context + continuation[:-1]`` are scored from one row set, and stock ``hf`` gathers the LEADING rows for a
shorter continuation while its greedy check takes the trailing ones. Here both take the trailing rows, which
are the right ones for every member of such a group (they all have the same model input), so ``logits_cache``
on or off gives the same values.

Every ``hf`` model argument is accepted unchanged. The seq2seq backend (``backend=seq2seq``) falls back to
the stock method (sums and greedy flags only); tasks then count target tokens with the tokenizer.

No public hook exists for this: the method is a copy of the harness's. On a harness whose
``HFLM._loglikelihood_tokens`` source differs from the tested one (:mod:`lm_eval_mirage.harness_private`),
a warning says so and the stock method runs instead (stock numbers, no per-token values), never a stale copy.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils import Collator
from lm_eval.models.utils_hf import pad_and_concat
from tqdm import tqdm

from lm_eval_mirage import harness_private
from lm_eval_mirage.models.result import LoglikelihoodResult

__all__ = ["HFMirageLM", "COPIED_FROM"]

#: The harness method this module's copy was written against (its source hash is recorded).
COPIED_FROM = "lm_eval.models.huggingface:HFLM._loglikelihood_tokens"

logger = logging.getLogger(__name__)


class HFMirageLM(HFLM):
    """``--model hf-mirage``: stock ``hf`` whose log-likelihood responses carry per-token values."""

    def _loglikelihood_tokens(
        self,
        requests: list[tuple[tuple[str, str], list[int], list[int]]],
        disable_tqdm: bool = False,
        override_bs: int | None = None,
    ) -> list[tuple[float, bool]]:  # type: ignore[override]
        if self.backend != "causal" or not harness_private.check(COPIED_FROM):
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)

        res: list[LoglikelihoodResult] = []

        # Same ordering and grouping as HFLM (longest first; with logits_cache, one forward row set per group
        # of requests sharing context + continuation[:-1]), so batches and therefore sums are the same.
        def _collate(req):
            toks = req[1] + req[2]
            return -len(toks), tuple(toks)

        def _lookup_one_token_cont(req):
            return req[-2] + req[-1][:-1]

        re_ord = Collator(
            requests,
            sort_fn=_collate,
            group_by="contexts" if self.logits_cache else None,
            group_fn=_lookup_one_token_cont,
        )
        n_reordered_requests = len(re_ord)
        batch_size = self.batch_size if self.batch_size != "auto" else override_bs if override_bs is not None else 0
        batch_fn = (
            self._batch_scheduler
            if self.batch_size == "auto" and n_reordered_requests > 0 and not override_bs
            else None
        )
        if batch_fn is not None:
            self.batch_sizes = {}  # as HFLM: detect the batch size against these requests

        pbar = tqdm(
            total=len(requests), disable=(disable_tqdm or (self.rank != 0)), desc="Running loglikelihood requests"
        )
        for chunk in re_ord.get_batched(n=batch_size, batch_fn=batch_fn):
            inps, cont_toks_list, inplens = [], [], []
            padding_len_inp = None
            for _, context_enc, continuation_enc in chunk:
                assert len(context_enc) > 0
                assert len(continuation_enc) > 0
                assert len(continuation_enc) <= self.max_length
                total_length = len(context_enc) + len(continuation_enc)
                if total_length > self.max_length + 1:
                    logger.warning(
                        "Combined length of context (%d) and continuation (%d) exceeds the model's maximum "
                        "length (%d); truncating from the left.",
                        len(context_enc),
                        len(continuation_enc),
                        self.max_length,
                    )
                # The last token is never an input: its log-prob comes from the row before it.
                inp = torch.tensor(
                    (context_enc + continuation_enc)[-(self.max_length + 1) :][:-1],
                    dtype=torch.long,
                    device=self.device,
                )
                (inplen,) = inp.shape
                padding_len_inp = max(padding_len_inp, inplen) if padding_len_inp is not None else inplen
                inps.append(inp)
                cont_toks_list.append(continuation_enc)
                inplens.append(inplen)

            batched_inps = pad_and_concat(padding_len_inp, inps, padding_side="right")
            multi_logits = F.log_softmax(self._model_call(batched_inps), dim=-1, dtype=self.softmax_dtype)

            for (request_str, ctx_tokens, _), logits, inplen, cont_toks in zip(
                chunk, multi_logits, inplens, cont_toks_list, strict=True
            ):
                contlen = len(cont_toks)
                # Virtual (prefix-tuning) tokens lengthen the logits beyond the padded input: as HFLM.
                ctx_len = inplen + (logits.shape[0] - padding_len_inp)
                logits = self._select_cont_toks(logits, contlen=contlen, inplen=ctx_len).unsqueeze(0)
                for request_str_i, cont_toks_i, logits_i in re_ord.get_cache(
                    req_str=request_str, cxt_toks=ctx_tokens, cont_toks=cont_toks, logits=logits
                ):
                    answer = _answer(logits_i, cont_toks_i, self.device)
                    res.append(answer)
                    if request_str_i is not None:
                        # loglikelihood_rolling passes None and caches per document itself
                        self.cache_hook.add_partial("loglikelihood", request_str_i, answer)
                    pbar.update(1)
        pbar.close()
        return re_ord.get_original(res)


def _answer(logits: torch.Tensor, cont_toks: list[int], device) -> LoglikelihoodResult:
    """Score one continuation from its row set ``logits`` ``[1, rows, vocab]`` (rows >= len(cont_toks)).

    The trailing ``len(cont_toks)`` rows predict the continuation for every request of a logits-cache group
    (all share the input ``context + continuation[:-1]``); for a request scored alone rows == len(cont_toks).
    """
    ids = torch.tensor(cont_toks, dtype=torch.long, device=device).unsqueeze(0)  # [1, n]
    rows = logits[:, -ids.shape[1] :, :]  # [1, n, vocab]
    greedy = rows.argmax(dim=-1) == ids  # [1, n]
    token_logprobs = torch.gather(rows, 2, ids.unsqueeze(-1)).squeeze(-1)  # [1, n]
    return LoglikelihoodResult(
        float(token_logprobs.sum()),  # the same reduction as HFLM, in softmax_dtype
        bool(greedy.all()),
        token_logprobs[0].tolist(),
        cont_toks,
        greedy[0].tolist(),
    )
