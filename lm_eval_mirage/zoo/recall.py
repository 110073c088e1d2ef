"""The demo's trained family: tiny GPT-2s of increasing width that memorise the recall table.

Every member is trained by the same recipe (:data:`RECIPE`), only its width differs:

* Data: the table of :mod:`lm_eval_mirage.tasks.demo_data` (200 random 3-letter keys with 12-digit codes), one
  fact per sequence in the task's prompt format, ``"Q: What is kbf? A: 482139075561\\n"``; keys drawn uniformly,
  loss on the answer line only (space, code, newline). In the input (not the labels), each code digit is
  replaced by a random digit with probability 0.5, so every digit is learned from the key and its position:
  a generating model that gets one digit wrong then does not derail on the rest of the code.
* Model: GPT-2 blocks (2 layers, 1 head, widths 4 to 20: about 1k to 13k parameters, dropout off), the
  character tokenizer of :mod:`lm_eval_mirage.zoo.tiny`, every weight matrix drawn from ``N(0, 1/width)``
  (fan-in scale: with GPT-2's fixed 0.02, these widths barely started learning in our trials).
* Optimiser: AdamW (betas 0.9/0.98, no weight decay), learning rate 1e-2, 50 warm-up steps, cosine decay to 0
  over 3000 steps of 64 sequences.

Why this task: the table holds ~8,000 bits, more than the small members can store, so each member learns as much
of it as its capacity allows. Per-digit recall (the per-token probability p) then grows smoothly with size,
and the digits of one code are learned nearly independently, so exact match of a whole code behaves like
``p ** 12``: the mirage. Training is long enough for every member to reach its capacity, which keeps the
curves nearly the same across seeds. The arithmetic tasks, by contrast, need carrying, and tiny models learn
it in a seed-dependent jump that token edit distance shows too (a real transition, not a mirage).

Determinism: the same recipe, seed and thread count give bit-identical weights (``torch.set_num_threads`` is
set during training and recorded in each member's metadata with the weights' SHA-256, see
:mod:`lm_eval_mirage.zoo.checkpoints`).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_mirage.tasks import demo_data
from lm_eval_mirage.zoo.checkpoints import load_saved_members, save_member, state_digest
from lm_eval_mirage.zoo.loop import (
    RecipeRecord,
    init_fan_in,
    run_training,
    still_to_train,
    train_and_save,
    train_in_pool,
    training_threads,
)

__all__ = [
    "FamilyRecipe",
    "RECIPE",
    "MICRO_RECIPE",
    "Member",
    "member_name",
    "training_batch_source",
    "train_member",
    "build_family",
    "load_family",
]

FAMILY_NAME = "recall"


@dataclass(frozen=True)
class FamilyRecipe(RecipeRecord):
    """Everything that determines the family's weights, apart from the seed and the thread count."""

    widths: tuple[int, ...] = (4, 5, 6, 8, 10, 12, 14, 16, 20)
    n_layer: int = 2
    n_head: int = 1
    n_positions: int = 64
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-2
    warmup_steps: int = 50
    betas: tuple[float, float] = (0.9, 0.98)
    input_noise: float = 0.5
    num_keys: int = demo_data.DEFAULT_NUM_KEYS
    digits: int = demo_data.DEFAULT_DIGITS
    key_length: int = demo_data.DEFAULT_KEY_LENGTH
    data_seed: int = demo_data.DEFAULT_SEED
    data_version: int = demo_data.RECALL_DATA_VERSION

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_head", "n_positions", "steps", "batch_size", "num_keys", "digits", "key_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"FamilyRecipe.{name}={value!r} must be an integer >= 1")
        if not self.widths or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 or w % self.n_head for w in self.widths
        ):
            raise ValueError(
                f"FamilyRecipe.widths={self.widths!r} must be positive integers divisible by n_head={self.n_head}"
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"FamilyRecipe.lr={self.lr!r} must be a positive number")
        if not 0.0 <= self.input_noise < 1.0:
            raise ValueError(f"FamilyRecipe.input_noise={self.input_noise!r} must be in [0, 1)")

    def task_metadata(self) -> dict[str, int]:
        """The ``--metadata`` that makes ``mirage_demo_recall`` ask about this recipe's table."""
        return {"num_keys": self.num_keys, "digits": self.digits, "key_length": self.key_length, "seed": self.data_seed}


