"""The carry family: tiny GPT-2s of increasing DEPTH trained on addition with long carry chains.

Built as the project's candidate for a REAL transition, beside the recall family of
:mod:`lm_eval_mirage.zoo.recall` (a mirage). Every member is trained by one recipe (:data:`CONTROL_RECIPE`);
only ``n_layer`` differs:

* Data: :func:`lm_eval_mirage.tasks.carry_data.carry_problem`, 6-digit additions around one carry chain
  (training chains of 1 to 5 positions; the task ``mirage_control_carry`` asks 500 unseen problems with chains
  of 3 to 5), one problem per sequence in the task's prompt format, loss on the answer line only.
* Model: GPT-2 blocks, width 32, 2 heads, depths 1 to 4 (17k to 56k parameters), dropout off, fan-in
  initialisation ``N(0, 1/width)`` as in the recall family.
* Optimiser: AdamW (betas 0.9/0.98, no weight decay), learning rate 1e-2, 50 warm-up steps, cosine decay over
  1000 steps of 64 sequences.
* ``training_curve`` in each member's metadata: every 250 steps a teacher-forced probe of the test split
  (greedy exact match, mean per-token log-prob), so the same runs also give the curve over training steps.

What it measured (over seeds, through the harness) is in docs/control.md: read it before calling this family
a real transition.

Determinism: the same recipe, seed and thread count give bit-identical weights (``torch.set_num_threads``
during training, recorded with the weights' SHA-256, as in :mod:`lm_eval_mirage.zoo.recall`).
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

from lm_eval_mirage.tasks import carry_data
from lm_eval_mirage.zoo.checkpoints import (
    METADATA_FILE,
    load_saved_members,
    save_member,
    shipped_checkpoints,
    state_digest,
)
from lm_eval_mirage.zoo.loop import RecipeRecord, build_members, init_fan_in, run_training, training_threads

__all__ = [
    "ControlRecipe",
    "CONTROL_RECIPE",
    "MICRO_CONTROL_RECIPE",
    "ControlMember",
    "control_member_name",
    "carry_batch_source",
    "train_control_member",
    "build_control_family",
    "load_control_family",
    "shipped_control_checkpoints",
    "STEPS_FAMILY_NAME",
    "STEP_GRID",
    "STEPS_DEPTH",
    "steps_member_name",
    "train_step_checkpoints",
    "load_step_checkpoints",
]

FAMILY_NAME = "carry"


@dataclass(frozen=True)
class ControlRecipe(RecipeRecord):
    """Everything that determines the carry family's weights, apart from the seed and the thread count."""

    depths: tuple[int, ...] = (1, 2, 3, 4)
    width: int = 32
    n_head: int = 2
    n_positions: int = 48
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-2
    warmup_steps: int = 50
    betas: tuple[float, float] = (0.9, 0.98)
    digits: int = carry_data.DEFAULT_DIGITS
    train_min_chain: int = 1
    train_max_chain: int = carry_data.DEFAULT_MAX_CHAIN
    test_min_chain: int = carry_data.DEFAULT_MIN_CHAIN
    test_max_chain: int = carry_data.DEFAULT_MAX_CHAIN
    num_problems: int = carry_data.DEFAULT_NUM_PROBLEMS
    data_seed: int = carry_data.DEFAULT_SEED
    data_version: int = carry_data.CARRY_DATA_VERSION
    #: every this many steps a teacher-forced probe on the test split is recorded (``training_curve``; 0: never)
    probe_every: int = 250

    def __post_init__(self) -> None:
        for name in ("width", "n_head", "n_positions", "steps", "batch_size", "digits", "num_problems"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ControlRecipe.{name}={value!r} must be an integer >= 1")
        if self.width % self.n_head:
            raise ValueError(f"ControlRecipe.width={self.width} must be divisible by n_head={self.n_head}")
        if not self.depths or any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in self.depths):
            raise ValueError(f"ControlRecipe.depths={self.depths!r} must be positive integers")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"ControlRecipe.lr={self.lr!r} must be a positive number")
        carry_data.CarrySpec(self.digits, self.train_min_chain, self.train_max_chain)
        carry_data.CarrySpec(self.digits, self.test_min_chain, self.test_max_chain)

    def task_metadata(self) -> dict[str, int]:
        """The ``--metadata`` that makes ``mirage_control_carry`` ask this recipe's test problems."""
        return {
            "digits": self.digits,
            "min_chain": self.test_min_chain,
            "max_chain": self.test_max_chain,
            "num_problems": self.num_problems,
            "seed": self.data_seed,
        }


