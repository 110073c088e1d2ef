"""Fuzz of every public metric function: any input either returns a value within the documented bounds or
raises a ``ValueError`` naming the argument (never ``TypeError``, ``OverflowError``, ``KeyError``, NaN, ...).

The inputs are what an outside reliability test fed the metrics (293,141 calls found 10,659 OverflowError and
3,624 TypeError): JSON ``true``, dicts, 400-digit integers, huge and tiny floats, ragged lists, bytes, numpy
scalars, mixed with plausible values so that the checks deep inside each function are reached too.

``FUZZ_TABLE`` (name -> function, argument strategies, names an error may cite, bounds check) is importable,
so the same fuzz can be run at a larger size by hand: ``run_fuzz(examples_per_function)``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lm_eval_mirage.metrics import answers, choice, edit_distance, harness, likelihood, reconstruction

# ---------------------------------------------------------------- hostile values

_SPECIAL = [
    np.float32(-1.5),
    np.float64(-0.25),
    np.int64(3),
    np.bool_(True),
    np.bool_(False),
    math.nan,
    -math.inf,
    math.inf,
    1e308,
    -1e308,
    5e-7,
    2e-4,
    0.0,
    -0.0,
    1,
    0,
    -1,
    10**400,
    -(10**400),
    2**64,
    "42",
    "-1.5",
    "",
    b"1",
]
atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.integers(min_value=-(10**400), max_value=-(10**300)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.binary(max_size=4),
    st.sampled_from(_SPECIAL),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _object_array(items: list) -> np.ndarray:
    """A 1-D object array holding ``items`` as they are (``np.array(items, dtype=object)`` may broadcast)."""
    arr = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        arr[i] = item
    return arr


hostile = st.recursive(
    atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=2), inner, max_size=2),
        st.lists(inner, min_size=1, max_size=4).map(_object_array),
    ),
    max_leaves=12,
)


def mixed(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly plausible values (to reach the checks inside), often hostile ones."""
    return st.one_of(valid, valid, hostile)


logprob = st.one_of(st.floats(-1e4, 0.0), st.sampled_from([-math.inf, 0.0, -1e308, 5e-7, -1e-300]))
logprob_lists = st.lists(st.one_of(logprob, logprob, logprob, atoms), min_size=0, max_size=8)
probability = st.floats(0.0, 1.0)
texts = st.one_of(st.text(alphabet="0123456789- x\n", max_size=30), st.text(max_size=15), st.none())
images = st.one_of(
    st.lists(st.lists(st.floats(-2, 2), min_size=2, max_size=2), min_size=1, max_size=3),
    st.lists(
        st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), atoms), min_size=2, max_size=2),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from(
        [
            np.zeros((2, 2)),
            np.full((1, 2), 1e200),
            np.array([[True, False]]),
            np.zeros((0, 2)),
            np.zeros(3),
            np.zeros((2, 0)),
            [[]],
        ]
    ),  # images without pixels: the mean was NaN (found by a larger run)
)
tokenizers = st.sampled_from([None, str.split, list, lambda s: 5, lambda s: [[1]], lambda s: "ab", 7, "x"])
harness_values = st.one_of(st.lists(texts, max_size=2), st.lists(st.integers(), max_size=1), hostile)
harness_options = st.fixed_dictionaries(
    {},
    optional={
        "parse": st.one_of(st.booleans(), hostile),
        "tokenizer": hostile.filter(lambda v: not isinstance(v, str)),
        "tokeniser": st.just("x"),
    },
)

# ---------------------------------------------------------------- bounds


def within(lo: float, hi: float, *, inf_ok: bool = False) -> Callable[[Any], bool]:
    def check(r: Any) -> bool:
        if isinstance(r, bool) or not isinstance(r, (int, float)) or math.isnan(r):
            return False
        if not inf_ok and not math.isfinite(r):
            return False
        return lo <= r <= hi

    return check


def array_within(lo: float, hi: float) -> Callable[[Any], bool]:
    def check(r: Any) -> bool:
        return isinstance(r, np.ndarray) and bool(np.all(np.isfinite(r)) and np.all(r >= lo) and np.all(r <= hi))

    return check


def is_answer(r: Any) -> bool:
    cap = getattr(answers, "MAX_ANSWER_DIGITS", 10**9)  # older versions had no cap
    return isinstance(r, str) and len(r) <= cap + 1 and (r == "" or r.lstrip("-").isdigit())