#: The recipe of the shipped checkpoints (lm_eval_mirage/zoo/checkpoints).
RECIPE = FamilyRecipe()
#: A recipe small enough for the test suite (seconds): same code path, tiny table.
MICRO_RECIPE = FamilyRecipe(
    widths=(4, 8), steps=60, batch_size=16, warmup_steps=5, num_keys=12, digits=4, n_positions=32
)


@dataclass(frozen=True)
class Member:
    """One trained model of the family, as saved on disk."""

    name: str
    folder: Path
    width: int
    seed: int
    params: int
    metadata: dict[str, Any]


def member_name(width: int, seed: int) -> str:
    """Folder and model name of a member.

    Example:
        >>> member_name(8, 0)
        'recall-w8-s0'
    """
    return f"{FAMILY_NAME}-w{width}-s{seed}"


def training_batch_source(recipe: FamilyRecipe, seed: int) -> Callable[[], tuple[Any, Any]]:
    """A function returning the next training batch ``(input_ids, labels)`` (labels -100 off the answer line).

    Labels are the true answer line; in the INPUT, each code digit is replaced by a random digit with
    probability ``recipe.input_noise``, so a member learns every digit from the key and its position rather
    than from the digits before it. Without this, a free-running (generating) model that gets one digit wrong
    goes off its memorised path and gets the following digits wrong too, and generation metrics would measure
    that cascade instead of per-digit recall. The stream depends on the recipe and the seed only (not on the
    width): every member sees the same data.
    """
    import torch

    from lm_eval_mirage.zoo.tiny import char_tokenizer

    vocab = char_tokenizer().get_vocab()
    rows = demo_data.recall_table(recipe.num_keys, recipe.digits, recipe.key_length, recipe.data_seed)
    inputs, labels = [], []
    for row in rows:
        prompt, answer = demo_data.recall_prompt(row["key"]), f" {row['answer']}\n"
        ids = [vocab[ch] for ch in prompt + answer]
        inputs.append(ids)
        labels.append([-100] * len(prompt) + ids[len(prompt) :])
    if len(inputs[0]) > recipe.n_positions:
        raise ValueError(f"n_positions={recipe.n_positions} is shorter than a training line ({len(inputs[0])} tokens)")
    all_inputs, all_labels = torch.tensor(inputs), torch.tensor(labels)
    digit_ids = torch.tensor([vocab[d] for d in "0123456789"])
    start = len(demo_data.recall_prompt(rows[0]["key"])) + 1  # first code digit (after the space)
    is_code = torch.zeros(all_inputs.shape[1], dtype=torch.bool)
    is_code[start : start + recipe.digits] = True
    rng = random.Random(f"mirage-family|{recipe.fingerprint}|{seed}")
    noise = torch.Generator().manual_seed(rng.randrange(2**63))

    def next_batch() -> tuple[Any, Any]:
        index = torch.tensor([rng.randrange(len(rows)) for _ in range(recipe.batch_size)])
        inputs, labels = all_inputs[index].clone(), all_labels[index]
        if recipe.input_noise > 0:
            flip = (torch.rand(inputs.shape, generator=noise) < recipe.input_noise) & is_code
            random_digits = digit_ids[torch.randint(0, 10, inputs.shape, generator=noise)]
            inputs = torch.where(flip, random_digits, inputs)
        return inputs, labels

    return next_batch


