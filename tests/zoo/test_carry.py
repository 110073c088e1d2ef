"""The control (carry) family: the recipe trains deterministically, and the shipped checkpoints are its output."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lm_eval_mirage.tasks import carry_data
from lm_eval_mirage.zoo import carry as control
from lm_eval_mirage.zoo.carry import (
    CONTROL_RECIPE,
    MICRO_CONTROL_RECIPE,
    ControlRecipe,
    build_control_family,
    carry_batch_source,
    control_member_name,
    load_control_family,
    shipped_control_checkpoints,
    train_control_member,
)
from lm_eval_mirage.zoo.checkpoints import METADATA_FILE, state_digest
from lm_eval_mirage.zoo.recall import RECIPE, load_family
from lm_eval_mirage.zoo.tiny import char_tokenizer


def test_batches_are_the_answer_line_of_unseen_carry_problems():
    recipe = MICRO_CONTROL_RECIPE
    inputs, labels = carry_batch_source(recipe, 0)()
    again, _ = carry_batch_source(recipe, 0)()
    other, _ = carry_batch_source(recipe, 1)()
    assert inputs.equal(again) and not inputs.equal(other)
    tok = char_tokenizer()
    held_out = carry_data.held_out_keys(**recipe.task_metadata())
    for row, lab in zip(inputs.tolist(), labels.tolist()):
        text = tok.decode([t for t in row if t != tok.pad_token_id])
        prompt, _, answer = text.partition(" A: ")
        a, _, b = prompt.removeprefix("Q: What is ").removesuffix("?").partition(" plus ")
        assert answer == f"{int(a) + int(b)}\n" and (a, b) not in held_out
        scored = tok.decode([t for t in lab if t != -100])
        assert scored == f" {answer}"


def test_micro_recipe_is_deterministic_and_recorded(tmp_path):
    losses: list[float] = []
    model, meta = train_control_member(
        MICRO_CONTROL_RECIPE, 2, seed=0, threads=1, on_step=lambda s, loss: losses.append(loss)
    )
    again, meta2 = train_control_member(MICRO_CONTROL_RECIPE, 2, seed=0, threads=1)
    _, other = train_control_member(MICRO_CONTROL_RECIPE, 2, seed=1, threads=1)
    assert len(losses) == MICRO_CONTROL_RECIPE.steps and losses[-1] < losses[0]
    assert meta["state_sha256"] == meta2["state_sha256"] == state_digest(again) != other["state_sha256"]
    assert (
        meta["depth"] == 2 and meta["threads"] == 1 and meta["recipe_fingerprint"] == MICRO_CONTROL_RECIPE.fingerprint
    )
    members = build_control_family(tmp_path, recipe=MICRO_CONTROL_RECIPE, seeds=[0], jobs=1, progress=False)
    assert [m.depth for m in members] == [1, 2] and members[1].metadata["state_sha256"] == meta["state_sha256"]
    assert load_control_family(tmp_path, recipe=CONTROL_RECIPE) == []
    assert load_family(tmp_path, recipe=RECIPE) == []  # the recall family's loader does not pick them up


def test_recipe_rejects_bad_values():
    with pytest.raises(ValueError, match="depths"):
        ControlRecipe(depths=(0, 2))
    with pytest.raises(ValueError, match="width=30 must be divisible by n_head=4"):
        ControlRecipe(width=30, n_head=4)
    with pytest.raises(ValueError, match="max_chain=6 must be <= digits - 1 = 5"):
        ControlRecipe(digits=6, train_max_chain=6)
    with pytest.raises(ValueError, match="depth=0"):
        train_control_member(MICRO_CONTROL_RECIPE, 0)
    assert control_member_name(4, 2) == "carry-d4-s2"
    assert dataclasses.replace(CONTROL_RECIPE, lr=1e-3).fingerprint != CONTROL_RECIPE.fingerprint


def test_shipped_checkpoints_are_the_recipe_output():
    members = load_control_family(shipped_control_checkpoints(), recipe=CONTROL_RECIPE, seeds=[0])
    assert [m.depth for m in members] == list(CONTROL_RECIPE.depths)
    from safetensors.torch import load_file

    for m in members:
        meta = json.loads((m.folder / METADATA_FILE).read_text())
        assert meta["threads"] == 1 and meta["recipe"] == CONTROL_RECIPE.to_dict()
        tensors = load_file(str(m.folder / "model.safetensors"))
        assert sum(t.numel() for t in tensors.values()) == m.params
        assert Path(m.folder, "tokenizer.json").is_file()
    total = sum(f.stat().st_size for m in members for f in m.folder.iterdir())
    assert total < 1_000_000  # "a few hundred KB"


def test_shipped_checkpoints_digest_matches_weights():
    from transformers import AutoModelForCausalLM

    members = load_control_family(shipped_control_checkpoints(), recipe=CONTROL_RECIPE, seeds=[0])
    for m in members:
        assert state_digest(AutoModelForCausalLM.from_pretrained(m.folder)) == m.metadata["state_sha256"]


@pytest.mark.slow
def test_retraining_the_smallest_shipped_member_is_bit_identical():
    """The recipe at full size, depth 1 (the cheapest member: about 40 s on an idle core). Bit-identical on
    the CPU kind the checkpoints were trained on; they predate the ``cpu`` record, so only a machine whose
    signature is recorded is held to the bit; elsewhere float kernels may round differently and the
    retrained member must land where the shipped one did (the modadd test's rule)."""
    from lm_eval_mirage.zoo.loop import cpu_signature

    (shipped,) = load_control_family(shipped_control_checkpoints(), recipe=CONTROL_RECIPE, seeds=[0])[:1]
    assert shipped.depth == 1
    model, meta = train_control_member(CONTROL_RECIPE, 1, seed=0, threads=shipped.metadata["threads"])
    assert meta["state_sha256"] == state_digest(model)
    if shipped.metadata.get("cpu") == cpu_signature():
        assert meta["state_sha256"] == shipped.metadata["state_sha256"]
        assert meta["training_curve"] == shipped.metadata["training_curve"]
    else:
        for ours, theirs in zip(meta["training_curve"], shipped.metadata["training_curve"], strict=True):
            assert ours["step"] == theirs["step"]
            assert abs(ours["tf_per_token_logprob"] - theirs["tf_per_token_logprob"]) < 0.05, (ours, theirs)


def test_module_exports():
    assert set(control.__all__) <= set(dir(control))
    assert set(carry_data.__all__) <= set(dir(carry_data))


def test_step_checkpoints_are_snapshots_of_the_member_run(tmp_path):
    """Checkpoints along training: one per grid step, the last one the depth family's member bit for bit."""
    recipe = MICRO_CONTROL_RECIPE
    found = control.train_step_checkpoints(tmp_path, recipe=recipe, depth=2, seed=0, grid=(2, 5, 20))
    assert [m.metadata["step"] for m in found] == [2, 5, 20]
    assert [m.name for m in found] == [control.steps_member_name(2, 0, s) for s in (2, 5, 20)]
    digests = [m.metadata["state_sha256"] for m in found]
    assert len(set(digests)) == 3
    _, meta = train_control_member(recipe, 2, seed=0, threads=1)
    assert digests[-1] == meta["state_sha256"]
    again = control.train_step_checkpoints(tmp_path / "again", recipe=recipe, depth=2, seed=0, grid=(2, 5, 20))
    assert [m.metadata["state_sha256"] for m in again] == digests
    assert load_control_family(tmp_path, recipe=recipe) == []  # the depth family's loader does not pick them up
    with pytest.raises(ValueError, match="grid=.*steps must lie in 1..20"):
        control.train_step_checkpoints(tmp_path / "bad", recipe=recipe, grid=(0, 21))


def test_shipped_step_checkpoints_match_their_weights_and_the_depth_member():
    from transformers import AutoModelForCausalLM

    found = control.load_step_checkpoints(shipped_control_checkpoints(), recipe=CONTROL_RECIPE, seeds=[0])
    assert [m.metadata["step"] for m in found] == list(control.STEP_GRID)
    for m in found:
        assert m.depth == control.STEPS_DEPTH and m.metadata["threads"] == 1
        assert state_digest(AutoModelForCausalLM.from_pretrained(m.folder)) == m.metadata["state_sha256"]
    (member,) = [
        m
        for m in load_control_family(shipped_control_checkpoints(), recipe=CONTROL_RECIPE, seeds=[0])
        if m.depth == control.STEPS_DEPTH
    ]
    assert found[-1].metadata["state_sha256"] == member.metadata["state_sha256"]  # the same run, at its end
    total = sum(f.stat().st_size for m in found for f in m.folder.iterdir())
    assert total < 1_600_000


def test_prepare_steps_trains_reuses_and_retrains_the_same_checkpoints(tmp_path):
    from lm_eval_mirage.demo.prepare import prepare_steps

    kwargs = dict(cache=tmp_path, seeds=[0], threads=1, recipe=MICRO_CONTROL_RECIPE, grid=(2, 5, 20))
    first, source = prepare_steps(retrain=False, **kwargs)
    assert [m.metadata["step"] for m in first] == [2, 5, 20] and "trained" in source
    weights = first[0].folder / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    again, _ = prepare_steps(retrain=False, **kwargs)
    assert [m.metadata["state_sha256"] for m in again] == [m.metadata["state_sha256"] for m in first]
    assert (again[0].folder / "model.safetensors").stat().st_mtime_ns == stamp  # reused, not retrained
    redone, source = prepare_steps(retrain=True, **kwargs)
    assert "--retrain" in source
    assert [m.metadata["state_sha256"] for m in redone] == [m.metadata["state_sha256"] for m in first]