def is_token_list(r: Any) -> bool:
    return isinstance(r, list) and all(isinstance(t, str) for t in r)


def is_bool_array(r: Any) -> bool:
    return isinstance(r, np.ndarray) and r.dtype == bool


@dataclass(frozen=True)
class Fuzzed:
    fn: Callable[..., Any]
    args: tuple[st.SearchStrategy, ...]
    names: tuple[str, ...]  # what a ValueError must mention (one of them)
    ok: Callable[[Any], bool]
    kwargs: st.SearchStrategy | None = None


LOGP = within(-math.inf, 0.0, inf_ok=True)
UNIT = within(0.0, 1.0)
gold = st.one_of(st.integers(0, 4), st.lists(st.integers(0, 4), max_size=3))
ECE_ARGS = (
    mixed(st.lists(probability, min_size=0, max_size=12)),
    mixed(st.lists(st.sampled_from([0, 1, True, False, 0.0, 1.0]), max_size=12)),
)
ECE_KW = st.fixed_dictionaries({}, optional={"n_bins": mixed(st.integers(1, 20))})
ECE_NAMES = ("confidences", "correct", "n_bins")
IMG = (mixed(images), mixed(images))

#: Every public pure metric of lm_eval_mirage.metrics (and the harness adapters), by name.
FUZZ_TABLE: dict[str, Fuzzed] = {
    "answers.parse_answer": Fuzzed(answers.parse_answer, (mixed(texts),), ("output",), is_answer),
    "answers.exact_match": Fuzzed(
        answers.exact_match, (mixed(texts), mixed(texts)), ("target", "output"), within(0, 1)
    ),
    "answers.digit_accuracy": Fuzzed(answers.digit_accuracy, (mixed(texts), mixed(texts)), ("target", "output"), UNIT),
    "edit_distance.normalize_text": Fuzzed(
        edit_distance.normalize_text, (mixed(texts),), ("text",), lambda r: isinstance(r, str)
    ),
    "edit_distance.char_tokens": Fuzzed(edit_distance.char_tokens, (mixed(texts),), ("text",), is_token_list),
    "edit_distance.token_edit_distance": Fuzzed(
        edit_distance.token_edit_distance,
        (mixed(texts), mixed(texts)),
        ("target", "output", "tokenize"),
        within(0, edit_distance.MAX_TOKENS),
        st.fixed_dictionaries({}, optional={"tokenize": tokenizers}),
    ),
    "edit_distance.normalized_edit_distance": Fuzzed(
        edit_distance.normalized_edit_distance,
        (mixed(texts), mixed(texts)),
        ("target", "output", "tokenize"),
        UNIT,
        st.fixed_dictionaries({}, optional={"tokenize": tokenizers}),
    ),
    "likelihood.check_logprob": Fuzzed(likelihood.check_logprob, (mixed(logprob),), ("logprob_sum",), LOGP),
    "likelihood.target_prob": Fuzzed(likelihood.target_prob, (mixed(logprob),), ("logprob_sum",), UNIT),
    "likelihood.per_token_logprob": Fuzzed(
        likelihood.per_token_logprob, (mixed(logprob), mixed(st.integers(1, 50))), ("logprob_sum", "n_tokens"), LOGP
    ),
    "likelihood.per_token_prob": Fuzzed(
        likelihood.per_token_prob, (mixed(logprob), mixed(st.integers(1, 50))), ("logprob_sum", "n_tokens"), UNIT
    ),
    "likelihood.greedy_exact_match": Fuzzed(
        likelihood.greedy_exact_match, (mixed(st.booleans()),), ("is_greedy",), within(0, 1)
    ),
    "likelihood.logsumexp": Fuzzed(
        likelihood.logsumexp, (mixed(logprob_lists),), ("logprobs",), within(-math.inf, math.log(1e6), inf_ok=True)
    ),
    "likelihood.logmeanexp": Fuzzed(likelihood.logmeanexp, (mixed(logprob_lists),), ("logprobs",), LOGP),
    "likelihood.mean_logprob": Fuzzed(likelihood.mean_logprob, (mixed(logprob_lists),), ("logprobs",), LOGP),
    "likelihood.mean_prob": Fuzzed(likelihood.mean_prob, (mixed(logprob_lists),), ("logprobs",), UNIT),
    "likelihood.pooled_token_logprob": Fuzzed(
        likelihood.pooled_token_logprob, (mixed(st.lists(logprob_lists, max_size=3)),), ("token_logprobs",), LOGP
    ),
    "choice.choice_probs": Fuzzed(choice.choice_probs, (mixed(logprob_lists),), ("logliks",), array_within(0.0, 1.0)),
    "choice.correct_choice_prob": Fuzzed(
        choice.correct_choice_prob, (mixed(gold), mixed(logprob_lists)), ("gold", "logliks"), UNIT
    ),
    "choice.correct_choice_logprob": Fuzzed(
        choice.correct_choice_logprob, (mixed(gold), mixed(logprob_lists)), ("gold", "logliks"), LOGP
    ),
    "choice.brier_score": Fuzzed(
        choice.brier_score, (mixed(gold), mixed(logprob_lists)), ("gold", "logliks"), within(0.0, 2.0)
    ),
    "choice.binary_brier_score": Fuzzed(
        choice.binary_brier_score, (mixed(gold), mixed(logprob_lists)), ("gold", "logliks"), UNIT
    ),
    "choice.max_choice_prob": Fuzzed(choice.max_choice_prob, (mixed(logprob_lists),), ("logliks",), UNIT),
    "choice.choice_accuracy": Fuzzed(
        choice.choice_accuracy, (mixed(gold), mixed(logprob_lists)), ("gold", "logliks"), within(0, 1)
    ),
    "choice.expected_calibration_error": Fuzzed(choice.expected_calibration_error, ECE_ARGS, ECE_NAMES, UNIT, ECE_KW),
    "choice.expected_calibration_error_equal_mass": Fuzzed(
        getattr(choice, "expected_calibration_error_equal_mass", None), ECE_ARGS, ECE_NAMES, UNIT, ECE_KW
    ),
    "choice.expected_calibration_error_equal_width": Fuzzed(
        getattr(choice, "expected_calibration_error_equal_width", None), ECE_ARGS, ECE_NAMES, UNIT, ECE_KW
    ),
    "reconstruction.per_image_squared_error": Fuzzed(
        reconstruction.per_image_squared_error, IMG, ("x", "x_hat"), array_within(0.0, math.inf)
    ),
    "reconstruction.mean_squared_error": Fuzzed(
        reconstruction.mean_squared_error, IMG, ("x", "x_hat"), within(0.0, math.inf)
    ),
    "reconstruction.reconstruction_c": Fuzzed(
        reconstruction.reconstruction_c, (*IMG, mixed(st.floats(0.01, 5))), ("x", "x_hat", "c"), UNIT
    ),
    "reconstruction.pixels_correct": Fuzzed(
        reconstruction.pixels_correct,
        IMG,
        ("x", "x_hat", "tol"),
        is_bool_array,
        st.fixed_dictionaries({"tol": mixed(st.floats(0.01, 1))}),
    ),
    "reconstruction.pixel_accuracy": Fuzzed(
        reconstruction.pixel_accuracy,
        IMG,
        ("x", "x_hat", "tol"),
        UNIT,
        st.fixed_dictionaries({"tol": mixed(st.floats(0.01, 1))}),
    ),
    "reconstruction.subset_accuracy": Fuzzed(
        reconstruction.subset_accuracy,
        (mixed(st.lists(st.lists(st.booleans(), min_size=1, max_size=3), min_size=1, max_size=3)),),
        ("correct",),
        UNIT,
    ),
}
for _name in ("token_edit_distance", "normalized_edit_distance", "digit_accuracy"):
    FUZZ_TABLE[f"harness.{_name}"] = Fuzzed(
        getattr(harness, _name),
        (),
        ("references", "predictions", "option"),
        within(0.0, edit_distance.MAX_TOKENS) if _name == "token_edit_distance" else UNIT,
        st.fixed_dictionaries({"references": harness_values, "predictions": harness_values}).flatmap(
            lambda kw: harness_options.map(lambda opts: {**kw, **opts})
        ),
    )