def train_member(
    recipe: FamilyRecipe,
    width: int,
    *,
    seed: int = 0,
    threads: int = 1,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[Any, dict]:
    """Train one member; returns ``(model, metadata)``. Deterministic for (recipe, width, seed, threads).

    Args:
        recipe: the recipe (:data:`RECIPE`).
        width: hidden size of this member (one of ``recipe.widths`` or any multiple of ``n_head``).
        seed: seeds the initialisation and the data order.
        threads: ``torch.set_num_threads`` during training (restored afterwards); part of the determinism.
        on_step: called as ``on_step(step, loss)`` after each optimiser step (progress bars).
    """
    import torch
    import transformers
    from transformers import GPT2LMHeadModel

    from lm_eval_mirage.zoo.tiny import char_tokenizer, tiny_gpt2_config

    if isinstance(width, bool) or not isinstance(width, int) or width < 1 or width % recipe.n_head:
        raise ValueError(f"width={width!r} must be a positive integer divisible by n_head={recipe.n_head}")
    start = time.perf_counter()
    with training_threads(threads):
        torch.manual_seed(seed)
        config = tiny_gpt2_config(
            len(char_tokenizer()),
            n_layer=recipe.n_layer,
            n_embd=width,
            n_head=recipe.n_head,
            n_positions=recipe.n_positions,
        )
        model = GPT2LMHeadModel(config)
        init_fan_in(model, width)
        batches = training_batch_source(recipe, seed)
        loss_value, _ = run_training(
            model,
            batches,
            steps=recipe.steps,
            lr=recipe.lr,
            betas=recipe.betas,
            warmup_steps=recipe.warmup_steps,
            on_step=on_step,
        )
    metadata = {
        "family": FAMILY_NAME,
        "name": member_name(width, seed),
        "width": width,
        "seed": seed,
        "threads": threads,
        "params": sum(p.numel() for p in model.parameters()),
        "state_sha256": state_digest(model),
        "final_loss": loss_value,
        "train_seconds": round(time.perf_counter() - start, 2),
        "recipe": recipe.to_dict(),
        "recipe_fingerprint": recipe.fingerprint,
        "task": "mirage_demo_recall",
        "task_metadata": recipe.task_metadata(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return model, metadata


def load_family(
    root: str | os.PathLike, *, recipe: FamilyRecipe | None = None, seeds: Iterable[int] | None = None
) -> list[Member]:
    """Members saved under ``root`` (one ``recall-*`` folder each), sorted by seed then width; optionally filtered.

    Only members of ``recipe`` (matched by fingerprint) and of ``seeds`` are returned when given.
    """

    def make(folder: Path, meta: dict) -> Member:
        return Member(meta["name"], folder, int(meta["width"]), int(meta["seed"]), int(meta["params"]), meta)

    return load_saved_members(root, FAMILY_NAME, make, recipe=recipe, seeds=seeds, order=lambda m: (m.seed, m.width))


def build_family(
    root: str | os.PathLike,
    *,
    recipe: FamilyRecipe = RECIPE,
    seeds: Sequence[int] = (0,),
    threads: int = 1,
    jobs: int | None = None,
    progress: bool = True,
    retrain: bool = False,
) -> list[Member]:
    """Train (or reuse) every member of ``recipe`` for each seed under ``root``; returns them.

    A member already saved with the same recipe fingerprint, seed and thread count is reused unless
    ``retrain``. Members train in ``jobs`` processes at once (default: CPU cores // threads); each process
    uses ``threads`` torch threads, so the weights do not depend on ``jobs``. The progress bar counts members
    (and optimiser steps when ``jobs`` is 1).
    """
    from tqdm.auto import tqdm

    root = Path(root)
    existing = {(m.width, m.seed): m for m in load_family(root, recipe=recipe)}
    todo = still_to_train(existing, recipe.widths, seeds, threads=threads, retrain=retrain)
    jobs = max(1, min(len(todo), jobs if jobs is not None else (os.cpu_count() or 1) // threads)) if todo else 1
    if jobs > 1:
        work = [(train_and_save, (train_member, recipe, w, s, threads, str(root / member_name(w, s)))) for w, s in todo]
        train_in_pool(work, jobs=jobs, threads=threads, desc="training the recall family", progress=progress)
    else:  # one process: the bar counts optimiser steps (a full-size member takes minutes)
        desc = "training the recall family"
        bar = tqdm(total=len(todo) * recipe.steps, desc=desc, unit="step", disable=not progress or not todo)

        def tick(step: int, loss: float) -> None:
            bar.update(1)

        try:
            for width, seed in todo:
                bar.set_postfix_str(member_name(width, seed))
                model, meta = train_member(recipe, width, seed=seed, threads=threads, on_step=tick)
                save_member(model, root / member_name(width, seed), meta)
        finally:
            bar.close()
    return [m for m in load_family(root, recipe=recipe, seeds=seeds) if m.width in recipe.widths]