CONTROL_RECIPE = ControlRecipe()
MICRO_CONTROL_RECIPE = ControlRecipe(
    depths=(1, 2),
    width=8,
    steps=20,
    batch_size=8,
    warmup_steps=2,
    digits=4,
    train_max_chain=3,
    test_min_chain=2,
    test_max_chain=3,
    num_problems=20,
    n_positions=44,
)


@dataclass(frozen=True)
class ControlMember:
    """One trained model of the carry family (or a checkpoint along its training), as saved on disk."""

    name: str
    folder: Path
    depth: int
    seed: int
    params: int
    metadata: dict[str, Any]


def control_member_name(depth: int, seed: int) -> str:
    """Folder and model name of a member.

    Example:
        >>> control_member_name(3, 0)
        'carry-d3-s0'
    """
    return f"{FAMILY_NAME}-d{depth}-s{seed}"


def carry_batch_source(recipe: ControlRecipe, seed: int) -> Callable[[], tuple[Any, Any]]:
    """A function returning the next training batch ``(input_ids, labels)``; labels -100 off the answer line.

    Problems are drawn by :func:`lm_eval_mirage.tasks.carry_data.carry_problem` with the recipe's TRAINING
    chain lengths, from a stream that depends on the recipe and the seed only (every depth sees the same
    data); problems of the test split and the few-shot pool are skipped. Sequences are right-padded.
    """
    import torch

    from lm_eval_mirage.zoo.tiny import char_tokenizer

    vocab = char_tokenizer().get_vocab()
    pad = vocab["<pad>"]
    spec = carry_data.CarrySpec(recipe.digits, recipe.train_min_chain, recipe.train_max_chain)
    held_out = carry_data.held_out_keys(**recipe.task_metadata())
    rng = random.Random(f"mirage-control|{recipe.fingerprint}|{seed}")
    longest = len(carry_data.carry_prompt("9" * recipe.digits, "9" * recipe.digits)) + recipe.digits + 2
    if longest > recipe.n_positions:
        raise ValueError(f"n_positions={recipe.n_positions} is shorter than a training line ({longest} tokens)")

    def next_batch() -> tuple[Any, Any]:
        input_ids = torch.full((recipe.batch_size, longest), pad, dtype=torch.long)
        labels = torch.full((recipe.batch_size, longest), -100, dtype=torch.long)
        for i in range(recipe.batch_size):
            a, b = carry_data.carry_problem(rng, spec)
            while (a, b) in held_out:
                a, b = carry_data.carry_problem(rng, spec)
            prompt, answer = carry_data.carry_prompt(a, b), f" {int(a) + int(b)}\n"
            ids = [vocab[ch] for ch in prompt + answer]
            input_ids[i, : len(ids)] = torch.tensor(ids)
            labels[i, len(prompt) : len(ids)] = torch.tensor(ids[len(prompt) :])
        return input_ids, labels

    return next_batch


def _probe(recipe: ControlRecipe) -> Callable[[Any], dict]:
    """A teacher-forced look at the test split during training (no gradients, no randomness: the weights
    and the data stream are untouched): exact match of the greedy choice at every answer position and the
    mean per-token log-prob of the answer line. A cheap in-training probe, not the harness evaluation."""
    import torch

    from lm_eval_mirage.zoo.tiny import char_tokenizer

    vocab = char_tokenizer().get_vocab()
    docs = carry_data.carry_docs(**recipe.task_metadata())["test"]
    lines = [carry_data.carry_prompt(r["a"], r["b"]) + f" {r['answer']}\n" for r in docs]
    start = len(carry_data.carry_prompt(docs[0]["a"], docs[0]["b"]))
    ids = torch.tensor([[vocab[c] for c in line] for line in lines])  # every line has the same length

    def run(model: Any) -> dict:
        with torch.no_grad():
            logits = model(input_ids=ids).logits[:, start - 1 : -1]
            target = ids[:, start:]
            logp = torch.log_softmax(logits, -1).gather(2, target[..., None])[..., 0]
            greedy = (logits.argmax(-1) == target).all(1).float().mean()
        return {"tf_exact_match": round(float(greedy), 5), "tf_per_token_logprob": round(float(logp.mean()), 5)}

    return run