FUZZ_TABLE = {k: v for k, v in FUZZ_TABLE.items() if v.fn is not None}  # the fuzz also runs on older versions


def classify(entry: Fuzzed, args: tuple, kwargs: dict) -> str:
    """``"ok"``, ``"ValueError"`` (naming an argument), or what went wrong."""
    try:
        result = entry.fn(*args, **kwargs)
    except ValueError as err:
        return "ValueError" if any(n in str(err) for n in entry.names) else "ValueError not naming the argument"
    except Exception as err:  # noqa: BLE001 - counting exactly these is the point
        return type(err).__name__
    return "ok" if entry.ok(result) else "out of bounds"


def _call_strategy(entry: Fuzzed) -> st.SearchStrategy:
    return st.tuples(st.tuples(*entry.args), entry.kwargs if entry.kwargs is not None else st.just({}))


def run_fuzz(examples_per_function: int, *, derandomize: bool = True) -> dict[str, Counter]:
    """Outcome counts per function (``classify``) over ``examples_per_function`` generated calls each
    (the same calls on every run unless ``derandomize=False``)."""

    def recorder(entry: Fuzzed, c: Counter) -> Callable[[], None]:
        @settings(
            max_examples=examples_per_function,
            deadline=None,
            database=None,
            derandomize=derandomize,
            suppress_health_check=list(HealthCheck),
        )
        @given(_call_strategy(entry))
        def record(call):
            args, kwargs = call
            with np.errstate(all="ignore"):
                c[classify(entry, args, kwargs)] += 1

        return record

    counts: dict[str, Counter] = {}
    for name, entry in FUZZ_TABLE.items():
        recorder(entry, counts.setdefault(name, Counter()))()
    return counts


