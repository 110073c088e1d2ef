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

Both splits are read off one keyed pseudo-random permutation of all ``space`` problems (a Feistel network
over SHA-256 with cycle walking, so it costs O(1) per problem whatever the space): the few-shot pool is its
first ``pool`` entries and the test split the entries after them, in order. The order depends on the task and
the seed only, never on ``num_problems``, so the splits are prefix-stable: the first n test problems of a
larger set are exactly the smaller set (a researcher who raises the resolution keeps what was scored).
"""

from __future__ import annotations

import hashlib
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
DATA_VERSION = 2
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


def validate_spec(
    operation: object,
    digits: object,
    mode: object = "exact",
    num_problems: object = DEFAULT_NUM_PROBLEMS,
    seed: object = DEFAULT_SEED,
) -> ArithSpec:
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


#: Feistel rounds; four rounds of a pseudo-random function give a strong pseudo-random permutation
#: (Luby and Rackoff 1988).
_ROUNDS = 4


def _permuted(key: str, size: int, index: int) -> int:
    """Entry ``index`` of a keyed pseudo-random permutation of ``range(size)`` (``0 <= index < size``).

    A balanced Feistel network on ``2 * half`` bits (``4 ** half >= size``) is a bijection of that domain;
    re-applying it until the value falls below ``size`` (cycle walking) restricts it to a bijection of
    ``range(size)``, with fewer than four applications expected.

    Example:
        >>> sorted(_permuted("k", 10, i) for i in range(10)) == list(range(10))
        True
    """
    half = max(1, ((size - 1).bit_length() + 1) // 2)
    mask = (1 << half) - 1
    x = index
    while True:
        left, right = x >> half, x & mask
        for r in range(_ROUNDS):
            digest = hashlib.sha256(f"{key}|{r}|{right}".encode()).digest()
            left, right = right, left ^ (int.from_bytes(digest[:16], "big") & mask)
        x = (left << half) | right
        if x < size:
            return x


def _pairs(key: str, lo: int, hi: int, start: int, stop: int) -> list[tuple[int, int]]:
    """Entries ``start .. stop - 1`` of the task's permutation of all pairs in ``[lo, hi)**2``."""
    width = hi - lo
    out = []
    for i in range(start, stop):
        q = _permuted(key, width * width, i)
        out.append((lo + q // width, lo + q % width))
    return out


def generate(spec: ArithSpec) -> dict[str, list[dict]]:
    """Return ``{"train": docs, "test": docs}`` for a spec; the splits are disjoint.

    The few-shot pool has ``min(50, space // 10)`` problems; the test split ``min(num_problems, space - pool)``.
    Prefix-stable: the test split for ``n`` problems is the first ``n`` of the test split for any larger size.

    Example:
        >>> docs = generate(validate_spec("mul", 2, num_problems=3, seed=0))
        >>> [d["a"] + " x " + d["b"] + " = " + d["answer"] for d in docs["test"]]
        ['67 x 24 = 1608', '82 x 42 = 3444', '17 x 68 = 1156']
        >>> len(docs["train"])
        50
        >>> generate(validate_spec("mul", 2, num_problems=5, seed=0))["test"][:3] == docs["test"]
        True
    """
    lo, hi = spec.bounds
    pool_size = min(FEWSHOT_POOL_SIZE, spec.space // 10)
    train = _pairs(spec.key, lo, hi, 0, pool_size)
    test = _pairs(spec.key, lo, hi, pool_size, pool_size + min(spec.num_problems, spec.space - pool_size))
    return {
        "train": [Problem(a, b, spec.operation).as_doc(i) for i, (a, b) in enumerate(train)],
        "test": [Problem(a, b, spec.operation).as_doc(i) for i, (a, b) in enumerate(test)],
    }
