"""The one training loop of the package's trained families (recall, carry, modadd), its thread guard and pool.

Every family trains a tiny GPT-2 the same way: draw a batch, one AdamW step, one scheduler step, report the
loss; optionally probe the model every few steps and hand it to a callback. Keeping that loop in one place
keeps the families' weights comparable, and deterministic for a seed and thread count (bit-identical:
``torch.set_num_threads`` is fixed during training, see :func:`training_threads`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from lm_eval_mirage.zoo.checkpoints import save_member

M = TypeVar("M")

__all__ = [
    "training_threads",
    "warmup_schedule",
    "init_fan_in",
    "run_training",
    "train_in_pool",
    "still_to_train",
    "cpu_signature",
    "train_and_save",
    "build_members",
    "RecipeRecord",
]


@contextlib.contextmanager
def training_threads(threads: int) -> Iterator[None]:
    """Use ``threads`` torch threads and quiet transformers' notices for the block; restore both after."""
    import torch
    from transformers.utils import logging as hf_logging

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads={threads!r} must be an integer >= 1")
    saved_threads, saved_verbosity = torch.get_num_threads(), hf_logging.get_verbosity()
    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()  # config notices per member would bury the progress bar
    try:
        yield
    finally:
        torch.set_num_threads(saved_threads)
        hf_logging.set_verbosity(saved_verbosity)


