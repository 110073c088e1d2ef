from __future__ import annotations

import copy
import pickle

import pytest

from lm_eval_mirage.models.result import LoglikelihoodResult


def _result() -> LoglikelihoodResult:
    return LoglikelihoodResult(-1.5, True, [-1.0, -0.5], [4, 5], [True, True])


def test_behaves_as_the_harness_pair():
    r = _result()
    ll, greedy = r
    assert (ll, greedy) == (-1.5, True) and r == (-1.5, True) and len(r) == 2
    assert str(r) == "(-1.5, True)"  # what --log_samples writes for the response


@pytest.mark.parametrize("clone", [lambda r: pickle.loads(pickle.dumps(r)), copy.deepcopy, copy.copy])
def test_detail_survives_pickling_and_copies(clone):
    # --use_cache pickles responses; the harness deep-copies some structures.
    r = clone(_result())
    assert isinstance(r, LoglikelihoodResult)
    assert (r.token_logprobs, r.token_ids, r.token_greedy) == ([-1.0, -0.5], [4, 5], [True, True])


def test_passes_through_the_harness_default_filter():
    from lm_eval.api.instance import Instance
    from lm_eval.filters.selection import TakeFirstFilter

    inst = Instance(request_type="loglikelihood", doc={}, arguments=("a", "b"), idx=0)
    inst.resps = [_result()]
    (out,) = TakeFirstFilter().apply([inst.resps], [inst.doc])
    assert out.token_ids == [4, 5]


def test_lengths_must_agree():
    with pytest.raises(ValueError, match="one entry per continuation token"):
        LoglikelihoodResult(-1.0, False, [-1.0], [1, 2], [False])
