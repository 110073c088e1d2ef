"""Pure metric functions (plain Python / numpy in, numbers out). Nothing here imports ``lm_eval``
except :mod:`lm_eval_mirage.metrics.harness`, the thin registration layer."""

from lm_eval_mirage.metrics.answers import digit_accuracy, exact_match, parse_answer
from lm_eval_mirage.metrics.edit_distance import (
    MAX_TOKENS,
    char_tokens,
    normalize_text,
    normalized_edit_distance,
    token_edit_distance,
    tokenizer_tokens,
)

__all__ = [
    "MAX_TOKENS",
    "char_tokens",
    "digit_accuracy",
    "exact_match",
    "normalize_text",
    "normalized_edit_distance",
    "parse_answer",
    "token_edit_distance",
    "tokenizer_tokens",
]
