"""``hf-mirage`` against a direct transformers forward pass and against stock ``hf``, on a tiny local model."""

from __future__ import annotations

import functools
import math

import pytest
import torch  # noqa: E402 - a required dependency: a broken install must fail, not skip

from lm_eval_mirage.models.result import LoglikelihoodResult
from lm_eval_mirage.zoo.train import arith_line


def _prompt(shots: int, a: int, b: int) -> str:
    lines = "".join(arith_line(10 + 7 * i, 3 + 5 * i, "add") for i in range(shots))
    return lines + f"Q: What is {a} plus {b}? A:"


@pytest.fixture(scope="module")
def oracle_pair(tiny_model):
    """Direct transformers pass: per-token log-probs and greedy flags of a continuation (float32)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model).eval()

    @functools.cache  # each request is checked against several runs
    def score(context: str, continuation: str) -> tuple[list[float], list[bool]]:
        ids = tok.encode(context + continuation, add_special_tokens=False)
        n = len(ids) - len(tok.encode(context, add_special_tokens=False))
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
        rows = logp[len(ids) - n - 1 : len(ids) - 1]
        target = torch.tensor(ids[-n:])
        return rows.gather(1, target[:, None])[:, 0].tolist(), (rows.argmax(-1) == target).tolist()

    def greedy_continuation(context: str, n: int) -> str:
        ids = torch.tensor([tok.encode(context, add_special_tokens=False)])
        with torch.no_grad():
            out = model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False, pad_token_id=1
            )
        return tok.decode(out[0, ids.shape[1] :])

    return score, greedy_continuation


@pytest.fixture(scope="module")
def requests(oracle_pair) -> list[tuple[str, str]]:
    """Mixed lengths (0- to 6-shot prompts, 1- to 21-character targets), duplicates, logits-cache groups
    (``ctx, " 3\\n"`` and ``ctx + " 3", "\\n"`` share the model input), and the model's own greedy
    continuations, so greedy flags are both True and False."""
    reqs = []
    for shots, (a, b) in zip(range(7), [(1, 2), (12, 30), (123, 456), (9, 9), (5000, 5000), (77, 1), (0, 0)]):
        ctx = _prompt(shots, a, b)
        reqs.append((ctx, f" {a + b}\n"))
        reqs.append((ctx + f" {a + b}", "\n"))  # same input as the line above: one logits-cache group
        reqs.append((ctx, " " + "9" * (3 * shots + 3) + "\n"))
        reqs.append((ctx, oracle_pair[1](ctx, 1 + shots % 4)))
    reqs.append(reqs[0])  # exact duplicate
    return reqs


@pytest.fixture(scope="module")
def oracle(oracle_pair):
    return oracle_pair[0]


def _instances(reqs):
    from lm_eval.api.instance import Instance

    return [Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i) for i, r in enumerate(reqs)]


def _run(model_cls, path, reqs, **kw):
    lm = model_cls(pretrained=str(path), device="cpu", **kw)
    return lm.loglikelihood(_instances(reqs), disable_tqdm=True)


@pytest.fixture(scope="module")
def mirage_runs(tiny_model, requests):
    from lm_eval_mirage.models.hf_mirage import HFMirageLM

    return {
        (bs, cache): _run(HFMirageLM, tiny_model, requests, batch_size=bs, logits_cache=cache)
        for bs in (1, 64)
        for cache in (True, False)
    }


def test_the_request_set_exercises_logits_cache_groups_and_greedy_flags(requests, oracle):
    keys = [ctx + cont[:-1] for ctx, cont in requests]  # char tokenizer: tokens are characters
    assert len(set(keys)) < len(keys) - 1  # groups beyond the one exact duplicate
    flags = [g for ctx, cont in requests for g in oracle(ctx, cont)[1]]
    assert any(flags) and not all(flags)


def test_per_token_logprobs_equal_a_direct_forward_pass(requests, mirage_runs, oracle):
    for (bs, cache), results in mirage_runs.items():
        for (ctx, cont), r in zip(requests, results, strict=True):
            assert isinstance(r, LoglikelihoodResult) and len(r) == 2
            expected, greedy = oracle(ctx, cont)
            assert r.token_logprobs == pytest.approx(expected, abs=1e-5), (bs, cache, ctx[-20:], cont)
            assert r.token_greedy == greedy, (bs, cache, cont)
            assert r.token_ids and len(r.token_ids) == len(cont)
            assert r[1] == all(greedy)
            assert r[0] == pytest.approx(math.fsum(r.token_logprobs), rel=1e-5, abs=1e-5)


def test_batch_size_and_logits_cache_do_not_change_any_value(mirage_runs):
    ref = mirage_runs[(1, False)]
    for key, results in mirage_runs.items():
        for r0, r in zip(ref, results, strict=True):
            assert r[0] == pytest.approx(r0[0], rel=1e-6, abs=1e-6), key
            assert r[1] == r0[1] and r.token_greedy == r0.token_greedy, key
            assert r.token_logprobs == pytest.approx(r0.token_logprobs, abs=1e-5), key


def test_sums_and_greedy_flags_equal_stock_hf(tiny_model, requests, mirage_runs):
    from lm_eval.models.huggingface import HFLM

    for bs in (1, 64):
        # logits_cache=False: stock hf's cache path has the upstream bug this backend fixes.
        stock = _run(HFLM, tiny_model, requests, batch_size=bs, logits_cache=False)
        for s, r in zip(stock, mirage_runs[(bs, False)], strict=True):
            assert type(s) is tuple
            assert r[0] == pytest.approx(s[0], rel=1e-5, abs=1e-5)
            assert r[1] == s[1]
            assert math.fsum(r.token_logprobs) == pytest.approx(s[0], rel=1e-5, abs=1e-5)


def test_registered_under_its_name_next_to_the_stock_backends():
    from lm_eval.api.registry import get_model

    from lm_eval_mirage import models

    models.register()
    from lm_eval_mirage.models.hf_mirage import HFMirageLM

    assert get_model("hf-mirage") is HFMirageLM
    models.register()  # idempotent, also once the class is materialised
    assert get_model("hf-mirage") is HFMirageLM
    assert get_model("hf").__name__ == "HFLM"
