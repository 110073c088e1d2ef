"""The trained demo family: the recipe trains, is deterministic, and the shipped checkpoints are its output."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from lm_eval_mirage.tasks.demo_data import recall_prompt, recall_table
from lm_eval_mirage.zoo import recall as family
from lm_eval_mirage.zoo.checkpoints import METADATA_FILE, save_member, shipped_checkpoints, state_digest
from lm_eval_mirage.zoo.recall import (
    MICRO_RECIPE,
    RECIPE,
    FamilyRecipe,
    build_family,
    load_family,
    member_name,
    train_member,
    training_batch_source,
)


@pytest.fixture(scope="module")
def micro_runs():
    """The micro recipe trained twice with the same seed and once with another (one thread)."""
    losses: list[float] = []
    a = train_member(MICRO_RECIPE, 8, seed=0, threads=1, on_step=lambda step, loss: losses.append(loss))
    b = train_member(MICRO_RECIPE, 8, seed=0, threads=1)
    c = train_member(MICRO_RECIPE, 8, seed=1, threads=1)
    return a, b, c, losses


def test_micro_recipe_trains(micro_runs):
    (_, meta), _, _, losses = micro_runs
    assert len(losses) == MICRO_RECIPE.steps
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.6 * first, (first, last)
    assert meta["final_loss"] == losses[-1]


def test_same_seed_and_threads_give_bit_identical_weights(micro_runs):
    (m1, meta1), (m2, meta2), (m3, meta3), _ = micro_runs
    assert meta1["state_sha256"] == meta2["state_sha256"] == state_digest(m2)
    for (name, t1), (_, t2) in zip(sorted(m1.state_dict().items()), sorted(m2.state_dict().items())):
        assert t1.equal(t2), name
    assert meta3["state_sha256"] != meta1["state_sha256"]  # the seed matters
    assert meta1["threads"] == 1 and meta1["seed"] == 0 and meta1["width"] == 8
    assert meta1["recipe_fingerprint"] == MICRO_RECIPE.fingerprint


def test_training_batches_are_the_task_prompts_with_loss_on_the_answer_line():
    from lm_eval_mirage.zoo.tiny import char_tokenizer

    tok = char_tokenizer()
    rows = {recall_prompt(r["key"]): r["answer"] for r in recall_table(12, 4, 3, MICRO_RECIPE.data_seed)}
    source = training_batch_source(MICRO_RECIPE, seed=0)
    changed = total = 0
    for _ in range(20):
        inputs, labels = source()
        assert inputs.shape == labels.shape == (MICRO_RECIPE.batch_size, len("Q: What is abc? A: 1234\n"))
        for ids, lab in zip(inputs.tolist(), labels.tolist()):
            text = tok.decode(ids)
            prompt, rest = text[: len("Q: What is abc? A:")], text[len("Q: What is abc? A:") :]
            supervised = tok.decode([i for i in lab if i != -100])
            assert supervised == f" {rows[prompt]}\n"  # labels: the true answer line, nothing of the prompt
            # input: the same line with some code digits replaced by random digits (input_noise)
            assert rest[0] == " " and rest[-1] == "\n" and rest[1:-1].isdigit()
            changed += sum(a != b for a, b in zip(rest[1:-1], rows[prompt]))
            total += len(rows[prompt])
    # a digit is replaced with probability 0.5, by one of 10 digits (itself included): 45% change
    assert 0.38 < changed / total < 0.52
    again, _ = training_batch_source(MICRO_RECIPE, seed=0)()
    other, _ = training_batch_source(MICRO_RECIPE, seed=1)()
    first, _ = training_batch_source(MICRO_RECIPE, seed=0)()
    assert again.equal(first) and not other.equal(first)


def test_no_input_noise_gives_clean_inputs():
    from dataclasses import replace

    recipe = replace(MICRO_RECIPE, input_noise=0.0)
    inputs, labels = training_batch_source(recipe, seed=0)()
    answer = labels != -100
    assert inputs[answer].equal(labels[answer])


def test_save_load_roundtrip_gives_an_hf_folder(tmp_path, micro_runs):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    (model, meta), *_ = micro_runs
    folder = save_member(model, tmp_path / member_name(8, 0), meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recall-w8-s0"]  # no temporary folder left
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in [folder, *folder.iterdir()])  # readable by all
    loaded = AutoModelForCausalLM.from_pretrained(folder)
    assert state_digest(loaded) == meta["state_sha256"]
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.decode(tok.encode("Q: What is abc? A: 1234\n")) == "Q: What is abc? A: 1234\n"
    (member,) = load_family(tmp_path)
    assert (member.name, member.width, member.seed, member.params) == ("recall-w8-s0", 8, 0, meta["params"])
    assert load_family(tmp_path, recipe=RECIPE) == []  # another recipe: not a member of the shipped family
    assert load_family(tmp_path, seeds=[1]) == []


def test_build_family_reuses_what_is_there(tmp_path):
    recipe = FamilyRecipe(widths=(4,), steps=5, batch_size=4, warmup_steps=1, num_keys=6, digits=3, n_positions=32)
    (first,) = build_family(tmp_path, recipe=recipe, progress=False)
    stamp = os.stat(first.folder / "model.safetensors").st_mtime_ns
    (second,) = build_family(tmp_path, recipe=recipe, progress=False)
    assert os.stat(second.folder / "model.safetensors").st_mtime_ns == stamp
    (third,) = build_family(tmp_path, recipe=recipe, progress=False, retrain=True)
    assert third.metadata["state_sha256"] == first.metadata["state_sha256"]  # retrained, same bits


def test_parallel_training_gives_the_same_bits(tmp_path):
    recipe = FamilyRecipe(widths=(4, 6), steps=5, batch_size=4, warmup_steps=1, num_keys=6, digits=3, n_positions=32)
    members = build_family(tmp_path, recipe=recipe, jobs=2, progress=False)  # two spawned processes
    assert [m.width for m in members] == [4, 6]
    for m in members:
        _, meta = train_member(recipe, m.width, seed=0, threads=1)  # this process
        assert m.metadata["state_sha256"] == meta["state_sha256"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"widths": (4, 0)}, "widths"),
        ({"widths": (6,), "n_head": 4}, "divisible by n_head=4"),
        ({"steps": 0}, "steps=0"),
        ({"lr": -1.0}, "lr=-1.0"),
    ],
)
def test_recipe_validation(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        FamilyRecipe(**kwargs)


def test_train_member_rejects_bad_arguments():
    with pytest.raises(ValueError, match="width=3"):
        train_member(FamilyRecipe(n_head=2, widths=(4,)), 3)
    with pytest.raises(ValueError, match="threads=0"):
        train_member(MICRO_RECIPE, 4, threads=0)


def test_shipped_checkpoints_are_the_recipe_output():
    members = load_family(shipped_checkpoints(), recipe=RECIPE, seeds=[0])
    assert [m.width for m in members] == list(RECIPE.widths)
    params = [m.params for m in members]
    assert params == sorted(params) and len(set(params)) == len(params)
    total = sum(f.stat().st_size for f in shipped_checkpoints().rglob("*") if f.is_file())
    assert total < 5_000_000  # "a few MB" at most
    for m in members:
        meta = json.loads((m.folder / METADATA_FILE).read_text())
        assert meta["threads"] == 1 and meta["recipe"] == RECIPE.to_dict()
        from safetensors.torch import load_file

        tensors = load_file(str(m.folder / "model.safetensors"))
        assert sum(t.numel() for t in tensors.values()) == m.params
        assert Path(m.folder, "tokenizer.json").is_file()
        assert all(p.stat().st_mode & 0o044 == 0o044 for p in [m.folder, *m.folder.iterdir()])


def test_shipped_checkpoints_digest_matches_weights():
    from transformers import AutoModelForCausalLM

    for m in load_family(shipped_checkpoints(), recipe=RECIPE, seeds=[0])[:3]:
        assert state_digest(AutoModelForCausalLM.from_pretrained(m.folder)) == m.metadata["state_sha256"]


def test_module_exports():
    assert set(family.__all__) <= set(dir(family))
