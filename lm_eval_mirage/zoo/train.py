"""Train a tiny character-level GPT-2 on arithmetic prompts, on CPU, deterministically.

The result is a model that gets a useful fraction of problems right (neither all nor none), saved as a
Hugging Face folder like :func:`lm_eval_mirage.zoo.build_tiny_model`. Training text uses the tasks' prompt
format, ``"Q: What is 4 plus 7? A: 11\\n"``, several problems per sequence (as in 2-shot prompts), loss on every
character. Problems are drawn from ALL operand pairs, test problems included: this model exists to exercise
the metrics on a partly competent model, not to measure generalisation.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lm_eval_mirage.tasks.arithmetic import OPERATIONS

__all__ = ["arith_line", "train_tiny_arith"]


def arith_line(a: int, b: int, operation: str) -> str:
    """One problem in the tasks' prompt format, answer and newline included.

    Example:
        >>> arith_line(48, 76, "add")
        'Q: What is 48 plus 76? A: 124\\n'
        >>> arith_line(3, 5, "sub")
        'Q: What is 3 minus 5? A: -2\\n'
    """
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {sorted(OPERATIONS)}, got {operation!r}")
    answer = {"add": a + b, "sub": a - b, "mul": a * b}[operation]
    return f"Q: What is {a} {OPERATIONS[operation]} {b}? A: {answer}\n"


def _check_arguments(operation: str, **counts: int) -> None:
    """The operation is known and every count is an integer >= 1 (an error names the argument)."""
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {sorted(OPERATIONS)}, got {operation!r}")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _arith_batches(
    rng: random.Random, tokenizer: Any, operation: str, lo: int, hi: int, batch_size: int, problems_per_sequence: int
) -> Callable[[], tuple[Any, Any]]:
    """A function returning the next ``(input_ids, labels)``: ``batch_size`` sequences of
    ``problems_per_sequence`` problems with operands in ``[lo, hi)``, right-padded, loss on every character."""
    import torch

    def next_batch() -> tuple[Any, Any]:
        texts = [
            "".join(
                arith_line(rng.randrange(lo, hi), rng.randrange(lo, hi), operation)
                for _ in range(problems_per_sequence)
            )
            for _ in range(batch_size)
        ]
        ids = [tokenizer.encode(t) for t in texts]
        width = max(len(x) for x in ids)
        input_ids = torch.full((batch_size, width), tokenizer.pad_token_id, dtype=torch.long)
        labels = torch.full((batch_size, width), -100, dtype=torch.long)  # -100: no loss on padding
        for i, x in enumerate(ids):
            input_ids[i, : len(x)] = torch.tensor(x)
            labels[i, : len(x)] = torch.tensor(x)
        return input_ids, labels

    return next_batch


def train_tiny_arith(
    folder: str | Path,
    *,
    operation: str = "add",
    digits: int = 1,
    steps: int = 250,
    batch_size: int = 16,
    problems_per_sequence: int = 3,
    lr: float = 3e-3,
    max_seconds: float | None = None,
    seed: int = 0,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 2,
    num_threads: int | None = 1,
) -> Path:
    """Train a tiny GPT-2 with the character tokenizer on ``digits``-digit ``operation`` problems; save it.

    Args:
        folder: where to save the model and tokenizer (created if needed).
        operation: ``add``, ``sub`` or ``mul``.
        digits: operand size; operands are drawn uniformly from ``[10**(digits-1), 10**digits)``
            (``[0, 10)`` for one digit), as in the tasks' ``exact`` mode.
        steps: optimiser steps (AdamW, linear warm-up over the first 10%, then constant).
        batch_size: sequences per step.
        problems_per_sequence: problems concatenated per training sequence.
        lr: peak learning rate.
        max_seconds: stop early after this much wall time (the result then depends on machine speed).
        seed: seeds the initialisation and the data order; same seed, steps and threads give the same model.
        n_layer, n_embd, n_head: model size.
        num_threads: ``torch.set_num_threads`` during training (restored afterwards); ``None`` leaves it.

    Returns:
        The folder, ready for ``--model hf --model_args pretrained=FOLDER``.
    """
    import torch
    from transformers import GPT2LMHeadModel

    from lm_eval_mirage.zoo.tiny import build_tiny_model, char_tokenizer, tiny_gpt2_config

    counts = {
        "digits": digits,
        "steps": steps,
        "batch_size": batch_size,
        "problems_per_sequence": problems_per_sequence,
    }
    _check_arguments(operation, **counts)

    lo, hi = (0, 10) if digits == 1 else (10 ** (digits - 1), 10**digits)
    tokenizer = char_tokenizer()
    rng = random.Random(f"train_tiny_arith|{operation}|{digits}|{seed}")
    saved_threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        torch.manual_seed(seed)
        max_chars = problems_per_sequence * len(arith_line(hi - 1, hi - 1, operation)) + 8
        config = tiny_gpt2_config(
            len(tokenizer), n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=max(256, max_chars)
        )
        model = GPT2LMHeadModel(config)
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        warmup = max(1, steps // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup))
        next_batch = _arith_batches(rng, tokenizer, operation, lo, hi, batch_size, problems_per_sequence)
        start = time.monotonic()
        for _ in range(steps):
            input_ids, labels = next_batch()
            loss = model(input_ids=input_ids, labels=labels).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                break
        model.eval()
    finally:
        torch.set_num_threads(saved_threads)
    return build_tiny_model(folder, model=model)
