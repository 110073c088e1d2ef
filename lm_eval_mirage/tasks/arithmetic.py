"""Procedurally generated arithmetic problems, deterministic from a seed.

Randomness comes from SHA-256 of a text key (seed, task, split, index), so the same arguments give the same
problems in every process, on every machine, under every Python version and ``PYTHONHASHSEED``. Numbers are
kept as decimal strings: a 10-digit product has 20 digits, beyond int64.

Two operand modes:

- ``exact``: both operands have exactly ``digits`` digits (``[10**(n-1), 10**n)``; ``[0, 10)`` for n = 1).
- ``range``: operands uniform in ``[0, 10**n)``, the setting of Schaeffer et al. (2-digit multiplication,
  4-digit addition), so answers of several lengths occur and results can be split by answer length.

Each task has two disjoint splits: ``train`` (the few-shot pool) and ``test`` (the problems scored). Problems
within a split are distinct. When fewer distinct problems exist than asked for (1-digit tasks have 100), the
test split holds every problem outside the few-shot pool once and :func:`generate` reports it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "DATA_VERSION",
    "OPERATIONS",
    "MODES",
    "DEFAULT_NUM_PROBLEMS",
    "DEFAULT_SEED",
    "FEWSHOT_POOL_SIZE",
    "ArithSpec",
    "Problem",
    "generate",
    "validate_spec",
]

#: Bump when generated problems change for the same arguments (also the tasks' ``metadata.data_version``).
DATA_VERSION = 1
DEFAULT_NUM_PROBLEMS = 2000
DEFAULT_SEED = 1234
FEWSHOT_POOL_SIZE = 50
MODES = ("exact", "range")
#: operation -> word used in the GPT-3 style prompt
OPERATIONS = {"add": "plus", "sub": "minus", "mul": "times"}


@dataclass(frozen=True)
class ArithSpec:
    """What a task asks for: operation, operand size, mode, test-set size and seed."""

    operation: str
    digits: int
    mode: str = "exact"
    num_problems: int = DEFAULT_NUM_PROBLEMS
    seed: int = DEFAULT_SEED

    @property
    def bounds(self) -> tuple[int, int]:
        """Half-open operand range ``[lo, hi)``."""
        if self.mode == "range" or self.digits == 1:
            return 0, 10**self.digits
        return 10 ** (self.digits - 1), 10**self.digits

    @property
    def space(self) -> int:
        """Number of distinct (a, b) problems."""
        lo, hi = self.bounds
        return (hi - lo) ** 2

    @property
    def key(self) -> str:
        return f"mirage-arith|v{DATA_VERSION}|{self.seed}|{self.operation}|{self.mode}|{self.digits}"


@dataclass(frozen=True)
class Problem:
    a: int
    b: int
    operation: str

    @property
    def answer(self) -> int:
        if self.operation == "add":
            return self.a + self.b
        if self.operation == "sub":
            return self.a - self.b
        return self.a * self.b

    def as_doc(self, index: int) -> dict:
        answer = self.answer
        return {
            "id": index,
            "a": str(self.a),
            "b": str(self.b),
            "op": self.operation,
            "op_word": OPERATIONS[self.operation],
            "answer": str(answer),
            "answer_digits": len(str(abs(answer))),
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_spec(operation: object, digits: object, mode: object = "exact", num_problems: object = DEFAULT_NUM_PROBLEMS, seed: object = DEFAULT_SEED) -> ArithSpec:
    """Check the parameters at the boundary and return a spec; errors name the parameter and what is accepted.

    Integers given as strings (``"42"``, as JSON metadata can deliver them) are accepted.

    Example:
        >>> validate_spec("add", 2).space
        8100
        >>> validate_spec("div", 2)
        Traceback (most recent call last):
        ...
        ValueError: operation='div' is not supported; accepted: 'add', 'sub', 'mul'
    """

    def as_int(name: str, value: object, minimum: int | None) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value.strip())
        if not _is_int(value):
            raise ValueError(f"{name}={value!r} must be an integer" + (f" >= {minimum}" if minimum is not None else ""))
        if minimum is not None and value < minimum:
            raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
        return int(value)

    if operation not in OPERATIONS:
        accepted = ", ".join(repr(op) for op in OPERATIONS)
        raise ValueError(f"operation={operation!r} is not supported; accepted: {accepted}")
    if mode not in MODES:
        raise ValueError(f"mode={mode!r} is not supported; accepted: {', '.join(map(repr, MODES))}")
    return ArithSpec(
        operation=str(operation),
        digits=as_int("digits", digits, 1),
        mode=str(mode),
        num_problems=as_int("num_problems", num_problems, 1),
        seed=as_int("seed", seed, None),
    )


def _draws(key: str, lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """An endless deterministic stream of operand pairs uniform in ``[lo, hi)**2``."""
    width = hi - lo
    index = 0
    while True:
        digest = hashlib.sha256(f"{key}|{index}".encode()).digest()
        yield lo + int.from_bytes(digest[:16], "big") % width, lo + int.from_bytes(digest[16:], "big") % width
        index += 1


def _all_pairs_shuffled(key: str, lo: int, hi: int) -> list[tuple[int, int]]:
    """Every pair once, in a deterministic pseudo-random order (a uniform sample without replacement)."""
    pairs = [(a, b) for a in range(lo, hi) for b in range(lo, hi)]
    pairs.sort(key=lambda p: hashlib.sha256(f"{key}|perm|{p[0]}|{p[1]}".encode()).digest())
    return pairs


def _sample(key: str, lo: int, hi: int, count: int, exclude: set[tuple[int, int]]) -> list[tuple[int, int]]:
    available = (hi - lo) ** 2 - len(exclude)
    if count * 2 >= available:  # dense: enumerate rather than reject
        return [p for p in _all_pairs_shuffled(key, lo, hi) if p not in exclude][:count]
    chosen: dict[tuple[int, int], None] = {}
    for pair in _draws(key, lo, hi):
        if pair not in exclude and pair not in chosen:
            chosen[pair] = None
            if len(chosen) == count:
                return list(chosen)
    raise AssertionError("unreachable")  # pragma: no cover


def generate(spec: ArithSpec) -> dict[str, list[dict]]:
    """Return ``{"train": docs, "test": docs}`` for a spec; the splits are disjoint.

    The few-shot pool has ``min(50, space // 10)`` problems; the test split ``min(num_problems, space - pool)``.

    Example:
        >>> docs = generate(validate_spec("mul", 2, num_problems=3, seed=0))
        >>> [d["a"] + " x " + d["b"] + " = " + d["answer"] for d in docs["test"]]
        ['37 x 89 = 3293', '82 x 65 = 5330', '52 x 39 = 2028']
        >>> len(docs["train"])
        50
    """
    lo, hi = spec.bounds
    pool_size = min(FEWSHOT_POOL_SIZE, spec.space // 10)
    train = _sample(spec.key + "|train", lo, hi, pool_size, set())
    test = _sample(spec.key + "|test", lo, hi, min(spec.num_problems, spec.space - pool_size), set(train))
    return {
        "train": [Problem(a, b, spec.operation).as_doc(i) for i, (a, b) in enumerate(train)],
        "test": [Problem(a, b, spec.operation).as_doc(i) for i, (a, b) in enumerate(test)],
    }
