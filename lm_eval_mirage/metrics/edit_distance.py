"""Token edit distance: the continuous companion of exact match.

Schaeffer et al. (2023) show that exact match on an L-token target behaves like ``p**L`` (sharp), while the
Levenshtein distance between target and output, counted in tokens, behaves like ``L * (1 - p)`` (smooth).

Tokens default to the characters of the normalized answer (for a number: its digits and sign). Pass
``tokenize=`` (any ``str -> sequence`` callable, e.g. :func:`tokenizer_tokens` of a model's tokenizer) to
measure in the model's own tokens instead.

Texts are strings; ``None`` is the empty string (anything else is a ``ValueError`` naming the argument),
surrounding whitespace is stripped, and each side is cut to :data:`MAX_TOKENS` tokens before the distance, so
a runaway generation of a million characters costs microseconds, not seconds.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache

import editdistance

from lm_eval_mirage.metrics._checks import describe
from lm_eval_mirage.metrics._checks import text as _text

__all__ = [
    "MAX_TOKENS",
    "normalize_text",
    "char_tokens",
    "tokenizer_tokens",
    "token_edit_distance",
    "normalized_edit_distance",
]

#: Each side is cut to this many tokens before the distance is computed. No arithmetic answer comes close
#: (10-digit times 10-digit has 20 digits); the cap bounds the cost of degenerate outputs.
MAX_TOKENS = 1024

Tokenize = Callable[[str], Sequence[Hashable]]


def normalize_text(text: str | None) -> str:
    """Return ``text`` with surrounding whitespace removed; ``None`` becomes ``""``.

    Example:
        >>> normalize_text("  124\\n")
        '124'
        >>> normalize_text(None)
        ''
    """
    return _text(text, "text").strip()


def char_tokens(text: str) -> list[str]:
    """Split normalized text into characters, the default token of this package.

    Example:
        >>> char_tokens(" -120 ")
        ['-', '1', '2', '0']
    """
    return list(normalize_text(text))


@lru_cache(maxsize=8)
def _load_tokenizer(name_or_path: str):  # pragma: no cover - exercised through tokenizer_tokens
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name_or_path)


def tokenizer_tokens(name_or_path: str) -> Tokenize:
    """Return a tokenize function that splits text into the token ids of a transformers tokenizer.

    Args:
        name_or_path: anything ``transformers.AutoTokenizer.from_pretrained`` accepts (a local folder or a
            hub name). Loaded once per process.

    Returns:
        A callable ``str -> list[int]`` (no special tokens added).
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise ValueError(f"name_or_path must be a tokenizer name or folder, got {describe(name_or_path)}")
    tokenizer = _load_tokenizer(os.fspath(name_or_path))

    def tokenize(text: str) -> list[int]:
        return tokenizer.encode(normalize_text(text), add_special_tokens=False)

    return tokenize


def _tokens(text: str | None, tokenize: Tokenize | None, name: str) -> Sequence[Hashable]:
    text = _text(text, name).strip()
    if tokenize is None:
        return list(text[:MAX_TOKENS])
    if not callable(tokenize):
        raise ValueError(f"tokenize must be a callable str -> sequence of tokens, got {describe(tokenize)}")
    # Cut characters first so a tokenizer never sees a huge string: a token spans at least one character.
    tokens = tokenize(text[: MAX_TOKENS * 8])
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, Sequence):
        raise ValueError(f"tokenize must return a sequence of tokens, returned {describe(tokens)}")
    out = list(tokens[:MAX_TOKENS])
    for token in out:
        try:
            hash(token)
        except TypeError:
            raise ValueError(f"tokenize must return hashable tokens (str or int), returned {describe(token)}") from None
    return out


def token_edit_distance(target: str | None, output: str | None, *, tokenize: Tokenize | None = None) -> int:
    """Levenshtein distance between ``target`` and ``output`` as token sequences.

    ``TED = min #(substitutions + insertions + deletions)`` turning the output's tokens into the target's.
    Lower is better; 0 iff the token sequences are equal. Symmetric, satisfies the triangle inequality, and
    is at most ``max(len(target_tokens), len(output_tokens))``.

    Args:
        target: the reference answer.
        output: the model's output (any string; ``None`` counts as empty).
        tokenize: ``str -> sequence`` splitter; default :func:`char_tokens`.

    Returns:
        The distance, a non-negative int.

    Example:
        >>> token_edit_distance("124", "134")
        1
        >>> token_edit_distance("124", "24")
        1
        >>> token_edit_distance("124", "")
        3
    """
    return int(editdistance.eval(_tokens(target, tokenize, "target"), _tokens(output, tokenize, "output")))


def normalized_edit_distance(target: str | None, output: str | None, *, tokenize: Tokenize | None = None) -> float:
    """Token edit distance divided by the longer token length, in ``[0, 1]``.

    ``NED = TED(target, output) / max(len(target_tokens), len(output_tokens))``; two empty strings give 0.

    Example:
        >>> normalized_edit_distance("124", "134")
        0.3333333333333333
        >>> normalized_edit_distance("12", "1234")
        0.5
        >>> normalized_edit_distance("", "")
        0.0
    """
    a, b = _tokens(target, tokenize, "target"), _tokens(output, tokenize, "output")
    longest = max(len(a), len(b))
    if longest == 0:
        return 0.0
    return int(editdistance.eval(a, b)) / longest
