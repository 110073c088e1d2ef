"""Data of the control task ``mirage_control_carry``: addition whose answer hangs on one long carry chain.

Each problem adds two ``digits``-digit numbers built around a carry chain of length L (``min_chain`` to
``max_chain``) at a random place: at the chain's bottom digit position the two digits either GENERATE a carry
(sum >= 10) or KILL it (sum <= 8), with equal probability; at the L - 1 positions above it the digits
PROPAGATE (sum exactly 9); the position just above the chain does not propagate (so the chain has exactly
length L); the leading digits sum to at most 8 (no overflow: every answer has ``digits`` digits, and output
digit i lines up with operand digit i); every other position is random. Example (6 digits, L = 4)::

    Q: What is 111542 plus 228453? A: 339995      (2 + 3 kills the carry: the three 9-sums above stay 9)
    Q: What is 111547 plus 228453? A: 340000      (7 + 3 carries: one bit changes the last five digits)

Written most significant digit first, the chain's digits (0s or 9s) and the digit above them depend on one
bit, decided at the chain's bottom, up to L - 1 positions away. A model that gets that bit wrong gets all of
those digits wrong together, so its token edit distance moves with its exact match; unlike the memorisation
task (:mod:`lm_eval_mirage.tasks.demo_data`), whose digits are learned independently (a mirage). It was built
as a candidate control for a REAL transition (``lm_eval_mirage.zoo.carry``; what it measured: docs/control.md).

Problems come from :class:`random.Random` seeded with a text key (SHA-512 of the string, the same in every
process and under every ``PYTHONHASHSEED``). The test split (the problems scored) and the few-shot pool are
drawn from separate keys; the training stream of the control family uses its own keys and skips every test
problem (:func:`held_out_keys`).
"""

from __future__ import annotations

import random
from functools import cache, lru_cache
from typing import Any

from lm_eval_mirage.tasks.demo_data import _as_int

__all__ = [
    "CARRY_DATA_VERSION",
    "DEFAULT_DIGITS",
    "DEFAULT_MIN_CHAIN",
    "DEFAULT_MAX_CHAIN",
    "DEFAULT_NUM_PROBLEMS",
    "DEFAULT_SEED",
    "CarrySpec",
    "carry_prompt",
    "carry_problem",
    "chain_length",
    "carry_docs",
    "held_out_keys",
    "load_carry",
    "load_carry_ll",
]

#: Bump when the problems change for the same arguments (also the tasks' ``metadata.data_version``).
CARRY_DATA_VERSION = 1
DEFAULT_DIGITS = 6
DEFAULT_MIN_CHAIN = 3
DEFAULT_MAX_CHAIN = 5
DEFAULT_NUM_PROBLEMS = 500
DEFAULT_SEED = 2024
_FEWSHOT_POOL = 50


class CarrySpec:
    """Validated arguments of the generator (integers given as strings are accepted: harness metadata).

    Example:
        >>> CarrySpec(6, 3, 5).key
        'd6-c3-5'
        >>> CarrySpec(4, 4, 4)
        Traceback (most recent call last):
        ...
        ValueError: max_chain=4 must be <= digits - 1 = 3 (the top position never carries)
    """

    __slots__ = ("digits", "min_chain", "max_chain")

    def __init__(
        self, digits: Any = DEFAULT_DIGITS, min_chain: Any = DEFAULT_MIN_CHAIN, max_chain: Any = DEFAULT_MAX_CHAIN
    ) -> None:
        self.digits = _as_int("digits", digits, 2)
        self.min_chain = _as_int("min_chain", min_chain, 1)
        self.max_chain = _as_int("max_chain", max_chain, self.min_chain)
        if self.max_chain > self.digits - 1:
            raise ValueError(
                f"max_chain={self.max_chain} must be <= digits - 1 = {self.digits - 1} (the top position never carries)"
            )

    @property
    def key(self) -> str:
        return f"d{self.digits}-c{self.min_chain}-{self.max_chain}"


def carry_prompt(a: str, b: str) -> str:
    """The question, exactly as the task YAML renders it (``doc_to_text``).

    Example:
        >>> carry_prompt("111542", "228453")
        'Q: What is 111542 plus 228453? A:'
    """
    return f"Q: What is {a} plus {b}? A:"


@cache
def _pairs(lo_sum: int, hi_sum: int, nonzero: bool) -> tuple[tuple[int, int], ...]:
    low = 1 if nonzero else 0
    return tuple((x, y) for x in range(low, 10) for y in range(low, 10) if lo_sum <= x + y <= hi_sum)


def _pair(rng: random.Random, lo_sum: int, hi_sum: int, nonzero: bool) -> tuple[int, int]:
    pairs = _pairs(lo_sum, hi_sum, nonzero)
    return pairs[rng.randrange(len(pairs))]


