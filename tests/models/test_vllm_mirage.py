"""The vLLM twin's parsing, on hand-made ``prompt_logprobs`` (vLLM itself is GPU-only and never imported)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lm_eval_mirage.models.vllm_mirage import parse_prompt_logprobs


class Logprob:  # stands in for vllm.sequence.Logprob (a value with extra data)
    def __init__(self, logprob: float) -> None:
        self.logprob = logprob


def test_hand_table_matches_the_stock_rule():
    # tokens: context [11, 12], continuation [13, 14, 15]; position 0 has no log-prob (None), as in vLLM.
    tokens = [11, 12, 13, 14, 15]
    plp = [None, {12: -0.5}, {13: Logprob(-0.25), 99: Logprob(-3.0)}, {14: -2.0, 7: -0.1}, {15: -0.125}]
    r = parse_prompt_logprobs(tokens, plp, ctxlen=2)
    assert r == (-2.375, False)
    assert r.token_logprobs == [-0.25, -2.0, -0.125]
    assert r.token_ids == [13, 14, 15]
    assert r.token_greedy == [True, False, True]
    assert parse_prompt_logprobs(tokens, plp, ctxlen=4) == (-0.125, True)


@pytest.mark.parametrize(
    "tokens, plp, ctxlen, message",
    [
        ([1, 2], [None, {2: -1.0}], 0, "ctxlen must be in"),
        ([1, 2], [None, {2: -1.0}], 2, "ctxlen must be in"),
        ([1, 2, 3], [None, {2: -1.0}], 1, "one entry per token"),
        ([1, 2, 3], [None, {2: -1.0}, None], 1, r"prompt_logprobs\[2\] is None"),
    ],
)
def test_bad_inputs_raise_named_errors(tokens, plp, ctxlen, message):
    with pytest.raises(ValueError, match=message):
        parse_prompt_logprobs(tokens, plp, ctxlen)


def test_importing_the_module_and_registering_do_not_import_vllm():
    code = (
        "import sys; import lm_eval_mirage.models.vllm_mirage; from lm_eval_mirage import models; "
        "models.register(); from lm_eval.api.registry import model_registry; "
        "assert 'vllm-mirage' in model_registry; assert 'vllm' not in sys.modules; "
        "assert 'torch' not in sys.modules, 'register() must stay light'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
