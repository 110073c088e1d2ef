"""The transition (modadd) family: the recipe trains deterministically on the training half only, and the
shipped checkpoints are its output."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from lm_eval_mirage.tasks import modadd_data
from lm_eval_mirage.zoo import modadd
from lm_eval_mirage.zoo.checkpoints import METADATA_FILE, shipped_checkpoints, state_digest
from lm_eval_mirage.zoo.modadd import (
    MICRO_MODADD_RECIPE,
    MODADD_RECIPE,
    ModaddRecipe,
    build_modadd_family,
    load_modadd_family,
    modadd_batch_source,
    modadd_member_name,
    train_modadd_member,
)
from lm_eval_mirage.zoo.recall import RECIPE, load_family
from lm_eval_mirage.zoo.tiny import char_tokenizer


def test_batches_are_answer_lines_of_training_pairs_only():
    recipe = MODADD_RECIPE
    draw, again, other = modadd_batch_source(recipe, 0), modadd_batch_source(recipe, 0), modadd_batch_source(recipe, 1)
    inputs, labels = draw()
    assert inputs.equal(again()[0]) and not inputs.equal(other()[0])
    train, test = modadd_data.modadd_split(recipe.modulus, recipe.train_fraction, recipe.data_seed)
    tok, seen = char_tokenizer(), set()
    for _ in range(20):
        inputs, labels = draw()
        for row, lab in zip(inputs.tolist(), labels.tolist()):
            text = tok.decode([t for t in row if t != tok.pad_token_id])
            prompt, _, answer = text.partition(" A: ")
            a, _, b = prompt.removeprefix("Q: ").removesuffix(" mod 31?").partition("+")
            assert answer == f"{(int(a) + int(b)) % 31}\n"
            assert tok.decode([t for t in lab if t != -100]) == f" {answer}"
            seen.add((int(a), int(b)))
    assert seen <= set(train) and seen.isdisjoint(test) and len(seen) > 400  # 2560 draws cover most of the 480


def test_micro_recipe_is_deterministic_and_recorded(tmp_path):
    losses: list[float] = []
    model, meta = train_modadd_member(
        MICRO_MODADD_RECIPE, 8, seed=0, threads=1, on_step=lambda s, loss: losses.append(loss)
    )
    again, meta2 = train_modadd_member(MICRO_MODADD_RECIPE, 8, seed=0, threads=1)
    _, other = train_modadd_member(MICRO_MODADD_RECIPE, 8, seed=1, threads=1)
    assert len(losses) == MICRO_MODADD_RECIPE.steps and losses[-1] < losses[0]
    assert meta["state_sha256"] == meta2["state_sha256"] == state_digest(again) != other["state_sha256"]
    assert meta["width"] == 8 and meta["threads"] == 1 and meta["recipe_fingerprint"] == MICRO_MODADD_RECIPE.fingerprint
    assert [c["step"] for c in meta["training_curve"]] == [10, 20]
    assert all(0 <= c["tf_exact_match"] <= 1 and c["tf_per_token_logprob"] < 0 for c in meta["training_curve"])
    members = build_modadd_family(tmp_path, recipe=MICRO_MODADD_RECIPE, seeds=[0], jobs=1, progress=False)
    assert [m.width for m in members] == [4, 8] and members[1].metadata["state_sha256"] == meta["state_sha256"]
    mtime = (members[1].folder / "model.safetensors").stat().st_mtime_ns
    assert build_modadd_family(tmp_path, recipe=MICRO_MODADD_RECIPE, seeds=[0], jobs=1, progress=False) == members
    assert (members[1].folder / "model.safetensors").stat().st_mtime_ns == mtime  # reused, not retrained
    assert load_modadd_family(tmp_path, recipe=MODADD_RECIPE) == []
    assert load_family(tmp_path, recipe=RECIPE) == []  # the recall family's loader does not pick them up


def test_recipe_rejects_bad_values():
    with pytest.raises(ValueError, match=r"widths=\(6,\) must be positive integers divisible by n_head=4"):
        ModaddRecipe(widths=(6,))
    with pytest.raises(ValueError, match="weight_decay=-1.0 must be a number >= 0"):
        ModaddRecipe(weight_decay=-1.0)
    with pytest.raises(ValueError, match="train_fraction=1.5"):
        ModaddRecipe(train_fraction=1.5)
    with pytest.raises(ValueError, match="n_positions=10 is shorter than a training line"):
        ModaddRecipe(n_positions=10)
    with pytest.raises(ValueError, match="width=6 must be a positive integer divisible by n_head=4"):
        train_modadd_member(MICRO_MODADD_RECIPE, 6)
    with pytest.raises(ValueError, match="threads=0"):
        train_modadd_member(MICRO_MODADD_RECIPE, 8, threads=0)
    assert modadd_member_name(48, 2) == "modadd-w48-s2"
    assert dataclasses.replace(MODADD_RECIPE, weight_decay=0.1).fingerprint != MODADD_RECIPE.fingerprint


def test_a_damaged_family_file_names_the_folder(tmp_path):
    folder = tmp_path / "modadd-w8-s0"
    folder.mkdir()
    (folder / METADATA_FILE).write_text(json.dumps({"family": "recall", "name": "x"}))
    with pytest.raises(ValueError, match=r"modadd-w8-s0/mirage_family.json: family='recall', expected 'modadd'"):
        load_modadd_family(tmp_path)


def test_shipped_checkpoints_are_the_recipe_output_and_hold_their_weights():
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    members = load_modadd_family(shipped_checkpoints(), recipe=MODADD_RECIPE, seeds=[0])
    assert [m.width for m in members] == list(MODADD_RECIPE.widths)
    for m in members:
        meta = json.loads((m.folder / METADATA_FILE).read_text())
        assert meta["threads"] == 1 and meta["recipe"] == MODADD_RECIPE.to_dict()
        assert sum(t.numel() for t in load_file(str(m.folder / "model.safetensors")).values()) == m.params
        assert state_digest(AutoModelForCausalLM.from_pretrained(m.folder)) == m.metadata["state_sha256"]
        assert Path(m.folder, "tokenizer.json").is_file()
    total = sum(f.stat().st_size for m in members for f in m.folder.iterdir())
    assert total < 1_200_000


@pytest.mark.slow
def test_retraining_the_smallest_shipped_member_is_bit_identical():
    """The recipe at full size, width 8 (the cheapest member: about 25 s on an idle core). Bit-identical on
    the CPU kind the checkpoints were trained on (recorded as ``cpu``); on another kind float kernels may round
    differently, and the retrained member must then still land where the shipped one did."""
    from lm_eval_mirage.zoo.loop import cpu_signature

    shipped = load_modadd_family(shipped_checkpoints(), recipe=MODADD_RECIPE, seeds=[0])[0]
    assert shipped.width == 8
    model, meta = train_modadd_member(MODADD_RECIPE, 8, seed=0, threads=shipped.metadata["threads"])
    assert meta["state_sha256"] == state_digest(model)
    if shipped.metadata["cpu"] == cpu_signature():
        assert meta["state_sha256"] == shipped.metadata["state_sha256"]
        assert meta["training_curve"] == shipped.metadata["training_curve"]
    else:
        for ours, theirs in zip(meta["training_curve"], shipped.metadata["training_curve"], strict=True):
            assert abs(ours["tf_per_token_logprob"] - theirs["tf_per_token_logprob"]) < 0.05, (ours, theirs)


def test_module_exports():
    assert set(modadd.__all__) <= set(dir(modadd))


@pytest.mark.parametrize(
    "task, recipe",
    [
        ("mirage_control_modadd", MODADD_RECIPE),
        ("mirage_control_modadd_ll", MODADD_RECIPE),
        ("mirage_control_carry", "carry"),
        ("mirage_control_carry_ll", "carry"),
    ],
)
def test_task_yaml_defaults_ask_the_shipped_recipe_test_split(task, recipe):
    """A plain ``lm_eval --tasks mirage_control_*`` run (no --metadata) asks the problems the shipped
    checkpoints were tested on, not some other split."""
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.tasks import tasks_path
    from lm_eval_mirage.zoo.carry import CONTROL_RECIPE

    recipe = CONTROL_RECIPE if recipe == "carry" else recipe
    loaded = TaskManager(include_path=tasks_path(), include_defaults=False).load_task_or_group([task])[task]
    metadata = loaded.config.metadata
    assert {k: metadata.get(k) for k in recipe.task_metadata()} == recipe.task_metadata()


def test_parallel_training_gives_the_same_bits(tmp_path):
    one = build_modadd_family(tmp_path / "one", recipe=MICRO_MODADD_RECIPE, seeds=[0, 1], jobs=1, progress=False)
    two = build_modadd_family(tmp_path / "two", recipe=MICRO_MODADD_RECIPE, seeds=[0, 1], jobs=2, progress=False)
    assert [(m.name, m.metadata["state_sha256"]) for m in one] == [(m.name, m.metadata["state_sha256"]) for m in two]
    assert [m.name for m in one] == ["modadd-w4-s0", "modadd-w8-s0", "modadd-w4-s1", "modadd-w8-s1"]


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\udcff"])
def test_unreadable_metadata_names_the_file(tmp_path, text):
    folder = tmp_path / "modadd-w8-s0"
    folder.mkdir()
    (folder / METADATA_FILE).write_bytes(text.encode("utf-8", "surrogateescape"))
    with pytest.raises(ValueError, match=r"modadd-w8-s0/mirage_family.json: "):
        load_modadd_family(tmp_path)
