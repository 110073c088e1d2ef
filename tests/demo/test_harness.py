"""The harness shortcuts of the demo change nothing but speed, and are undone."""

from __future__ import annotations

import lm_eval.evaluator
import lm_eval.utils

from lm_eval_mirage.demo.harness import faster_harness, run_spec, spec_id

TEMPLATES = [
    "Q: What is {{a}} {{op_word}} {{b}}? A:",
    "{{answer}}",
    " {{answer}}\n",
    "{{ a | regex_replace('1', 'x') }}",
]
DOCS = [
    {"a": "12", "b": "7", "op_word": "plus", "answer": "19"},
    {"a": "1", "b": "31", "op_word": "times", "answer": "31"},
]


def test_templates_render_exactly_as_before_and_patches_are_undone():
    original_apply, original_env = lm_eval.utils.apply_template, lm_eval.evaluator.add_env_info
    expected = [original_apply(t, d) for t in TEMPLATES for d in DOCS]
    with faster_harness():
        assert lm_eval.utils.apply_template is not original_apply
        got = [lm_eval.utils.apply_template(t, d) for _ in range(3) for t in TEMPLATES for d in DOCS]
    assert got == expected * 3
    assert lm_eval.utils.apply_template is original_apply and lm_eval.evaluator.add_env_info is original_env


def test_env_info_is_collected_once(monkeypatch):
    calls = []

    def fake(storage):
        calls.append(1)
        storage["pretty_env_info"] = "probe"

    monkeypatch.setattr(lm_eval.evaluator, "add_env_info", fake)
    with faster_harness():
        a, b = {}, {}
        lm_eval.evaluator.add_env_info(a)
        lm_eval.evaluator.add_env_info(b)
    assert a == b == {"pretty_env_info": "probe"} and len(calls) == 1
    assert lm_eval.evaluator.add_env_info is fake


def test_spec_id_is_stable_and_sensitive():
    spec = run_spec("mirage-sim", {"params": 1e9, "seed": 0}, ["t"], limit=5, metadata={"b": 1, "a": 2})
    same = run_spec("mirage-sim", {"seed": 0, "params": 1e9}, ["t"], limit=5, metadata={"a": 2, "b": 1})
    assert spec_id(spec) == spec_id(same)
    assert spec_id(spec) != spec_id(
        run_spec("mirage-sim", {"params": 1e9, "seed": 1}, ["t"], limit=5, metadata={"b": 1, "a": 2})
    )
    assert spec_id(spec) != spec_id(
        run_spec("mirage-sim", {"params": 1e9, "seed": 0}, ["t"], limit=6, metadata={"b": 1, "a": 2})
    )
    other_weights = run_spec(
        "mirage-sim", {"params": 1e9, "seed": 0}, ["t"], limit=5, metadata={"a": 2, "b": 1}, identity={"sha": "x"}
    )
    assert spec_id(other_weights) != spec_id(spec)