# ---------------------------------------------------------------- the tests


def test_the_table_covers_every_public_metric():
    public = {
        f"{m.__name__.rsplit('.', 1)[1]}.{n}"
        for m in (answers, choice, edit_distance, likelihood, reconstruction)
        for n in m.__all__
        if callable(getattr(m, n))
    }
    public |= {f"harness.{n}" for n in harness.GENERATION_METRICS}
    # tokenizer_tokens loads a model's tokenizer: tested in test_edit_distance.py, not fuzzed (no hub access)
    assert public - set(FUZZ_TABLE) == {"edit_distance.tokenizer_tokens"}


@pytest.mark.parametrize("name", sorted(FUZZ_TABLE))
def test_any_input_gives_a_bounded_value_or_a_value_error_naming_the_argument(name):
    entry = FUZZ_TABLE[name]

    # the hostile inputs are large and nested by design: health checks on their generation do not apply
    @settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_call_strategy(entry))
    def check(call):
        args, kwargs = call
        with np.errstate(all="ignore"):
            outcome = classify(entry, args, kwargs)
        assert outcome in {"ok", "ValueError"}, f"{name}(*{args!r:.300}, **{kwargs!r:.200}) -> {outcome}"

    check()


@pytest.mark.parametrize(
    "call",
    [
        # the cases of the outside report, by hand
        lambda: likelihood.mean_logprob([-1e308, -1e308]),
        lambda: likelihood.per_token_logprob(-3.0, 10**400),
        lambda: likelihood.target_prob(10**400),
        lambda: choice.correct_choice_prob(0, [10**400, 0.0]),
        lambda: choice.brier_score({"gold": 0}, [0.0, -1.0]),
        lambda: choice.choice_probs({"a": -1.0}),
        lambda: choice.expected_calibration_error([{"c": 0.5}], [1]),
        lambda: reconstruction.mean_squared_error({"x": 1}, {"x": 1}),
    ],
)
def test_reported_crashes_now_return_or_raise_value_error(call):
    try:
        value = call()
    except ValueError:
        return
    assert math.isfinite(value)


def test_reported_bounds_hold():
    assert likelihood.mean_logprob([-1e308, -1e308]) == -1e308
    assert choice.correct_choice_logprob([0, 1], [0.0, 0.0]) == 0.0  # was log 2 = 0.693
    # every choice correct: the sum of the softmax was 1.0000000000000002 before clipping
    lls = [
        -4.541771324217188,
        -4.037626271346913,
        -2.3439342021012823,
        -0.7933668909879106,
        -0.9417684436092834,
        -4.374062050610876,
        -5.880774949349894,
    ]
    assert float(np.sum(choice.choice_probs(lls))) > 1.0
    assert choice.correct_choice_prob(list(range(len(lls))), lls) == 1.0
    assert choice.binary_brier_score(list(range(len(lls))), lls) == 0.0
    for bad in (True, np.bool_(True), 0.5, 3):
        with pytest.raises(ValueError, match="logliks"):
            choice.correct_choice_logprob(0, [bad, -1.0])
        with pytest.raises(ValueError, match="logprob_sum"):
            likelihood.target_prob(bad)
