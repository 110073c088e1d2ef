"""Multiple-choice metrics from per-choice log-likelihoods: Brier scores, correct-choice probability, ECE.

A multiple-choice sample is scored by the model's log-likelihood of each choice, ``l_1 .. l_k`` (the sum of
the choice tokens' log-probabilities after the prompt, vocabulary level), and the index (or indices) of
the correct choice. Everything here is a pure function of those numbers (numpy only, no ``lm_eval``).

The transformation chain of Schaeffer et al. (2024): ``log p_vocab(correct)`` (:func:`correct_choice_logprob`)
-> ``p_choices(correct) = p_vocab(correct) / sum_c p_vocab(c)`` (:func:`correct_choice_prob`) -> accuracy
(:func:`choice_accuracy`) or Brier (:func:`brier_score`, :func:`binary_brier_score`).

Conventions:

- ``logliks`` is a non-empty 1-D sequence of log-likelihoods (numbers in ``[-inf, 0]``); ``-inf`` (a choice
  the model cannot produce) is allowed; NaN, positive values (beyond float rounding,
  :data:`~lm_eval_mirage.metrics.likelihood.LOGPROB_TOLERANCE`), bools (JSON ``true``), strings and dicts raise
  ``ValueError`` naming ``logliks``. Docs may have any number of choices, one included.
- Probabilities over choices are the softmax computed exactly as the harness does
  (``e = exp(l - max(l)); e / sum(e)``): shifting by the maximum is the log-sum-exp trick, so ``-1e4`` or
  ``-inf`` never give ``0/0``. When every choice is ``-inf`` the choices are treated as equal (the limit of
  equal log-likelihoods), i.e. uniform.
- ``gold`` is a choice index, or a non-empty sequence of indices when a task has several correct choices
  (the harness's ``multiple_target``; it then counts a prediction right when it is any of them). Several
  correct choices are merged into one outcome "a correct choice": ``p_correct = sum_{g in gold} p_g``.
- Ties: the predicted choice is the first maximum (``numpy.argmax``, as the harness's ``acc``).
- Every result is clipped into its documented range, so float rounding never reports a probability of
  ``1.0000000000000002`` or a log-probability above 0.
- Two ECEs, named by their bins: :func:`expected_calibration_error_equal_mass` (HELM's ``ece_10_bin``; the
  plugin's metric ``ece`` and :func:`expected_calibration_error` are this one) and
  :func:`expected_calibration_error_equal_width` (Guo et al. 2017, the ECE of most papers and of torchmetrics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Union

import numpy as np

from lm_eval_mirage.metrics._checks import describe, real_array
from lm_eval_mirage.metrics.likelihood import LOGPROB_TOLERANCE

__all__ = [
    "choice_probs",
    "correct_choice_prob",
    "correct_choice_logprob",
    "brier_score",
    "binary_brier_score",
    "max_choice_prob",
    "choice_accuracy",
    "expected_calibration_error",
    "expected_calibration_error_equal_mass",
    "expected_calibration_error_equal_width",
]

Gold = Union[int, Sequence[int]]

#: Largest ``n_bins`` of :func:`expected_calibration_error_equal_width` (its bin edges are an array).
MAX_EQUAL_WIDTH_BINS = 10**6


def _logliks(logliks: Sequence[float]) -> np.ndarray:
    x = real_array(logliks, "logliks")
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"logliks must be a non-empty 1-D sequence of per-choice log-likelihoods, got shape {x.shape}")
    if np.isnan(x).any() or (x > LOGPROB_TOLERANCE).any():
        raise ValueError(
            f"logliks must be log-likelihoods in [-inf, 0] (no NaN, nothing positive), got {describe(logliks)}"
        )
    return x


def _clip(value: float, lo: float, hi: float) -> float:
    return float(min(hi, max(lo, value)))


def _gold_indices(gold: Gold, n_choices: int) -> list[int]:
    items = [gold] if not isinstance(gold, (Sequence, np.ndarray)) or isinstance(gold, (str, bytes)) else list(gold)
    if not items:
        raise ValueError("gold must be a choice index or a non-empty sequence of indices, got an empty sequence")
    out: list[int] = []
    for g in items:
        # bool is an int subclass (True would mean choice 1); floats like 1.0 are not indices either
        if isinstance(g, (bool, np.bool_)) or not isinstance(g, (int, np.integer)) or not 0 <= int(g) < n_choices:
            raise ValueError(
                f"gold must be a choice index in [0, {n_choices}) or a sequence of them, got {describe(gold)}"
            )
        out.append(int(g))
    return sorted(set(out))


def choice_probs(logliks: Sequence[float]) -> np.ndarray:
    """Probabilities renormalized over the choices: ``p_i = exp(l_i - LSE(l))``, ``LSE(l) = log sum_j exp(l_j)``.

    Computed as ``e = exp(l - max(l)); p = e / sum(e)`` (bit for bit the harness's ``utils.softmax``), which
    equals ``exp(l_i - LSE(l))`` and never divides ``0`` by ``0``: the largest term is ``exp(0) = 1``.

    Args:
        logliks: per-choice log-likelihoods, shape ``(k,)``, ``k >= 1``.

    Returns:
        A float64 array of shape ``(k,)`` summing to 1 (uniform when every value is ``-inf``).

    Example:
        >>> choice_probs([math.log(0.2), math.log(0.2)]).tolist()
        [0.5, 0.5]
        >>> choice_probs([-1e4, -1e4 - math.log(3)]).round(12).tolist()
        [0.75, 0.25]
        >>> choice_probs([0.0, -math.inf]).tolist()
        [1.0, 0.0]
        >>> choice_probs([-math.inf, -math.inf]).tolist()
        [0.5, 0.5]
    """
    x = _logliks(logliks)
    top = np.max(x)
    if top == -np.inf:
        return np.full(x.shape, 1.0 / x.size)
    e = np.exp(x - top)
    return e / e.sum()


def correct_choice_prob(gold: Gold, logliks: Sequence[float]) -> float:
    """Probability of the correct choice renormalized over the choices: ``p_correct = sum_{g in gold} p_g``.

    Higher is better, in ``[0, 1]``; ``1 / k`` for a model that cannot tell ``k`` choices apart.

    Example:
        >>> round(correct_choice_prob(0, [math.log(0.6), math.log(0.2)]), 12)
        0.75
        >>> correct_choice_prob([0, 2], [0.0, 0.0, 0.0, 0.0])
        0.5
        >>> correct_choice_prob(0, [-1e4])
        1.0
    """
    x = _logliks(logliks)
    idx = _gold_indices(gold, x.size)
    p = choice_probs(x)
    return _clip(p[idx[0]] if len(idx) == 1 else np.sum(p[idx]), 0.0, 1.0)


def correct_choice_logprob(gold: Gold, logliks: Sequence[float]) -> float:
    """Vocabulary-level log-likelihood of the correct choice, ``l_gold`` (not renormalized): the start of the
    transformation chain. With several correct choices, ``log sum_{g in gold} exp(l_g)`` (any of them).

    Higher is better, in ``[-inf, 0]`` (clipped: two choices each certain at the vocabulary level, ``[0, 0]``,
    give 0, not ``log 2``). The sum is :func:`scipy.special.logsumexp`.

    Example:
        >>> correct_choice_logprob(1, [-0.5, -2.25, -7.0])
        -2.25
        >>> correct_choice_logprob([0, 1], [math.log(0.25), math.log(0.5), -1.0]) == math.log(0.75)
        True
        >>> correct_choice_logprob(0, [-math.inf, -1.0])
        -inf
        >>> correct_choice_logprob([0, 1], [0.0, 0.0])
        0.0
    """
    x = _logliks(logliks)
    idx = _gold_indices(gold, x.size)
    if len(idx) == 1:
        value = x[idx[0]]
    else:
        from scipy.special import logsumexp  # imported on use: scipy.special costs ~0.3 s at package import

        value = logsumexp(x[idx])
    return _clip(value, -math.inf, 0.0)


def brier_score(gold: Gold, logliks: Sequence[float]) -> float:
    """Multi-class Brier score of one sample: ``BS = sum_{i=1..k} (p_i - o_i) ** 2``, ``p = choice_probs``,
    ``o`` the one-hot outcome (Brier 1950). Lower is better, in ``[0, 2]``.

    With one gold index this is bit for bit the per-sample term of the harness's built-in ``brier_score``
    (its aggregate is the mean of these terms). With several correct choices they are merged into one
    class: ``(1 - sum_{g in gold} p_g) ** 2 + sum_{i not in gold} p_i ** 2``. Unlike the built-in, docs with
    different numbers of choices are fine.

    Example:
        >>> brier_score(0, [math.log(0.5), math.log(0.25), math.log(0.25)])
        0.375
        >>> brier_score(1, [0.0, -math.inf])
        2.0
        >>> brier_score(0, [-1e4])
        0.0
        >>> brier_score([0, 1], [0.0, 0.0, 0.0, 0.0])
        0.375
    """
    x = _logliks(logliks)
    idx = _gold_indices(gold, x.size)
    p = choice_probs(x)
    if len(idx) == 1:
        onehot = np.zeros(x.size)
        onehot[idx[0]] = 1.0
        return _clip(np.sum((p - onehot) ** 2), 0.0, 2.0)
    rest = np.delete(p, idx)
    return _clip((1.0 - min(1.0, np.sum(p[idx]))) ** 2 + np.sum(rest**2), 0.0, 2.0)


def binary_brier_score(gold: Gold, logliks: Sequence[float]) -> float:
    """Binary Brier score of the correct choice: ``(1 - p_correct) ** 2`` (Schaeffer et al. 2023's form for
    multiple choice). Lower is better, in ``[0, 1]``; its mean over samples equals
    ``sklearn.metrics.brier_score_loss(ones, p_correct)``.

    Example:
        >>> binary_brier_score(0, [math.log(0.5), math.log(0.25), math.log(0.25)])
        0.25
        >>> binary_brier_score(1, [0.0, -math.inf])
        1.0
    """
    return (1.0 - correct_choice_prob(gold, logliks)) ** 2


def max_choice_prob(logliks: Sequence[float]) -> float:
    """Confidence of the predicted choice: ``max_i p_i`` (HELM's ``max_prob``), in ``[1/k, 1]``.

    Example:
        >>> round(max_choice_prob([math.log(0.6), math.log(0.2)]), 12)
        0.75
        >>> max_choice_prob([-5.0, -5.0, -5.0, -5.0])
        0.25
    """
    p = choice_probs(logliks)
    return _clip(np.max(p), 1.0 / p.size, 1.0)


def choice_accuracy(gold: Gold, logliks: Sequence[float]) -> float:
    """1.0 when the most likely choice (first one on ties) is correct, else 0.0: the harness's ``acc``.

    Example:
        >>> choice_accuracy(1, [-2.0, -1.0, -3.0])
        1.0
        >>> choice_accuracy(1, [-1.0, -1.0])
        0.0
        >>> choice_accuracy([1, 2], [-3.0, -2.0, -1.0])
        1.0
    """
    x = _logliks(logliks)
    idx = _gold_indices(gold, x.size)
    return 1.0 if int(np.argmax(x)) in idx else 0.0


def _calibration_inputs(
    confidences: Sequence[float], correct: Sequence[float], n_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(n_bins, (bool, np.bool_)) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {describe(n_bins)}")
    conf = real_array(confidences, "confidences")
    hit = real_array(correct, "correct", allow_bool=True)
    if conf.ndim != 1 or conf.size == 0:
        raise ValueError(f"confidences must be a non-empty 1-D sequence, got shape {conf.shape}")
    if hit.shape != conf.shape:
        raise ValueError(f"correct must have the shape of confidences {conf.shape}, got {hit.shape}")
    if np.isnan(conf).any() or (conf < 0).any() or (conf > 1).any():
        raise ValueError("confidences must lie in [0, 1] (no NaN)")
    if not np.isin(hit, (0.0, 1.0)).all():
        raise ValueError("correct must hold only 0/1 (or bools)")
    return conf, hit


def _binned_error(conf: np.ndarray, hit: np.ndarray, which: np.ndarray) -> float:
    """``sum_b (|B_b| / n) * |mean conf - mean correct|`` over the bins named by ``which``, clipped to [0, 1]."""
    n = conf.size
    ece = 0.0
    for b in np.unique(which):
        members = which == b
        ece += (members.sum() / n) * abs(conf[members].mean() - hit[members].mean())
    return _clip(ece, 0.0, 1.0)


# Why our own ECEs and not a library's: torchmetrics' binary_calibration_error (equal width) needs torch
# tensors and puts a confidence on a bin edge into the upper bin (and 1.0 into a bin of its own), unlike
# Guo et al.'s ((m-1)/M, m/M]; uncertainty-calibration (equal mass, HELM's) refuses inputs where every
# prediction is right (or wrong), which a small model on an easy task produces. The tests compare both
# functions with uncertainty-calibration (get_ece_em, get_ece) and with scikit-learn's calibration_curve.


def expected_calibration_error_equal_mass(
    confidences: Sequence[float], correct: Sequence[float], *, n_bins: int = 10
) -> float:
    """Expected calibration error with equal-mass bins, as HELM's ``ece_10_bin`` (the plugin's metric ``ece``).

    ``ECE = sum_b (|B_b| / n) * |mean_{s in B_b} conf_s - mean_{s in B_b} correct_s|``

    Bins are the definition of ``calibration.get_ece_em(confidences, correct, num_bins=n_bins)`` of the
    ``uncertainty-calibration`` package 0.1.4 (Kumar, Liang, Ma, "Verified Uncertainty Calibration",
    NeurIPS 2019), which HELM calls with ``num_bins=10`` on per-instance ``max_prob`` and correctness
    (``helm/benchmark/metrics/basic_metrics.py``, ``compute_calibration_metrics``): sort the confidences,
    split them into ``min(n_bins, n)`` consecutive parts of sizes differing by at most one
    (``numpy.array_split``), put a boundary half-way between neighbouring parts and one at 1.0 (duplicate
    boundaries merged), and assign each sample to the first boundary ``>=`` its confidence. Equal
    confidences therefore always share a bin. Unlike that package, all-correct or all-wrong inputs are
    accepted. A corpus-level aggregate: it is not a mean of per-sample values. Lower is better, in ``[0, 1]``.
    Not the equal-width ECE most papers report: see :func:`expected_calibration_error_equal_width`.

    Args:
        confidences: per-sample confidence of the predicted answer in ``[0, 1]`` (e.g. :func:`max_choice_prob`).
        correct: per-sample 1.0/0.0 (or bool) whether that prediction was right (e.g. :func:`choice_accuracy`).
        n_bins: number of equal-mass bins (keyword only), at least 1.

    Example:
        >>> round(expected_calibration_error_equal_mass([0.1, 0.7, 0.5, 0.9], [0, 1, 0, 1], n_bins=2), 12)
        0.25
        >>> round(expected_calibration_error_equal_mass([0.6, 0.7, 0.8, 0.9], [0, 0, 1, 1], n_bins=2), 12)
        0.4
        >>> expected_calibration_error_equal_mass([0.9, 0.9], [1, 0], n_bins=10)
        0.4
    """
    conf, hit = _calibration_inputs(confidences, correct, n_bins)
    parts = np.array_split(np.sort(conf), min(int(n_bins), conf.size))
    bounds = sorted({(a[-1] + b[0]) / 2.0 for a, b in zip(parts[:-1], parts[1:])} | {1.0})
    return _binned_error(conf, hit, np.searchsorted(np.asarray(bounds), conf, side="left"))


def expected_calibration_error_equal_width(
    confidences: Sequence[float], correct: Sequence[float], *, n_bins: int = 10
) -> float:
    """Expected calibration error with ``n_bins`` equal-width bins (Guo et al. 2017, "On Calibration of Modern
    Neural Networks"), the ECE most papers and torchmetrics report.

    ``ECE = sum_m (|B_m| / n) * |mean_{s in B_m} conf_s - mean_{s in B_m} correct_s|`` with
    ``B_m = {s : (m - 1) / M < conf_s <= m / M}`` (``conf = 0`` in the first bin), edges computed as ``m / M``;
    empty bins contribute nothing. The same bins as ``calibration.get_ece`` of uncertainty-calibration 0.1.4
    and as scikit-learn's ``calibration_curve(strategy="uniform")``; torchmetrics differs only for a
    confidence exactly on an edge (it takes the upper bin). Lower is better, in ``[0, 1]``.

    Args:
        confidences: per-sample confidence of the predicted answer in ``[0, 1]``.
        correct: per-sample 1.0/0.0 (or bool) whether that prediction was right.
        n_bins: number of bins of width ``1 / n_bins`` (keyword only), at least 1.

    Example:
        >>> round(expected_calibration_error_equal_width([0.1, 0.7, 0.5, 0.9], [0, 1, 0, 1], n_bins=2), 12)
        0.25
        >>> round(expected_calibration_error_equal_width([0.55, 0.65, 0.95], [1, 0, 1], n_bins=10), 12)  # (0.45 + 0.65 + 0.05) / 3
        0.383333333333
        >>> expected_calibration_error_equal_width([0.5, 0.5], [1, 1], n_bins=2)   # 0.5 is in (0, 0.5]
        0.5
    """
    conf, hit = _calibration_inputs(confidences, correct, n_bins)
    if int(n_bins) > MAX_EQUAL_WIDTH_BINS:  # the edges are materialised: bound their memory
        raise ValueError(f"n_bins must be at most {MAX_EQUAL_WIDTH_BINS} for equal-width bins, got {describe(n_bins)}")
    edges = np.arange(1, int(n_bins) + 1, dtype=np.float64) / int(n_bins)
    edges[-1] = 1.0
    return _binned_error(conf, hit, np.searchsorted(edges, conf, side="left"))


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[float], *, n_bins: int = 10) -> float:
    """HELM's equal-mass ECE, :func:`expected_calibration_error_equal_mass` (the plugin's metric ``ece``).

    Kept under this name for existing callers; new code should call the function whose name says the bins.

    Example:
        >>> expected_calibration_error([0.9, 0.9], [1, 0]) == expected_calibration_error_equal_mass([0.9, 0.9], [1, 0])
        True
    """
    return expected_calibration_error_equal_mass(confidences, correct, n_bins=n_bins)
