"""Data of the demo's memorisation task ``mirage_demo_recall``: a table of random codes to recall.

The trained demo family (:mod:`lm_eval_mirage.zoo.recall`) memorises this table; the task asks for every
entry in the plugin's prompt style, ``"Q: What is kbf? A: 482139075561"``. Each code is ``digits`` random digits,
so the target has L = digits tokens (plus the stop sequence) and a model's per-digit recall is the paper's
per-token probability p: a larger model stores more of the table (the "better memorisation" hypothesis in
SCIENCE.md), smoothly, while "the whole code right" behaves like ``p ** L``.

Randomness comes from SHA-256 of a text key, so the table is the same in every process, on every machine
and under every ``PYTHONHASHSEED``. The test split is the whole table (memorisation is measured on what was
learned, by design); the few-shot pool is its first entries (the tasks run 0-shot).
"""

from __future__ import annotations

import hashlib
import string
from typing import Any

__all__ = [
    "RECALL_DATA_VERSION",
    "DEFAULT_NUM_KEYS",
    "DEFAULT_DIGITS",
    "DEFAULT_KEY_LENGTH",
    "DEFAULT_SEED",
    "recall_prompt",
    "recall_table",
    "load_recall",
]

#: Bump when the table changes for the same arguments (also the tasks' ``metadata.data_version``).
RECALL_DATA_VERSION = 1
DEFAULT_NUM_KEYS = 200
DEFAULT_DIGITS = 12
DEFAULT_KEY_LENGTH = 3
DEFAULT_SEED = 2023
_LETTERS = string.ascii_lowercase


def recall_prompt(key: str) -> str:
    """The question for one key, exactly as the task YAML renders it (``doc_to_text``).

    Example:
        >>> recall_prompt("kbf")
        'Q: What is kbf? A:'
    """
    return f"Q: What is {key}? A:"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(map(str, ("mirage-recall", RECALL_DATA_VERSION, *parts))).encode()).digest()


def _as_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}={value!r} must be an integer >= {minimum}")
    return value


def recall_table(
    num_keys: Any = DEFAULT_NUM_KEYS,
    digits: Any = DEFAULT_DIGITS,
    key_length: Any = DEFAULT_KEY_LENGTH,
    seed: Any = DEFAULT_SEED,
) -> list[dict]:
    """The table as docs ``{id, key, answer, answer_digits}``: distinct random keys, random codes.

    Codes may start with 0 (they are strings). Integers given as strings are accepted (harness metadata).

    Example:
        >>> rows = recall_table(num_keys=3, digits=6, seed=0)
        >>> [(r["key"], r["answer"]) for r in rows]
        [('yps', '966896'), ('wcq', '604987'), ('agr', '977156')]
        >>> recall_table(num_keys=0)
        Traceback (most recent call last):
        ...
        ValueError: num_keys=0 must be an integer >= 1
    """
    num_keys = _as_int("num_keys", num_keys, 1)
    digits = _as_int("digits", digits, 1)
    key_length = _as_int("key_length", key_length, 1)
    seed = _as_int("seed", seed, 0)
    if num_keys > len(_LETTERS) ** key_length // 2:
        raise ValueError(
            f"num_keys={num_keys} is too many for key_length={key_length}: at most {len(_LETTERS) ** key_length // 2}"
        )
    rows: list[dict] = []
    seen: set[str] = set()
    index = 0
    while len(rows) < num_keys:
        d = _digest(seed, key_length, digits, "key", index)
        index += 1
        key = "".join(_LETTERS[b % len(_LETTERS)] for b in d[:key_length])
        if key in seen:
            continue
        seen.add(key)
        value = int.from_bytes(_digest(seed, key_length, digits, "code", key), "big") % 10**digits
        rows.append({"id": len(rows), "key": key, "answer": str(value).zfill(digits), "answer_digits": digits})
    return rows


def load_recall(
    num_keys: Any = DEFAULT_NUM_KEYS,
    digits: Any = DEFAULT_DIGITS,
    key_length: Any = DEFAULT_KEY_LENGTH,
    seed: Any = DEFAULT_SEED,
    **_ignored: Any,
) -> dict:
    """``custom_dataset`` of ``mirage_demo_recall`` (and its ``_ll`` twin): ``test`` = the whole table.

    The harness passes the task's ``metadata`` and the ``--model_args``; keys other than these are ignored.
    """
    import datasets

    rows = recall_table(num_keys, digits, key_length, seed)
    return {"test": datasets.Dataset.from_list(rows), "train": datasets.Dataset.from_list(rows[: min(50, len(rows))])}