def carry_problem(rng: random.Random, spec: CarrySpec) -> tuple[str, str]:
    """Two ``spec.digits``-digit operands (as strings) around one carry chain; see the module docstring.

    The leading digits sum to at most 8, so the answer has exactly ``digits`` digits (output digit i lines
    up with operand digit i) and chains stay below the top position.

    Example:
        >>> a, b = carry_problem(random.Random(0), CarrySpec(6, 3, 5))
        >>> len(a), len(b), len(str(int(a) + int(b))), chain_length(a, b) >= 3
        (6, 6, 6, True)
    """
    d = spec.digits
    length = rng.randint(spec.min_chain, spec.max_chain)
    bottom = rng.randint(0, d - 1 - length)  # position of the deciding digit pair (0 = least significant)
    generate = rng.random() < 0.5
    a, b = [0] * d, [0] * d
    for pos in range(d):
        if pos == d - 1:
            a[pos], b[pos] = _pair(rng, 2, 8, True)
        elif pos == bottom:
            a[pos], b[pos] = _pair(rng, 10, 18, False) if generate else _pair(rng, 0, 8, False)
        elif bottom < pos < bottom + length:
            a[pos], b[pos] = _pair(rng, 9, 9, False)
        elif pos == bottom + length:
            a[pos], b[pos] = _pair(rng, 10, 18, False) if rng.random() < 0.5 else _pair(rng, 0, 8, False)
        else:
            a[pos], b[pos] = _pair(rng, 0, 18, False)
    return "".join(map(str, reversed(a))), "".join(map(str, reversed(b)))


def chain_length(a: str, b: str) -> int:
    """Length of the longest carry chain (a deciding position plus the propagating ones above it).

    Example:
        >>> chain_length("4999", "5000")   # every position sums to 9: nothing decides, no chain
        0
        >>> chain_length("111542", "228453"), chain_length("111547", "228453")
        (4, 4)
    """
    best, run = 0, 0
    for x, y in zip(reversed(a), reversed(b)):
        s = int(x) + int(y)
        if s == 9:
            run = run + 1 if run else 0
        else:
            run = 1
        best = max(best, run)
    return best if best > 1 else 0


def _doc(index: int, a: str, b: str) -> dict:
    answer = str(int(a) + int(b))
    return {
        "id": index,
        "a": a,
        "b": b,
        "op": "add",
        "op_word": "plus",
        "answer": answer,
        "answer_digits": len(answer),
        "chain": chain_length(a, b),
    }


@lru_cache(maxsize=16)
def _docs(spec_key: tuple[int, int, int], num_problems: int, seed: int) -> tuple[tuple[dict, ...], tuple[dict, ...]]:
    spec = CarrySpec(*spec_key)
    seen: set[tuple[str, str]] = set()
    out: list[list[dict]] = []
    for split, count in (("test", num_problems), ("train", _FEWSHOT_POOL)):
        rng = random.Random(f"mirage-carry|{CARRY_DATA_VERSION}|{spec.key}|{seed}|{split}")
        rows: list[dict] = []
        while len(rows) < count:
            pair = carry_problem(rng, spec)
            if pair in seen:
                continue
            seen.add(pair)
            rows.append(_doc(len(rows), *pair))
        out.append(rows)
    return tuple(out[0]), tuple(out[1])


def carry_docs(
    digits: Any = DEFAULT_DIGITS,
    min_chain: Any = DEFAULT_MIN_CHAIN,
    max_chain: Any = DEFAULT_MAX_CHAIN,
    num_problems: Any = DEFAULT_NUM_PROBLEMS,
    seed: Any = DEFAULT_SEED,
) -> dict[str, list[dict]]:
    """The ``test`` split (``num_problems`` distinct problems) and the ``train`` few-shot pool (50, disjoint).

    Example:
        >>> docs = carry_docs(num_problems=3)
        >>> [len(docs["test"]), len(docs["train"])], docs["test"][0]["chain"] >= 4
        ([3, 50], True)
    """
    spec = CarrySpec(digits, min_chain, max_chain)
    test, train = _docs(
        (spec.digits, spec.min_chain, spec.max_chain),
        _as_int("num_problems", num_problems, 1),
        _as_int("seed", seed, 0),
    )
    return {"test": [dict(r) for r in test], "train": [dict(r) for r in train]}


def held_out_keys(**kwargs: Any) -> frozenset[tuple[str, str]]:
    """``(a, b)`` of every problem of :func:`carry_docs` (both splits): what training must never show."""
    docs = carry_docs(**kwargs)
    return frozenset((r["a"], r["b"]) for split in docs.values() for r in split)


def load_carry(
    digits: Any = DEFAULT_DIGITS,
    min_chain: Any = DEFAULT_MIN_CHAIN,
    max_chain: Any = DEFAULT_MAX_CHAIN,
    num_problems: Any = DEFAULT_NUM_PROBLEMS,
    seed: Any = DEFAULT_SEED,
    **kwargs: Any,
) -> dict:
    """``custom_dataset`` of ``mirage_control_carry``: the harness passes the task's ``metadata`` and the
    ``--model_args``; keys other than these are ignored."""
    import datasets

    docs = carry_docs(digits, min_chain, max_chain, num_problems, seed)
    return {split: datasets.Dataset.from_list(rows) for split, rows in docs.items()}


def load_carry_ll(**kwargs: Any) -> dict:
    """``custom_dataset`` of ``mirage_control_carry_ll``: the same docs as :func:`load_carry`.

    Like :func:`lm_eval_mirage.tasks.likelihood.load_arith_ll`, it remembers which tokenizer the model
    arguments name, for counting target tokens when the backend does not report them (stock ``hf``).
    """
    from lm_eval_mirage.tasks import likelihood

    likelihood._model_args.clear()
    likelihood._model_args.update(
        {k: kwargs[k] for k in ("tokenizer", "pretrained", "revision", "trust_remote_code") if k in kwargs}
    )
    return load_carry(**kwargs)
