"""Data of the control task ``mirage_control_modadd``: addition modulo a small prime, on held-out pairs.

All ``modulus ** 2`` ordered pairs ``(a, b)`` with ``0 <= a, b < modulus`` are shuffled once by a keyed
:class:`random.Random` (the key is a text: the same order in every process and under every
``PYTHONHASHSEED``); the first ``train_fraction`` of them are the TRAINING pairs (the only ones the control
family of :mod:`lm_eval_mirage.zoo.modadd` ever sees, also the few-shot pool), the rest are the ``test``
split the task scores. The prompt is short on purpose (training cost grows with its length)::

    Q: 12+25 mod 31? A: 6

Why this task: the answer to an unseen pair cannot be looked up; a model either has the algorithm (for
modular addition, tiny transformers learn a Fourier-feature circuit: Nanda et al. 2023, "Progress measures
for grokking") or it knows only the answers' format and their overall frequencies. Partial credit is scarce
(a wrong answer is a wrong number, not a nearly right one), so when a family of models crosses from the
second kind to the first, exact match, token edit distance and per-token log-probability all jump together:
a transition that no choice of metric removes, the opposite of the recall family's mirage. Measured:
docs/control.md.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Any

from lm_eval_mirage.tasks.demo_data import _as_int

__all__ = [
    "MODADD_DATA_VERSION",
    "DEFAULT_MODULUS",
    "DEFAULT_TRAIN_FRACTION",
    "DEFAULT_SEED",
    "modadd_prompt",
    "modadd_split",
    "modadd_docs",
    "load_modadd",
    "load_modadd_ll",
]

#: Bump when the problems change for the same arguments (also the tasks' ``metadata.data_version``).
MODADD_DATA_VERSION = 1
DEFAULT_MODULUS = 31
DEFAULT_TRAIN_FRACTION = 0.5
DEFAULT_SEED = 2025
_MAX_MODULUS = 1000


def modadd_prompt(a: int, b: int, modulus: int) -> str:
    """The question, exactly as the task YAML renders it (``doc_to_text``).

    Example:
        >>> modadd_prompt(12, 25, 31)
        'Q: 12+25 mod 31? A:'
    """
    return f"Q: {a}+{b} mod {modulus}? A:"


def _fraction(value: Any) -> float:
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"train_fraction={value!r} must be a number in (0, 1)") from None
    if isinstance(value, bool) or not 0.0 < f < 1.0:
        raise ValueError(f"train_fraction={value!r} must be a number in (0, 1)")
    return f


@lru_cache(maxsize=16)
def _split(
    modulus: int, train_fraction: float, seed: int
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    pairs = [(a, b) for a in range(modulus) for b in range(modulus)]
    random.Random(f"mirage-modadd|{MODADD_DATA_VERSION}|{modulus}|{seed}").shuffle(pairs)
    cut = round(train_fraction * len(pairs))
    if not 0 < cut < len(pairs):
        raise ValueError(f"train_fraction={train_fraction} of {len(pairs)} pairs leaves an empty split")
    return tuple(pairs[:cut]), tuple(pairs[cut:])


def modadd_split(
    modulus: Any = DEFAULT_MODULUS, train_fraction: Any = DEFAULT_TRAIN_FRACTION, seed: Any = DEFAULT_SEED
) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """``(training pairs, test pairs)``: a keyed shuffle of all ``modulus ** 2`` pairs, cut at ``train_fraction``.

    Integers given as strings are accepted (harness ``--metadata``).

    Example:
        >>> train, test = modadd_split(31, 0.5)
        >>> len(train), len(test), set(train).isdisjoint(test)
        (480, 481, True)
        >>> modadd_split(1)
        Traceback (most recent call last):
        ...
        ValueError: modulus=1 must be an integer >= 2
    """
    m = _as_int("modulus", modulus, 2)
    if m > _MAX_MODULUS:
        raise ValueError(f"modulus={m} must be <= {_MAX_MODULUS}")
    return _split(m, _fraction(train_fraction), _as_int("seed", seed, 0))


def _doc(index: int, a: int, b: int, modulus: int) -> dict:
    answer = str((a + b) % modulus)
    return {
        "id": index,
        "a": a,
        "b": b,
        "modulus": modulus,
        "op": "add",
        "answer": answer,
        "answer_digits": len(answer),
    }


def modadd_docs(
    modulus: Any = DEFAULT_MODULUS,
    train_fraction: Any = DEFAULT_TRAIN_FRACTION,
    seed: Any = DEFAULT_SEED,
    num_problems: Any = None,
) -> dict[str, list[dict]]:
    """The ``test`` split (held-out pairs, the first ``num_problems`` of them; default all) and the ``train``
    split (the training pairs: the few-shot pool).

    Example:
        >>> docs = modadd_docs(num_problems=3)
        >>> len(docs["test"]), len(docs["train"]), sorted(docs["test"][0])
        (3, 480, ['a', 'answer', 'answer_digits', 'b', 'id', 'modulus', 'op'])
    """
    train, test = modadd_split(modulus, train_fraction, seed)
    m = _as_int("modulus", modulus, 2)
    if num_problems is not None:
        test = test[: _as_int("num_problems", num_problems, 1)]
    return {
        "test": [_doc(i, a, b, m) for i, (a, b) in enumerate(test)],
        "train": [_doc(i, a, b, m) for i, (a, b) in enumerate(train)],
    }


def load_modadd(
    modulus: Any = DEFAULT_MODULUS,
    train_fraction: Any = DEFAULT_TRAIN_FRACTION,
    seed: Any = DEFAULT_SEED,
    num_problems: Any = None,
    **kwargs: Any,
) -> dict:
    """``custom_dataset`` of ``mirage_control_modadd``: the harness passes the task's ``metadata`` and the
    ``--model_args``; keys other than these are ignored."""
    import datasets

    docs = modadd_docs(modulus, train_fraction, seed, num_problems)
    return {split: datasets.Dataset.from_list(rows) for split, rows in docs.items()}


def load_modadd_ll(**kwargs: Any) -> dict:
    """``custom_dataset`` of ``mirage_control_modadd_ll``: the same docs as :func:`load_modadd` (and, as
    :func:`lm_eval_mirage.tasks.carry_data.load_carry_ll`, it remembers the tokenizer the model arguments name)."""
    from lm_eval_mirage.tasks import likelihood

    likelihood._model_args.clear()
    likelihood._model_args.update(
        {k: kwargs[k] for k in ("tokenizer", "pretrained", "revision", "trust_remote_code") if k in kwargs}
    )
    return load_modadd(**kwargs)