def warmup_schedule(steps: int, warmup_steps: int, decay: str = "cosine") -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up over ``warmup_steps``, then ``cosine`` decay to 0 at
    ``steps`` or ``constant``.

    Example:
        >>> f = warmup_schedule(100, 10)
        >>> round(f(0), 3), round(f(9), 3), round(f(50), 3), round(f(100), 3)
        (0.1, 0.98, 0.5, 0.0)
        >>> warmup_schedule(100, 10, "constant")(50)
        1.0
    """
    if decay not in ("cosine", "constant"):
        raise ValueError(f"decay={decay!r} must be 'cosine' or 'constant'")

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
        if decay == "constant":
            return warm
        return warm * 0.5 * (1.0 + math.cos(math.pi * min(step, steps) / steps))

    return factor


def init_fan_in(model: Any, width: int) -> None:
    """Draw every weight matrix of ``model`` from ``N(0, 1/width)`` (fan-in scale), in place.

    With GPT-2's fixed 0.02 the tiny widths of the recall and carry families barely started learning.
    """
    import torch

    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0.0, 1.0 / math.sqrt(width))


def run_training(
    model: Any,
    next_batch: Callable[[], tuple[Any, Any]],
    *,
    steps: int,
    lr: float,
    betas: tuple[float, float],
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
    decay: str = "cosine",
    on_step: Callable[[int, float], None] | None = None,
    on_model: Callable[[int, Any], None] | None = None,
    probe: Callable[[Any], dict] | None = None,
    probe_every: int = 0,
) -> tuple[float, list[dict]]:
    """Train ``model`` in place for ``steps`` AdamW steps on ``next_batch()`` = ``(input_ids, labels)``.

    Returns ``(last loss, curve)``: ``curve`` holds ``{"step", "loss", **probe(model)}`` every
    ``probe_every`` steps (a probe must not change the model or draw random numbers). ``on_step(step, loss)``
    is called after each step (progress bars), ``on_model(step, model)`` after it and the probe (saving
    checkpoints along training). The model is left in eval mode.
    """
    import torch

    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=betas, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, warmup_schedule(steps, warmup_steps, decay))
    curve: list[dict] = []
    loss_value = math.nan
    for step in range(steps):
        input_ids, labels = next_batch()
        loss = model(input_ids=input_ids, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss_value = loss.item()
        if on_step is not None:
            on_step(step + 1, loss_value)
        if probe is not None and probe_every and (step + 1) % probe_every == 0:
            curve.append({"step": step + 1, "loss": round(loss_value, 5), **probe(model)})
        if on_model is not None:
            on_model(step + 1, model)
    model.eval()
    return loss_value, curve


def train_in_pool(
    work: Sequence[tuple[Callable[..., str], tuple]],
    *,
    jobs: int | None,
    threads: int,
    desc: str,
    progress: bool = True,
) -> list[str]:
    """Run ``fn(*args)`` for each ``(fn, args)`` of ``work`` (each trains and saves one member and returns
    its name), in ``jobs`` spawned processes (default: CPU cores // threads), in order when ``jobs`` is 1.
    Each member uses ``threads`` torch threads, so the weights do not depend on ``jobs``. Returns the names
    in the order they finished."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm.auto import tqdm

    if not work:
        return []
    jobs = max(1, min(len(work), jobs if jobs is not None else (os.cpu_count() or 1) // threads))
    names: list[str] = []
    bar = tqdm(
        total=len(work), desc=f"{desc} ({jobs} process{'es' if jobs > 1 else ''})", unit="model", disable=not progress
    )
    try:
        if jobs == 1:
            for fn, args in work:
                names.append(fn(*args))
                bar.set_postfix_str(names[-1])
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
                for done in as_completed([pool.submit(fn, *args) for fn, args in work]):
                    names.append(done.result())
                    bar.set_postfix_str(names[-1])
                    bar.update(1)
    finally:
        bar.close()
    return names


def still_to_train(
    existing: dict[tuple[int, int], Any], sizes: Sequence[int], seeds: Sequence[int], *, threads: int, retrain: bool
) -> list[tuple[int, int]]:
    """``(size, seed)`` pairs to train: those not saved, saved with another thread count, or all (``retrain``);
    largest first (they take longest, so a process pool ends together).

    Example:
        >>> class M: metadata = {"threads": 1}
        >>> still_to_train({(8, 0): M()}, [8, 16], [0], threads=1, retrain=False)
        [(16, 0)]
        >>> still_to_train({(8, 0): M()}, [8, 16], [0], threads=2, retrain=False)
        [(16, 0), (8, 0)]
    """
    todo = [
        (z, s)
        for s in seeds
        for z in sizes
        if retrain or (z, s) not in existing or existing[(z, s)].metadata.get("threads") != threads
    ]
    return sorted(todo, key=lambda zs: (-zs[0], zs[1]))


def cpu_signature() -> str:
    """The CPU kind training ran on: model name and a hash of the instruction-set flags (Linux), else the
    platform's processor string. Float kernels differ between CPU kinds, so bit-identical retraining is
    promised for the same seed, thread count and CPU signature."""
    import hashlib
    import platform

    try:
        info = Path("/proc/cpuinfo").read_text(errors="replace").splitlines()
    except OSError:
        info = []
    model = (
        next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
        or platform.processor()
        or platform.machine()
    )
    flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    return f"{model} | flags {hashlib.sha256(' '.join(sorted(flags)).encode()).hexdigest()[:12]}" if flags else model


def train_and_save(
    train: Callable[..., tuple[Any, dict]], recipe: Any, size: int, seed: int, threads: int, folder: str
) -> str:
    """Train one member with ``train(recipe, size, seed=, threads=)`` and save it to ``folder``; its name.
    (Module level, so a spawned worker process can run it.)"""
    model, meta = train(recipe, size, seed=seed, threads=threads)
    save_member(model, folder, meta)
    return meta["name"]


def build_members(
    root: str | os.PathLike,
    *,
    train: Callable[..., tuple[Any, dict]],
    load: Callable[..., list[M]],
    name: Callable[[int, int], str],
    size_of: Callable[[M], int],
    sizes: Sequence[int],
    recipe: Any,
    seeds: Sequence[int],
    threads: int,
    jobs: int | None,
    progress: bool,
    retrain: bool,
    desc: str,
) -> list[M]:
    """Train (or reuse) every size of a family for each seed under ``root``; the members of ``sizes``.

    A member saved with the same recipe fingerprint, seed and thread count is reused unless ``retrain``
    (:func:`still_to_train`); the rest train in :func:`train_in_pool`.
    """
    root = Path(root)
    existing = {(size_of(m), m.seed): m for m in load(root, recipe=recipe)}
    todo = still_to_train(existing, sizes, seeds, threads=threads, retrain=retrain)
    work = [(train_and_save, (train, recipe, z, s, threads, str(root / name(z, s)))) for z, s in todo]
    train_in_pool(work, jobs=jobs, threads=threads, desc=desc, progress=progress)
    return [m for m in load(root, recipe=recipe, seeds=seeds) if size_of(m) in sizes]


class RecipeRecord:
    """What every family's recipe dataclass shares: its fields as JSON (``to_dict``) and a short hash of
    them (``fingerprint``): members trained by different recipes never share a cache folder."""

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}  # type: ignore[call-overload]

    @property
    def fingerprint(self) -> str:
        """Short hash of the recipe: members trained by different recipes never share a cache folder."""
        import hashlib

        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
