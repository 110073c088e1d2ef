"""Every private harness internal the plugin relies on: fail loudly when the installed harness's source
differs from the one recorded for lm-eval 0.4.13, and check the run-time fallbacks."""

from __future__ import annotations

import logging

import pytest

from lm_eval_mirage import harness_private


@pytest.mark.parametrize("target", sorted(harness_private.RECORDED))
def test_the_harness_source_is_the_recorded_one(target):
    found = harness_private.source_hash(target)
    assert found is not None, f"{target} no longer exists in the installed harness"
    assert found == harness_private.RECORDED[target][0], (
        f"the installed lm-eval {harness_private.harness_version()} changed {target}: re-read it, adapt the code that "
        f"depends on it ({harness_private.RECORDED[target][1]}), then record the new hash"
    )


def test_the_installed_harness_is_a_tested_version():
    assert harness_private.harness_version() in harness_private.TESTED_HARNESS_VERSIONS


def test_the_plugin_modules_name_recorded_targets():
    from lm_eval_mirage.models import hf_mirage, vllm_mirage

    assert hf_mirage.COPIED_FROM in harness_private.RECORDED
    assert vllm_mirage.REPLACES in harness_private.RECORDED


def test_a_changed_source_is_detected_and_warned_once(monkeypatch, caplog):
    target = "lm_eval.utils:apply_template"
    monkeypatch.setitem(harness_private.RECORDED, target, ("0" * 64, "demo shortcut skipped"))
    monkeypatch.setattr(harness_private, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="lm_eval_mirage.harness_private"):
        assert harness_private.check(target) is False
        assert harness_private.check(target) is False
    messages = [r.getMessage() for r in caplog.records if "apply_template" in r.getMessage()]
    assert (
        len(messages) == 1 and "not a tested harness version" in messages[0] and "demo shortcut skipped" in messages[0]
    )


def test_hf_mirage_falls_back_to_stock_scoring_on_an_untested_harness(tiny_model, monkeypatch, caplog):
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from lm_eval_mirage.models.hf_mirage import COPIED_FROM, HFMirageLM
    from lm_eval_mirage.models.result import LoglikelihoodResult

    reqs = [("Q: What is 1 plus 2? A:", " 3\n"), ("Q: 4 plus 4? A:", " 8\n")]

    def run(cls):
        lm = cls(pretrained=str(tiny_model), device="cpu", batch_size=1)
        return lm.loglikelihood(
            [Instance(request_type="loglikelihood", doc={}, arguments=r, idx=i) for i, r in enumerate(reqs)],
            disable_tqdm=True,
        )

    stock, ours = run(HFLM), run(HFMirageLM)
    assert all(isinstance(r, LoglikelihoodResult) for r in ours)
    monkeypatch.setitem(harness_private.RECORDED, COPIED_FROM, ("0" * 64, "fallback: stock hf scoring"))
    monkeypatch.setattr(harness_private, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="lm_eval_mirage.harness_private"):
        fallback = run(HFMirageLM)
    assert [tuple(r) for r in fallback] == [tuple(r) for r in stock]  # stock numbers, exactly
    assert not any(isinstance(r, LoglikelihoodResult) for r in fallback)
    assert any("fallback: stock hf scoring" in r.getMessage() for r in caplog.records)
