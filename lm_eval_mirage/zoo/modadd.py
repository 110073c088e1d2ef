"""The transition family: one-layer GPT-2s of increasing WIDTH trained on addition modulo 31.

The control's real transition (measured in docs/control.md). Every member is trained by one recipe
(:data:`MODADD_RECIPE`); only ``n_embd`` differs:

* Data: :func:`lm_eval_mirage.tasks.modadd_data.modadd_split`, half of the 961 pairs ``(a, b)`` with
  ``a, b < 31`` (480 pairs, keyed shuffle); the task ``mirage_control_modadd`` asks the other 481, never seen
  in training. One problem per sequence, ``"Q: 12+25 mod 31? A: 6\\n"``, loss on the answer line only.
* Model: one GPT-2 block, 4 heads, widths 8 to 64 (about 1.4k to 60k parameters), dropout off, transformers'
  GPT-2 initialisation.
* Optimiser: AdamW (lr 1e-3, betas 0.9/0.98, weight decay 1.0: the grokking literature's setting, Power et
  al. 2022; Nanda et al. 2023), 10 warm-up steps then a constant rate, 2000 steps of 128 pairs drawn with
  replacement from the training half.
* ``training_curve`` in each member's metadata: every 250 steps a teacher-forced probe of the test split
  (greedy exact match, mean per-token log-prob).

With this budget the narrow members learn only the answers' format and frequencies (exact match at the
chance rate 1/31, per-token log-prob about -1.0), the wide ones learn the algorithm for unseen pairs: every
metric jumps at the same width. Determinism: the same recipe, seed and thread count give bit-identical weights
(``torch.set_num_threads`` during training, recorded with the weights' SHA-256).
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

from lm_eval_mirage.tasks import modadd_data
from lm_eval_mirage.zoo.checkpoints import load_saved_members, state_digest
from lm_eval_mirage.zoo.loop import RecipeRecord, build_members, cpu_signature, run_training, training_threads
from lm_eval_mirage.zoo.recall import Member

__all__ = [
    "FAMILY_NAME",
    "ModaddRecipe",
    "MODADD_RECIPE",
    "MICRO_MODADD_RECIPE",
    "ModaddMember",
    "modadd_member_name",
    "modadd_batch_source",
    "train_modadd_member",
    "build_modadd_family",
    "load_modadd_family",
]

FAMILY_NAME = "modadd"
TASK = "mirage_control_modadd"


@dataclass(frozen=True)
class ModaddRecipe(RecipeRecord):
    """Everything that determines the family's weights, apart from the seed and the thread count."""

    widths: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 64)
    n_layer: int = 1
    n_head: int = 4
    n_positions: int = 32
    steps: int = 2000
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1.0
    warmup_steps: int = 10
    betas: tuple[float, float] = (0.9, 0.98)
    modulus: int = modadd_data.DEFAULT_MODULUS
    train_fraction: float = modadd_data.DEFAULT_TRAIN_FRACTION
    data_seed: int = modadd_data.DEFAULT_SEED
    data_version: int = modadd_data.MODADD_DATA_VERSION
    #: every this many steps a teacher-forced probe on the test split is recorded (``training_curve``; 0: never)
    probe_every: int = 250

    def __post_init__(self) -> None:
        for name in ("n_layer", "n_head", "n_positions", "steps", "batch_size", "modulus"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModaddRecipe.{name}={value!r} must be an integer >= 1")
        if not self.widths or any(
            isinstance(w, bool) or not isinstance(w, int) or w < 1 or w % self.n_head for w in self.widths
        ):
            raise ValueError(
                f"ModaddRecipe.widths={self.widths!r} must be positive integers divisible by n_head={self.n_head}"
            )
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"ModaddRecipe.lr={self.lr!r} must be a positive number")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ValueError(f"ModaddRecipe.weight_decay={self.weight_decay!r} must be a number >= 0")
        modadd_data.modadd_split(self.modulus, self.train_fraction, self.data_seed)
        longest = (
            len(modadd_data.modadd_prompt(self.modulus - 1, self.modulus - 1, self.modulus))
            + len(str(self.modulus))
            + 2
        )
        if longest > self.n_positions:
            raise ValueError(
                f"ModaddRecipe.n_positions={self.n_positions} is shorter than a training line ({longest} tokens)"
            )

    def task_metadata(self) -> dict[str, Any]:
        """The ``--metadata`` that makes ``mirage_control_modadd`` ask this recipe's held-out pairs."""
        return {"modulus": self.modulus, "train_fraction": self.train_fraction, "seed": self.data_seed}