def train_control_member(
    recipe: ControlRecipe,
    depth: int,
    *,
    seed: int = 0,
    threads: int = 1,
    on_step: Callable[[int, float], None] | None = None,
    on_model: Callable[[int, Any], None] | None = None,
) -> tuple[Any, dict]:
    """Train one member (``n_layer = depth``); returns ``(model, metadata)``. Deterministic for
    (recipe, depth, seed, threads): the recipe of :func:`lm_eval_mirage.zoo.recall.train_member` (fan-in
    initialisation, AdamW, warm-up then cosine decay, dropout off, ``torch.set_num_threads(threads)``)."""
    import torch
    import transformers
    from transformers import GPT2LMHeadModel

    from lm_eval_mirage.zoo.tiny import char_tokenizer, tiny_gpt2_config

    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth={depth!r} must be an integer >= 1")
    start = time.perf_counter()
    with training_threads(threads):
        torch.manual_seed(seed)
        shape = {"n_layer": depth, "n_embd": recipe.width, "n_head": recipe.n_head, "n_positions": recipe.n_positions}
        model = GPT2LMHeadModel(tiny_gpt2_config(len(char_tokenizer()), **shape))
        init_fan_in(model, recipe.width)
        loss_value, curve = run_training(
            model,
            carry_batch_source(recipe, seed),
            steps=recipe.steps,
            lr=recipe.lr,
            betas=recipe.betas,
            warmup_steps=recipe.warmup_steps,
            on_step=on_step,
            on_model=on_model,
            probe=_probe(recipe) if recipe.probe_every else None,
            probe_every=recipe.probe_every,
        )
    metadata = {
        "family": FAMILY_NAME,
        "name": control_member_name(depth, seed),
        "depth": depth,
        "width": recipe.width,
        "seed": seed,
        "threads": threads,
        "params": sum(p.numel() for p in model.parameters()),
        "state_sha256": state_digest(model),
        "final_loss": loss_value,
        "training_curve": curve,
        "train_seconds": round(time.perf_counter() - start, 2),
        "recipe": recipe.to_dict(),
        "recipe_fingerprint": recipe.fingerprint,
        "task": "mirage_control_carry",
        "task_metadata": recipe.task_metadata(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    return model, metadata


def _member(folder: Path, meta: dict) -> ControlMember:
    return ControlMember(str(meta["name"]), folder, int(meta["depth"]), int(meta["seed"]), int(meta["params"]), meta)


def load_control_family(
    root: str | os.PathLike, *, recipe: ControlRecipe | None = None, seeds: Iterable[int] | None = None
) -> list[ControlMember]:
    """Control members saved under ``root`` (one folder each, ``carry-*``), sorted by seed then depth.

    Only members of ``recipe`` (matched by fingerprint) and of ``seeds`` are returned when given.
    """
    return load_saved_members(root, FAMILY_NAME, _member, recipe=recipe, seeds=seeds, order=lambda m: (m.seed, m.depth))


def build_control_family(
    root: str | os.PathLike,
    *,
    recipe: ControlRecipe = CONTROL_RECIPE,
    seeds: Sequence[int] = (0,),
    threads: int = 1,
    jobs: int | None = None,
    progress: bool = True,
    retrain: bool = False,
) -> list[ControlMember]:
    """Train (or reuse) every depth of ``recipe`` for each seed under ``root``; returns the members.

    A member saved with the same recipe fingerprint, seed and thread count is reused unless ``retrain``.
    Members train in ``jobs`` processes (default: CPU cores // threads, deepest first); each uses
    ``threads`` torch threads, so the weights do not depend on ``jobs``.
    """
    return build_members(
        root,
        train=train_control_member,
        load=load_control_family,
        name=control_member_name,
        size_of=lambda m: m.depth,
        sizes=recipe.depths,
        recipe=recipe,
        seeds=seeds,
        threads=threads,
        jobs=jobs,
        progress=progress,
        retrain=retrain,
        desc="training the carry family",
    )


def shipped_control_checkpoints() -> Path:
    """Folder of the checkpoints that ship with the package (``carry-d*-s*``, beside the recall family)."""
    return shipped_checkpoints()


# --- the carry family over TRAINING STEPS: checkpoints of one run (depth STEPS_DEPTH) on a log-spaced grid ---

STEPS_FAMILY_NAME = "carrysteps"
#: training steps at which a checkpoint is saved (roughly log-spaced, denser where carrying is learned)
STEP_GRID: tuple[int, ...] = (16, 32, 64, 128, 192, 256, 384, 512, 768, 1000)
#: the depth whose run is checkpointed (the depth that learned to carry with seed 0, docs/control.md)
STEPS_DEPTH = 2


def steps_member_name(depth: int, seed: int, step: int) -> str:
    """Folder and model name of one checkpoint along training.

    Example:
        >>> steps_member_name(2, 0, 16)
        'carrysteps-d2-s0-t0016'
    """
    return f"{STEPS_FAMILY_NAME}-d{depth}-s{seed}-t{step:04d}"


def train_step_checkpoints(
    root: str | os.PathLike,
    *,
    recipe: ControlRecipe = CONTROL_RECIPE,
    depth: int = STEPS_DEPTH,
    seed: int = 0,
    threads: int = 1,
    grid: Sequence[int] = STEP_GRID,
) -> list[ControlMember]:
    """Train one member exactly as :func:`train_control_member` does and save a checkpoint at every step of
    ``grid`` (``root/carrysteps-d{depth}-s{seed}-t{step}``). Saving reads the weights only, so the run (and its
    last checkpoint at ``recipe.steps``) is bit-identical to the member of the depth family."""
    grid = sorted(set(int(g) for g in grid))
    if not grid or grid[0] < 1 or grid[-1] > recipe.steps:
        raise ValueError(f"grid={grid!r}: steps must lie in 1..{recipe.steps}")
    root = Path(root)
    wanted = set(grid)
    start = time.perf_counter()

    def save(step: int, model: Any) -> None:
        if step not in wanted:
            return
        meta = {
            "family": STEPS_FAMILY_NAME,
            "name": steps_member_name(depth, seed, step),
            "depth": depth,
            "width": recipe.width,
            "seed": seed,
            "threads": threads,
            "step": step,
            "params": sum(p.numel() for p in model.parameters()),
            "state_sha256": state_digest(model),
            "seconds_so_far": round(time.perf_counter() - start, 2),
            "recipe": recipe.to_dict(),
            "recipe_fingerprint": recipe.fingerprint,
            "task": "mirage_control_carry",
            "task_metadata": recipe.task_metadata(),
        }
        save_member(model, root / meta["name"], meta)

    train_control_member(recipe, depth, seed=seed, threads=threads, on_model=save)
    return load_step_checkpoints(root, recipe=recipe, seeds=[seed])


def load_step_checkpoints(
    root: str | os.PathLike, *, recipe: ControlRecipe | None = None, seeds: Iterable[int] | None = None
) -> list[ControlMember]:
    """Checkpoints along training saved under ``root`` (``carrysteps-*``), sorted by seed then step.

    ``ControlMember.metadata["step"]`` holds the training step. Only ``recipe``'s (by fingerprint) and
    ``seeds``' checkpoints are returned when given.
    """

    def make(folder: Path, meta: dict) -> ControlMember:
        if not isinstance(meta.get("step"), int):
            raise ValueError(f"{folder / METADATA_FILE}: not a {STEPS_FAMILY_NAME} checkpoint (step missing)")
        return _member(folder, meta)

    return load_saved_members(
        root, STEPS_FAMILY_NAME, make, recipe=recipe, seeds=seeds, order=lambda m: (m.seed, m.metadata["step"])
    )
