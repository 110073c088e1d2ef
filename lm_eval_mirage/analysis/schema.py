"""The analysis's vocabulary: the columns of its tables, what a metric name says on its own (kind, direction),
a task's chance level, and the verdict words.

Results files of today's harness carry a ``higher_is_better`` map; those of 2023 (EleutherAI's published Pythia
evaluations) do not. :func:`metric_direction` knows the harness's own metric names (its
``HIGHER_IS_BETTER_REGISTRY`` plus the task-level ones such as lambada's ``ppl``), this package's metrics, and
a few name patterns (``*_loss``, ``*_distance``...). Anything else is UNKNOWN (``None``), never assumed.

:func:`chance_level` gives the accuracy of random guessing on well-known multiple-choice tasks (the share of
choices: 1/4 for MMLU, 1/2 for PIQA), or from the number of choices when the samples tell it.
"""

from __future__ import annotations

import re

__all__ = [
    "REQUIRED_COLUMNS",
    "TABLE_COLUMNS",
    "SAMPLE_COLUMNS",
    "EMERGENCE_COLUMNS",
    "DISCONTINUOUS_METRICS",
    "NONLINEAR_METRICS",
    "NOT_SCORED_METRICS",
    "HIGHER_IS_BETTER_METRICS",
    "LOWER_IS_BETTER_METRICS",
    "CHANCE_METRICS",
    "EMERGENT",
    "SMOOTH",
    "SATURATING",
    "UNCERTAIN",
    "FLAT",
    "AT_CHANCE",
    "AT_RESOLUTION_FLOOR",
    "TOO_FEW_MODELS",
    "DIRECTION_UNKNOWN",
    "VERDICTS",
    "FILTER_PREFERENCE",
    "metric_kind",
    "metric_direction",
    "chance_level",
]

#: The verdict words of :func:`lm_eval_mirage.analysis.verdict.decide`, in the order its steps try them.
TOO_FEW_MODELS = "too few models"
DIRECTION_UNKNOWN = "direction unknown"
AT_RESOLUTION_FLOOR = "at resolution floor"
AT_CHANCE = "at chance"
FLAT = "flat (within noise)"
EMERGENT = "emergent"
UNCERTAIN = "uncertain"
SMOOTH = "smooth"
#: Not a verdict of its own: a ``smooth`` curve whose reason starts ``smooth: saturating``.
SATURATING = "smooth: saturating"
#: The filter a task is shown and forecast under when it has several: the first of these it has.
FILTER_PREFERENCE = ("parsed", "none", "raw")

VERDICTS = (TOO_FEW_MODELS, DIRECTION_UNKNOWN, AT_RESOLUTION_FLOOR, AT_CHANCE, FLAT, EMERGENT, UNCERTAIN, SMOOTH)

#: Columns a hand-built table must have.
REQUIRED_COLUMNS = ("model", "x", "task", "metric", "value")
#: Columns of a tidy table, in order (a tidy table may carry more after these).
TABLE_COLUMNS = (
    "family",
    "series",
    "model",
    "x",
    "params",
    "params_source",
    "step",
    "tokens",
    "flops",
    "task",
    "metric",
    "filter",
    "split",
    "target_digits",
    "value",
    "stderr",
    "n",
    "higher_is_better",
    "kind",
    "lm_eval_version",
    "task_version",
    "source",
    "direction",
)
#: Per-problem values (from samples files), for bootstrap intervals.
SAMPLE_COLUMNS = ("model", "task", "metric", "filter", "doc_id", "target_digits", "value")
EMERGENCE_COLUMNS = (
    "family",
    "series",
    "task",
    "metric",
    "filter",
    "split",
    "kind",
    "higher_is_better",
    "n_models",
    "models",
    "x_min",
    "x_max",
    "first_value",
    "last_value",
    "emergence_score",
    "linearity",
    "straight_line",
    "threshold",
    "ci_low",
    "ci_high",
    "ci_method",
    "p_change",
    "late_share",
    "chance",
    "n",
    "verdict",
    "reason",
    "missing",
)

#: All-or-nothing metrics: the ones the mirage hypothesis says can manufacture a jump.
DISCONTINUOUS_METRICS = frozenset(
    {
        "exact_match",
        "greedy_exact_match",
        "acc",
        "acc_norm",
        "em",
        "accuracy",
        "multiple_choice_grade",
        "exact_str_match",
        "pass@1",
        "reconstruction_accuracy",
    }
)
#: Continuous but sharply nonlinear in per-token probability: the whole-target probability is ``p**L``, the
#: expected exact match under sampling at temperature 1 (the paper's example of a nonlinear metric).
NONLINEAR_METRICS = frozenset({"target_prob"})

#: Descriptive columns that are not a measure of ability (scored curves would be meaningless).
NOT_SCORED_METRICS = frozenset({"target_tokens", "target_chars", "sample_len", "n_tokens"})


