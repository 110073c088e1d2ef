"""Pure metric functions (plain Python / numpy in, numbers out). Nothing here imports ``lm_eval``
except :mod:`lm_eval_mirage.metrics.harness`, the thin registration layer.

Modules: :mod:`~lm_eval_mirage.metrics.edit_distance` and :mod:`~lm_eval_mirage.metrics.answers` (generation),
:mod:`~lm_eval_mirage.metrics.likelihood` (target and per-token probabilities), :mod:`~lm_eval_mirage.metrics.choice`
(multiple choice: Brier, correct-choice probability, ECE), :mod:`~lm_eval_mirage.metrics.reconstruction` (vision).
"""

from lm_eval_mirage.metrics.answers import digit_accuracy, exact_match, parse_answer
from lm_eval_mirage.metrics.choice import (
    binary_brier_score,
    brier_score,
    choice_probs,
    correct_choice_logprob,
    correct_choice_prob,
    expected_calibration_error,
    expected_calibration_error_equal_mass,
    expected_calibration_error_equal_width,
)
from lm_eval_mirage.metrics.edit_distance import (
    MAX_TOKENS,
    char_tokens,
    normalize_text,
    normalized_edit_distance,
    token_edit_distance,
    tokenizer_tokens,
)
from lm_eval_mirage.metrics.likelihood import per_token_logprob, per_token_prob, target_prob
from lm_eval_mirage.metrics.reconstruction import mean_squared_error, reconstruction_c, subset_accuracy

__all__ = [
    "MAX_TOKENS",
    "binary_brier_score",
    "brier_score",
    "char_tokens",
    "choice_probs",
    "correct_choice_logprob",
    "correct_choice_prob",
    "digit_accuracy",
    "exact_match",
    "expected_calibration_error",
    "expected_calibration_error_equal_mass",
    "expected_calibration_error_equal_width",
    "mean_squared_error",
    "normalize_text",
    "normalized_edit_distance",
    "parse_answer",
    "per_token_logprob",
    "per_token_prob",
    "reconstruction_c",
    "subset_accuracy",
    "target_prob",
    "token_edit_distance",
    "tokenizer_tokens",
]
