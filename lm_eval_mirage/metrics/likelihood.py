"""Likelihood metrics: target-string probability, per-token log-likelihood and their aggregates.

Everything is computed in log space from the teacher-forced log-probability of a target string,
``logprob_sum = sum_i log p(t_i | prompt, t_<i)`` over its ``n_tokens`` tokens, so nothing underflows before
the last step: ``exp(-1e4)`` is ``0.0`` in float64, but ``logmeanexp([-1e4, -1e4]) == -1e4`` stays exact.

Conventions (all plain Python floats; no ``lm_eval`` import):

- a log-probability is a number in ``[-inf, 0]``; values up to ``LOGPROB_TOLERANCE`` above 0 are accepted
  (float32 rounding of a certain token) and read as ``0.0``; ``NaN``, larger positive values, bools (JSON
  ``true``), strings and integers beyond float64 raise ``ValueError`` naming the argument;
- every result stays inside its documented bounds (log-probabilities ``<= 0``, probabilities in ``[0, 1]``);
- ``-inf`` (probability exactly 0) propagates as ``-inf`` in log space and ``0.0`` in probability space,
  never as ``NaN``;
- the paper's per-token probability is ``p = exp(logprob_sum / L)`` (geometric mean of the token
  probabilities), so that ``target_prob == p ** L`` (Schaeffer et al. 2023, exact match ~ p**L).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from lm_eval_mirage.metrics._checks import describe, real

__all__ = [
    "LOGPROB_TOLERANCE",
    "check_logprob",
    "target_prob",
    "per_token_logprob",
    "per_token_prob",
    "greedy_exact_match",
    "logsumexp",
    "logmeanexp",
    "mean_logprob",
    "mean_prob",
    "pooled_token_logprob",
]

#: How far above 0 a log-probability may be and still count as a log-probability (float32 rounding).
LOGPROB_TOLERANCE = 1e-4


def check_logprob(value: float, name: str = "logprob_sum") -> float:
    """Return ``value`` as a float after checking that it is a log-probability; ``(0, LOGPROB_TOLERANCE]``
    (float rounding of a certain event) is returned as ``0.0``.

    Raises:
        ValueError: naming ``name`` when ``value`` is not a number (a bool, a string, a dict, an integer
            beyond float64), NaN, ``+inf`` or above ``LOGPROB_TOLERANCE``.

    Example:
        >>> check_logprob(-1.5)
        -1.5
        >>> check_logprob(float("-inf"))
        -inf
        >>> check_logprob(5e-7)
        0.0
        >>> check_logprob(True)
        Traceback (most recent call last):
        ...
        ValueError: logprob_sum must be a number (bool is not), got True
    """
    x = value if type(value) is float else real(value, name)
    if x != x or x > LOGPROB_TOLERANCE:  # x != x: NaN
        raise ValueError(f"{name} must be a log-probability in [-inf, 0], got {describe(value)}")
    return x if x <= 0.0 else 0.0


def _check_many(values: list, name: str) -> list[float]:
    """``check_logprob`` of each value (errors name ``name[i]``), with one C-level pass for plain floats."""
    if values and set(map(type, values)) == {float} and not any(map(math.isnan, values)):
        top = max(values)
        if top <= 0.0:
            return values
        if top <= LOGPROB_TOLERANCE:
            return [x if x <= 0.0 else 0.0 for x in values]
    return [check_logprob(v, f"{name}[{i}]") for i, v in enumerate(values)]


def _check_count(n_tokens: int, name: str = "n_tokens") -> float:
    # bool is an int subclass: True would silently mean "one token"
    if type(n_tokens) is int and 1 <= n_tokens < 2**53:
        return float(n_tokens)
    if isinstance(n_tokens, (bool, np.bool_)) or not isinstance(n_tokens, (int, np.integer)) or n_tokens < 1:
        raise ValueError(f"{name} must be a positive int (number of target tokens), got {describe(n_tokens)}")
    return real(n_tokens, name)  # as a float: logprob / (a 400-digit int) would raise OverflowError


def target_prob(logprob_sum: float) -> float:
    """Probability of the whole target string: ``P = exp(logprob_sum)``.

    Args:
        logprob_sum: sum of the target tokens' log-probabilities (natural log).

    Returns:
        A float in ``[0, 1]``; ``-inf`` gives ``0.0`` and very negative sums underflow to ``0.0`` (keep
        ``logprob_sum`` itself, or aggregate with :func:`logmeanexp`, where that matters).

    Example:
        >>> target_prob(0.0)
        1.0
        >>> target_prob(math.log(0.25))
        0.25
        >>> target_prob(float("-inf"))
        0.0
        >>> target_prob(-1e4)
        0.0
    """
    return min(1.0, math.exp(check_logprob(logprob_sum)))


def per_token_logprob(logprob_sum: float, n_tokens: int) -> float:
    """Mean log-probability per target token: ``logprob_sum / L``.

    Args:
        logprob_sum: sum of the target tokens' log-probabilities.
        n_tokens: ``L``, the number of target tokens (in the model's tokenization, or characters when the
            caller says so), at least 1.

    Example:
        >>> per_token_logprob(-3.0, 4)
        -0.75
        >>> per_token_logprob(float("-inf"), 2)
        -inf
        >>> per_token_logprob(-1e4, 5)
        -2000.0
    """
    return check_logprob(logprob_sum) / _check_count(n_tokens)


def per_token_prob(logprob_sum: float, n_tokens: int) -> float:
    """The paper's per-token probability ``p = exp(logprob_sum / L)``, so ``p ** L == target_prob``.

    Example:
        >>> per_token_prob(2 * math.log(0.5), 2)
        0.5
        >>> per_token_prob(0.0, 3)
        1.0
        >>> per_token_prob(float("-inf"), 3)
        0.0
    """
    return min(1.0, math.exp(per_token_logprob(logprob_sum, n_tokens)))


def greedy_exact_match(is_greedy: bool) -> float:
    """1.0 when every target token is the model's argmax given the prefix (greedy decoding would write the
    target), else 0.0.

    Example:
        >>> greedy_exact_match(True), greedy_exact_match(False)
        (1.0, 0.0)
    """
    if not isinstance(is_greedy, bool):
        # numpy.bool_ and torch bools convert fine; strings like "False" must not (bool("False") is True)
        if type(is_greedy).__name__ not in {"bool_", "bool"} or getattr(is_greedy, "ndim", 0) != 0:
            raise ValueError(f"is_greedy must be a bool, got {describe(is_greedy)}")
    return 1.0 if bool(is_greedy) else 0.0


def _logprobs(values: Iterable[float], name: str) -> list[float]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Iterable):
        raise ValueError(
            f"{name} must be a sequence of log-probabilities, got {type(values).__name__} {describe(values)}"
        )
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got an array of shape {values.shape}")
    xs = _check_many(values.tolist() if isinstance(values, np.ndarray) else list(values), name)
    if not xs:
        raise ValueError(f"{name} must hold at least one log-probability, got an empty sequence")
    return xs


def logsumexp(logprobs: Iterable[float]) -> float:
    """``log(sum(exp(x)))`` computed stably by :func:`scipy.special.logsumexp`; ``-inf`` when every value is
    ``-inf``. In ``[-inf, log(len(x))]``.

    Example:
        >>> logsumexp([math.log(0.25), math.log(0.5)]) == math.log(0.75)
        True
        >>> logsumexp([-1e4, -1e4]) == -1e4 + math.log(2)
        True
        >>> logsumexp([float("-inf"), float("-inf")])
        -inf
    """
    xs = _logprobs(logprobs, "logprobs")
    from scipy.special import logsumexp as scipy_logsumexp  # on use: scipy.special is slow to import

    return min(float(scipy_logsumexp(np.asarray(xs, dtype=np.float64))), math.log(len(xs)))


def logmeanexp(logprobs: Iterable[float]) -> float:
    """``log(mean(exp(x)))``: the log of the mean probability, without underflow.

    Use it to aggregate target log-probabilities into the log of the expected pass rate. In ``[-inf, 0]``.

    Example:
        >>> logmeanexp([-1e4, -1e4])
        -10000.0
        >>> logmeanexp([0.0, float("-inf")]) == math.log(0.5)
        True
        >>> logmeanexp([float("-inf")])
        -inf
    """
    xs = _logprobs(logprobs, "logprobs")
    return min(0.0, logsumexp(xs) - math.log(len(xs)))


def mean_logprob(logprobs: Iterable[float]) -> float:
    """Arithmetic mean of log-probabilities (log of the geometric mean probability); ``-inf`` if any is.

    Example:
        >>> mean_logprob([-1.0, -2.0, -3.0])
        -2.0
        >>> mean_logprob([-1.0, float("-inf")])
        -inf
    """
    xs = _logprobs(logprobs, "logprobs")
    if -math.inf in xs:
        return -math.inf  # fsum of [-inf, finite] is -inf too, but be explicit: never inf - inf
    try:
        return math.fsum(xs) / len(xs)
    except OverflowError:  # the sum leaves float64 ([-1e308, -1e308]); the mean does not
        return math.fsum(x / len(xs) for x in xs)


def mean_prob(logprobs: Iterable[float]) -> float:
    """Arithmetic mean of the probabilities ``exp(x)``: an unbiased estimate of the pass rate of sampling at
    temperature 1 when ``x`` are target log-probabilities. Computed as ``exp(logmeanexp(x))``.

    Example:
        >>> mean_prob([0.0, float("-inf")])
        0.5
        >>> round(mean_prob([math.log(0.2), math.log(0.4)]), 12)
        0.3
        >>> mean_prob([-1e4])
        0.0
    """
    return min(1.0, math.exp(logmeanexp(logprobs)))


def pooled_token_logprob(token_logprobs: Sequence[Sequence[float]]) -> float:
    """Mean log-probability over all target tokens of all samples (token-weighted, unlike the mean of
    per-sample ``per_token_logprob``): ``sum_s sum_i x_si / sum_s L_s``.

    Args:
        token_logprobs: one sequence of per-position log-probabilities per sample.

    Example:
        >>> pooled_token_logprob([[-1.0, -1.0], [-4.0]])
        -2.0
        >>> pooled_token_logprob([[0.0], [float("-inf")]])
        -inf
    """
    if isinstance(token_logprobs, (str, bytes, Mapping)) or not isinstance(token_logprobs, (Sequence, np.ndarray)):
        raise ValueError(f"token_logprobs must be a sequence of per-sample sequences, got {describe(token_logprobs)}")
    flat: list[float] = []
    for i, row in enumerate(token_logprobs):
        if isinstance(row, (str, bytes)) or not isinstance(row, (Sequence, np.ndarray)) or getattr(row, "ndim", 1) != 1:
            raise ValueError(f"token_logprobs[{i}] must be a sequence of log-probabilities, got {describe(row)}")
        flat.extend(_check_many(row.tolist() if isinstance(row, np.ndarray) else list(row), f"token_logprobs[{i}]"))
    return mean_logprob(flat) if flat else _raise_empty()


def _raise_empty() -> float:
    raise ValueError("token_logprobs must hold at least one log-probability, got none")
