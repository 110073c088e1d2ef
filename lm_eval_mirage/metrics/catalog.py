"""THE catalogue of the plugin's per-sample metrics: output type, direction and aggregation of each.

One table for both ways of adding them: online (``lm-eval-mirage run --add_metrics``, the YAML recipe with
:class:`~lm_eval_mirage.tasks.mirage_task.MirageTask`) and offline (``lm-eval-mirage rescore``), so the two
aggregate every metric the same way.

Aggregations (the harness's own, so a re-scored value equals an online run's):

- ``mean``: ``lm_eval.api.metrics.mean`` (``sum(values) / n``), stderr ``mean_stderr`` (sample standard
  deviation over ``sqrt(n)``); the harness's choice for every ``aggregation: mean`` metric.
- ``np_mean``: ``numpy.mean`` of the per-sample values, which is what the harness's built-in
  ``brier_score`` aggregation computes (``np.mean(np.sum((p - onehot) ** 2, axis=1))``), bit for bit; stderr
  as for ``mean`` (the built-in reports ``N/A``).
- ``ece``: :func:`lm_eval_mirage.metrics.choice.expected_calibration_error_equal_mass` (HELM's 10-bin
  equal-mass ECE) over all samples of a filter (a corpus-level value; stderr ``N/A`` as for every non-mean
  harness aggregation).
- ``ece_equal_width``: :func:`lm_eval_mirage.metrics.choice.expected_calibration_error_equal_width` (10
  equal-width bins, Guo et al. 2017, the ECE torchmetrics reports) over the same ``(confidence, correct)`` pairs.
- ``pooled``: mean log-probability over all target tokens of all samples
  (:func:`lm_eval_mirage.metrics.likelihood.mean_logprob`, as the plugin's ``token_logprobs`` aggregation);
  stderr ``N/A``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MetricSpec", "METRICS", "GENERATION", "OUTPUT_TYPES", "NOT_APPLICABLE", "metrics_for", "parse_metric_names"]


@dataclass(frozen=True)
class MetricSpec:
    """One metric the plugin can add to a task (online or by re-scoring)."""

    name: str
    output_type: str
    higher_is_better: bool
    aggregation: str  # "mean" | "np_mean" | "ece" | "ece_equal_width" | "pooled"
    help: str


_SPECS = [
    MetricSpec(
        "token_edit_distance", "generate_until", False, "mean", "Levenshtein distance in tokens (characters by default)"
    ),
    MetricSpec("normalized_edit_distance", "generate_until", False, "mean", "token edit distance / longer length"),
    MetricSpec(
        "digit_accuracy", "generate_until", True, "mean", "right-aligned digit agreement (integer targets only)"
    ),
    MetricSpec("greedy_exact_match", "loglikelihood", True, "mean", "every target token is the greedy choice"),
    MetricSpec("target_logprob", "loglikelihood", True, "mean", "log P(target | prompt)"),
    MetricSpec("target_prob", "loglikelihood", True, "mean", "P(target | prompt)"),
    MetricSpec("per_token_logprob", "loglikelihood", True, "mean", "log P(target) / L (needs per-token values)"),
    MetricSpec("per_token_prob", "loglikelihood", True, "mean", "exp(log P(target) / L) (needs per-token values)"),
    MetricSpec("target_tokens", "loglikelihood", False, "mean", "L, target tokens (needs per-token values)"),
    MetricSpec(
        "token_logprobs", "loglikelihood", True, "pooled", "mean log-prob over all target tokens (needs token_logprobs)"
    ),
    MetricSpec(
        "brier_score", "multiple_choice", False, "np_mean", "multi-class Brier over choice-renormalized probabilities"
    ),
    MetricSpec("binary_brier_score", "multiple_choice", False, "mean", "(1 - p_correct) ** 2"),
    MetricSpec("correct_choice_prob", "multiple_choice", True, "mean", "p_correct renormalized over the choices"),
    MetricSpec(
        "correct_choice_logprob",
        "multiple_choice",
        True,
        "mean",
        "vocabulary-level log-likelihood of the correct choice",
    ),
    MetricSpec("ece", "multiple_choice", False, "ece", "expected calibration error, 10 equal-mass bins (HELM)"),
    MetricSpec(
        "ece_equal_width",
        "multiple_choice",
        False,
        "ece_equal_width",
        "expected calibration error, 10 equal-width bins (Guo et al.)",
    ),
]

#: name -> spec, in display order.
METRICS: dict[str, MetricSpec] = {s.name: s for s in _SPECS}
#: Metrics computed per sample by the harness adapters of :mod:`lm_eval_mirage.metrics.harness` when a
#: ``generate_until`` task lists them; the others need a ``process_results`` (MirageTask, the ``_ll`` tasks).
GENERATION = tuple(s.name for s in _SPECS if s.output_type == "generate_until")
#: Output types with re-scoring metrics.
OUTPUT_TYPES = ("generate_until", "loglikelihood", "multiple_choice")
#: Known harness output types without re-scoring metrics: passed through, noted, never counted as skipped.
NOT_APPLICABLE = ("loglikelihood_rolling",)


def metrics_for(output_type: str, wanted: tuple[str, ...] | None = None) -> list[MetricSpec]:
    """The specs of ``output_type``, restricted to ``wanted`` names when given (catalog order).

    Example:
        >>> [m.name for m in metrics_for("generate_until")]
        ['token_edit_distance', 'normalized_edit_distance', 'digit_accuracy']
        >>> [m.name for m in metrics_for("multiple_choice", ("ece", "token_edit_distance"))]
        ['ece']
    """
    return [s for s in _SPECS if s.output_type == output_type and (wanted is None or s.name in wanted)]


def parse_metric_names(values: list[str] | None) -> tuple[str, ...] | None:
    """Validate ``--metrics`` values (comma- or space-separated); ``None`` or empty means all.

    Raises:
        ValueError: naming the unknown metrics and listing the accepted names.

    Example:
        >>> parse_metric_names(["brier_score,ece", "token_edit_distance"])
        ('brier_score', 'ece', 'token_edit_distance')
        >>> parse_metric_names(None) is None
        True
    """
    if not values:
        return None
    names = tuple(dict.fromkeys(n.strip() for v in values for n in v.split(",") if n.strip()))
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; accepted: {', '.join(METRICS)}")
    return names or None