def metric_kind(metric: str) -> str:
    """How a metric responds to a smooth gain in per-token probability ``p``.

    ``"discontinuous"``: all-or-nothing per problem (exact match, accuracy); ``"nonlinear"``: continuous but
    ``p**L``-shaped (whole-target probability); ``"continuous"``: everything else (edit distances,
    log-likelihoods, Brier score, digit accuracy), the metrics the mirage hypothesis expects to move smoothly.

    Example:
        >>> metric_kind("exact_match"), metric_kind("token_edit_distance"), metric_kind("acc_norm"), metric_kind("target_prob")
        ('discontinuous', 'continuous', 'discontinuous', 'nonlinear')
    """
    name = metric.lower()
    if name in DISCONTINUOUS_METRICS or name.endswith("exact_match") or name.startswith("acc"):
        return "discontinuous"
    if name in NONLINEAR_METRICS:
        return "nonlinear"
    return "continuous"


#: Metric names whose larger values are better: the harness's registry (lm_eval 0.4.13), task metrics of the
#: 2023 harness, and this package's metrics.
HIGHER_IS_BETTER_METRICS = frozenset(
    {
        "acc",
        "acc_norm",
        "acc_all",
        "acc_bytes",
        "acc_mutual_info",
        "exact_match",
        "em",
        "f1",
        "mcc",
        "bleu",
        "chrf",
        "chrf++",
        "likelihood",
        "matthews_corrcoef",
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
        "bleurt",
        "accuracy",
        "multiple_choice_grade",
        "exact_str_match",
        "pass@1",
        "mc1",
        "mc2",
        "contains",
        "greedy_exact_match",
        "digit_accuracy",
        "target_logprob",
        "target_prob",
        "per_token_logprob",
        "per_token_prob",
        "per_char_logprob",
        "token_logprobs",
        "correct_choice_prob",
        "correct_choice_logprob",
        "reconstruction_accuracy",
        "bypass",
    }
)
#: Metric names whose smaller values are better (perplexities, losses, distances, Brier, calibration error;
#: crows_pairs' bias measures, as the harness declares them).
LOWER_IS_BETTER_METRICS = frozenset(
    {
        "ppl",
        "perplexity",
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
        "ter",
        "brier_score",
        "binary_brier_score",
        "token_edit_distance",
        "normalized_edit_distance",
        "ece",
        "ece_equal_width",
        "mse",
        "test_mse",
        "cross_entropy",
        "likelihood_difference",
        "likelihood_diff",
        "pct_stereotype",
        "target_tokens",
    }
)
#: Metrics for which a chance level (random guessing among the choices) is meaningful.
CHANCE_METRICS = frozenset({"acc", "acc_norm", "acc_mutual_info", "accuracy", "multiple_choice_grade", "mc1"})

#: (task name pattern, chance accuracy): random guessing among the choices of well-known multiple-choice tasks.
_CHANCE = (
    (r"(hendrycksTest|mmlu)[-_].*|mmlu", 0.25),
    (r"arc_(easy|challenge)", 0.25),  # nearly all ARC questions have 4 choices
    (r"logiqa2?", 0.25),
    (r"sciq", 0.25),
    (r"openbookqa", 0.25),
    (r"hellaswag", 0.25),
    (r"mathqa", 0.2),
    (r"race", 0.25),
    (r"piqa", 0.5),
    (r"winogrande", 0.5),
    (r"wsc(273)?", 0.5),
    (r"boolq", 0.5),
    (r"copa", 0.5),
    (r"rte|wnli|mrpc|qqp|qnli|sst2?|cola", 0.5),
    (r"headqa(_en|_es)?", 0.25),
)


def metric_direction(metric: str) -> bool | None:
    """``True`` (higher is better), ``False`` (lower is better) or ``None`` (unknown) from a metric's name.

    Example:
        >>> metric_direction("ppl"), metric_direction("acc_norm"), metric_direction("val_loss")
        (False, True, False)
        >>> metric_direction("likelihood_difference"), metric_direction("word_perplexity"), metric_direction("zeta")
        (False, False, None)
    """
    name = metric.strip()
    if name in HIGHER_IS_BETTER_METRICS:
        return True
    if name in LOWER_IS_BETTER_METRICS:
        return False
    lower = name.lower()
    if lower.endswith(("_loss", "_error", "_distance", "_mse", "perplexity", "_ppl")):
        return False
    if lower.startswith("acc") or lower.endswith(("exact_match", "_accuracy", "_acc", "_f1", "_logprob", "_prob")):
        return True
    return None


def chance_level(task: str, metric: str, *, n_choices: float | None = None) -> float | None:
    """Accuracy of random guessing for an accuracy-like ``metric`` of ``task``, or ``None`` when not known.

    ``n_choices`` (e.g. from the samples' number of choices) wins over the built-in table of tasks.

    Example:
        >>> chance_level("hendrycksTest-high_school_mathematics", "acc"), chance_level("piqa", "acc_norm")
        (0.25, 0.5)
        >>> chance_level("lambada_openai", "acc") is None, chance_level("piqa", "brier_score") is None
        (True, True)
        >>> chance_level("my_task", "acc", n_choices=3)
        0.3333333333333333
    """
    if metric not in CHANCE_METRICS:
        return None
    if n_choices is not None and n_choices >= 2:
        return 1.0 / float(n_choices)
    for pattern, chance in _CHANCE:
        if re.fullmatch(pattern, task):
            return chance
    return None