#: The recipe of the shipped checkpoints (``lm_eval_mirage/zoo/checkpoints/modadd-w*-s0``).
MODADD_RECIPE = ModaddRecipe()
#: A recipe small enough for the test suite (seconds): same code path.
MICRO_MODADD_RECIPE = ModaddRecipe(widths=(4, 8), steps=20, batch_size=16, modulus=7, probe_every=10)


#: One trained model of the family, as saved on disk: the recall family's record (name, folder, width, seed,
#: params, metadata), whose fields are the same.
ModaddMember = Member


def modadd_member_name(width: int, seed: int) -> str:
    """Folder and model name of a member.

    Example:
        >>> modadd_member_name(32, 0)
        'modadd-w32-s0'
    """
    return f"{FAMILY_NAME}-w{width}-s{seed}"


def _encode(recipe: ModaddRecipe, pairs: Sequence[tuple[int, int]]) -> tuple[Any, Any]:
    """``(input_ids, labels)`` of one line per pair, right-padded; labels -100 off the answer line."""
    import torch

    from lm_eval_mirage.zoo.tiny import char_tokenizer

    vocab = char_tokenizer().get_vocab()
    lines = [(modadd_data.modadd_prompt(a, b, recipe.modulus), f" {(a + b) % recipe.modulus}\n") for a, b in pairs]
    longest = max(len(p) + len(q) for p, q in lines)
    input_ids = torch.full((len(lines), longest), vocab["<pad>"], dtype=torch.long)
    labels = torch.full((len(lines), longest), -100, dtype=torch.long)
    for i, (prompt, answer) in enumerate(lines):
        ids = [vocab[ch] for ch in prompt + answer]
        input_ids[i, : len(ids)] = torch.tensor(ids)
        labels[i, len(prompt) : len(ids)] = torch.tensor(ids[len(prompt) :])
    return input_ids, labels


def modadd_batch_source(recipe: ModaddRecipe, seed: int) -> Callable[[], tuple[Any, Any]]:
    """A function returning the next training batch: ``recipe.batch_size`` training pairs drawn with
    replacement (a generator keyed by the recipe and the seed: every width sees the same stream)."""
    import torch

    train, _ = modadd_data.modadd_split(recipe.modulus, recipe.train_fraction, recipe.data_seed)
    all_inputs, all_labels = _encode(recipe, train)
    rng = random.Random(f"mirage-modadd-train|{recipe.fingerprint}|{seed}")
    draw = torch.Generator().manual_seed(rng.randrange(2**63))

    def next_batch() -> tuple[Any, Any]:
        index = torch.randint(0, len(train), (recipe.batch_size,), generator=draw)
        return all_inputs[index], all_labels[index]

    return next_batch


def _probe(recipe: ModaddRecipe) -> Callable[[Any], dict]:
    """Teacher-forced look at the test split during training (no gradients, no randomness): exact match of
    the greedy choice at every answer position and the mean per-token log-prob of the answer line."""
    import torch

    _, test = modadd_data.modadd_split(recipe.modulus, recipe.train_fraction, recipe.data_seed)
    ids, labels = _encode(recipe, test)
    target, mask = labels[:, 1:], labels[:, 1:] != -100

    def run(model: Any) -> dict:
        with torch.no_grad():
            logits = model(input_ids=ids).logits[:, :-1]
            logp = torch.log_softmax(logits, -1).gather(2, target.clamp(min=0)[..., None])[..., 0]
            greedy = ((logits.argmax(-1) == target) | ~mask).all(1).float().mean()
        return {
            "tf_exact_match": round(float(greedy), 5),
            "tf_per_token_logprob": round(float((logp * mask).sum() / mask.sum()), 5),
        }

    return run


