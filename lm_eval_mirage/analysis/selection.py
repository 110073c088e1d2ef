"""What the report shows: the filter of a task, the metrics worth a panel, the headline curve, a fit's flag.

Selection rules only (pandas, no matplotlib): the report and the figures both read them, so a figure and the
table beside it never disagree about what is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from lm_eval_mirage.analysis.schema import (
    EMERGENT,
    FILTER_PREFERENCE,
    NOT_SCORED_METRICS,
    UNCERTAIN,
)

__all__ = [
    "FIT_R2_BOUND",
    "SAME_QUANTITY",
    "choose_filter",
    "shown_metrics",
    "ordered_metrics",
    "fit_flag",
    "headline_choice",
]

#: A power-law fit with R^2 (log-log) below this is drawn grey and labelled as a poor fit.
FIT_R2_BOUND = 0.9
#: Metrics that repeat another one's quantity: shown only when the other is absent (the files keep both).
#: ``token_logprobs`` is the pooled mean of the per-position log-probs, i.e. ``per_token_logprob`` again.
SAME_QUANTITY = {"token_logprobs": "per_token_logprob"}


def choose_filter(table: pd.DataFrame, task: str, preference: Sequence[str] = FILTER_PREFERENCE) -> str:
    """The filter shown for a task: the first of ``preference`` it has, else its first filter alphabetically."""
    filters = sorted(set(table.loc[table["task"] == task, "filter"]))
    return next((f for f in preference if f in filters), filters[0] if filters else "none")


def shown_metrics(metrics) -> list[str]:
    """The metrics worth a panel or a table row: bookkeeping (``target_tokens``...) and repeats left out.

    Example:
        >>> shown_metrics(["exact_match", "target_tokens", "token_logprobs", "per_token_logprob"])
        ['exact_match', 'per_token_logprob']
        >>> shown_metrics(["token_logprobs"])
        ['token_logprobs']
    """
    names = list(dict.fromkeys(str(m) for m in metrics))
    return [m for m in names if m not in NOT_SCORED_METRICS and SAME_QUANTITY.get(m) not in names]


def ordered_metrics(table: pd.DataFrame) -> list[str]:
    """Metric names, discontinuous ones first, then nonlinear, then continuous (each group alphabetical);
    bookkeeping columns and repeated quantities are left out (:func:`shown_metrics`)."""
    kinds = table.drop_duplicates("metric").set_index("metric")["kind"]
    rank = {"discontinuous": 0, "nonlinear": 1}
    return sorted(shown_metrics(kinds.index), key=lambda m: (rank.get(kinds[m], 2), m))


def fit_flag(fit) -> str:
    """Why a power-law fit should not be trusted ('' when it can): its ``error`` or ``warning``, else an R^2
    below :data:`FIT_R2_BOUND`. ``fit`` is a row of the fits table (named tuple, Series or dict).

    Example:
        >>> fit_flag({"r2": 0.64}), fit_flag({"r2": 0.99}), fit_flag({"r2": 0.99, "warning": "2 models"})
        ('poor fit: R^2 0.64 < 0.9', '', '2 models')
    """
    get = (lambda k: getattr(fit, k, None)) if hasattr(fit, "_fields") else (lambda k: fit.get(k))
    for key in ("error", "warning"):
        value = get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    r2 = get("r2")
    if r2 is None or (isinstance(r2, float) and math.isnan(r2)):
        return "no fit"
    return f"poor fit: R^2 {r2:.2g} < {FIT_R2_BOUND:g}" if r2 < FIT_R2_BOUND else ""


def headline_choice(scores: pd.DataFrame, family: str) -> tuple[str, str, list[tuple[str, str]]] | None:
    """The most emergent-looking curve of ``family`` and its continuous companions, for the headline figure.

    ``scores`` is an emergence table (:func:`~lm_eval_mirage.analysis.table.emergence_table`). The curve is a
    discontinuous metric: ``emergent`` before ``uncertain`` before any other verdict, one with continuous
    companions first, then the highest score. Companions (at most two) are continuous metrics of the same task
    or of its log-likelihood twin (``<task>_ll``, or ``<task>`` for ``<task>_ll``), edit distances and the
    per-token log-probability first. Returns ``(task, metric, [(task, metric), ...])``, or None.
    """
    sel = scores[(scores["family"] == family) & (scores["split"] == "all")]
    sel = sel[sel["metric"].isin(shown_metrics(sel["metric"]))]
    prefer = (
        "token_edit_distance",
        "per_token_logprob",
        "normalized_edit_distance",
        "per_token_prob",
        "digit_accuracy",
        "brier_score",
    )

    def companions(task: str) -> list[tuple[str, str]]:
        twin = task[:-3] if task.endswith("_ll") else f"{task}_ll"
        cont = sel[sel["task"].isin([task, twin]) & (sel["kind"] == "continuous")]
        pairs = list(dict.fromkeys(zip(cont["task"], cont["metric"])))
        pairs.sort(key=lambda p: (prefer.index(p[1]) if p[1] in prefer else len(prefer), p[0] != task, p[1]))
        return [p for i, p in enumerate(pairs) if p[1] not in {q[1] for q in pairs[:i]}][:2]

    disc = sel[sel["kind"] == "discontinuous"]
    if disc.empty:
        return None
    rank = {EMERGENT: 0, UNCERTAIN: 1}
    best = min(
        disc.itertuples(index=False),
        key=lambda r: (
            rank.get(r.verdict, 2),
            not companions(r.task),
            -(r.emergence_score if r.emergence_score == r.emergence_score else -math.inf),
            r.task.endswith("_ll"),
            r.task,
            r.metric,
        ),
    )
    return best.task, best.metric, companions(best.task)