def train_modadd_member(
    recipe: ModaddRecipe,
    width: int,
    *,
    seed: int = 0,
    threads: int = 1,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[Any, dict]:
    """Train one member (``n_embd = width``); returns ``(model, metadata)``. Deterministic for
    (recipe, width, seed, threads)."""
    import torch
    import transformers
    from transformers import GPT2LMHeadModel

    from lm_eval_mirage.zoo.tiny import char_tokenizer, tiny_gpt2_config

    if isinstance(width, bool) or not isinstance(width, int) or width < 1 or width % recipe.n_head:
        raise ValueError(f"width={width!r} must be a positive integer divisible by n_head={recipe.n_head}")
    start = time.perf_counter()
    with training_threads(threads):
        torch.manual_seed(seed)
        shape = {"n_layer": recipe.n_layer, "n_embd": width, "n_head": recipe.n_head, "n_positions": recipe.n_positions}
        model = GPT2LMHeadModel(tiny_gpt2_config(len(char_tokenizer()), **shape))
        loss_value, curve = run_training(
            model,
            modadd_batch_source(recipe, seed),
            steps=recipe.steps,
            lr=recipe.lr,
            betas=recipe.betas,
            weight_decay=recipe.weight_decay,
            warmup_steps=recipe.warmup_steps,
            decay="constant",
            on_step=on_step,
            probe=_probe(recipe) if recipe.probe_every else None,
            probe_every=recipe.probe_every,
        )
    metadata = {
        "family": FAMILY_NAME,
        "name": modadd_member_name(width, seed),
        "width": width,
        "seed": seed,
        "threads": threads,
        "params": sum(p.numel() for p in model.parameters()),
        "state_sha256": state_digest(model),
        "final_loss": loss_value,
        "training_curve": curve,
        "train_seconds": round(time.perf_counter() - start, 2),
        "recipe": recipe.to_dict(),
        "recipe_fingerprint": recipe.fingerprint,
        "task": TASK,
        "task_metadata": recipe.task_metadata(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cpu": cpu_signature(),
    }
    return model, metadata


def load_modadd_family(
    root: str | os.PathLike, *, recipe: ModaddRecipe | None = None, seeds: Iterable[int] | None = None
) -> list[ModaddMember]:
    """Members saved under ``root`` (``modadd-*`` folders), sorted by seed then width; only ``recipe``'s (by
    fingerprint) and ``seeds``' when given."""

    def make(folder: Path, meta: dict) -> ModaddMember:
        return ModaddMember(str(meta["name"]), folder, int(meta["width"]), int(meta["seed"]), int(meta["params"]), meta)

    return load_saved_members(root, FAMILY_NAME, make, recipe=recipe, seeds=seeds, order=lambda m: (m.seed, m.width))


def build_modadd_family(
    root: str | os.PathLike,
    *,
    recipe: ModaddRecipe = MODADD_RECIPE,
    seeds: Sequence[int] = (0,),
    threads: int = 1,
    jobs: int | None = None,
    progress: bool = True,
    retrain: bool = False,
) -> list[ModaddMember]:
    """Train (or reuse) every width of ``recipe`` for each seed under ``root``; returns the members.

    A member saved with the same recipe fingerprint, seed and thread count is reused unless ``retrain``.
    Members train in ``jobs`` processes (default: CPU cores // threads, widest first); each uses ``threads``
    torch threads, so the weights do not depend on ``jobs``.
    """
    return build_members(
        root,
        train=train_modadd_member,
        load=load_modadd_family,
        name=modadd_member_name,
        size_of=lambda m: m.width,
        sizes=recipe.widths,
        recipe=recipe,
        seeds=seeds,
        threads=threads,
        jobs=jobs,
        progress=progress,
        retrain=retrain,
        desc="training the modadd family",
    )
