"""The control task's data: every problem hangs on one long carry chain, deterministically."""

from __future__ import annotations

import random

import pytest

from lm_eval_mirage.tasks import carry_data
from lm_eval_mirage.tasks.carry_data import CarrySpec, carry_docs, carry_problem, chain_length, held_out_keys


def _sums(a: str, b: str) -> list[int]:
    return [int(x) + int(y) for x, y in zip(reversed(a), reversed(b))]  # least significant first


@pytest.mark.parametrize("spec", [CarrySpec(6, 3, 5), CarrySpec(4, 1, 3), CarrySpec(8, 7, 7)])
def test_problems_have_one_chain_of_the_asked_length(spec):
    rng = random.Random(1)
    generated = killed = 0
    for _ in range(400):
        a, b = carry_problem(rng, spec)
        assert len(a) == len(b) == spec.digits and a[0] != "0" and b[0] != "0"
        assert len(str(int(a) + int(b))) == spec.digits  # no overflow: digits line up
        sums = _sums(a, b)
        assert sums[-1] <= 8
        length = chain_length(a, b)
        assert spec.min_chain <= max(length, 1) <= spec.max_chain
        # the chain's bottom is the lowest position below a run of 9-sums of that length
        runs = [i for i in range(len(sums)) if sums[i] != 9 and all(s == 9 for s in sums[i + 1 : i + length])]
        assert runs
        if length > 1:
            bottom = next(
                i for i in runs if i + length <= len(sums) - 1 and all(s == 9 for s in sums[i + 1 : i + length])
            )
            generated += sums[bottom] >= 10
            killed += sums[bottom] <= 8
    if spec.min_chain > 1:
        assert generated > 100 and killed > 100  # both outcomes are common: the carry must be computed


def test_docs_are_deterministic_distinct_and_disjoint():
    first, again = carry_docs(num_problems=200), carry_docs(num_problems="200")
    assert first == again
    test = {(r["a"], r["b"]) for r in first["test"]}
    pool = {(r["a"], r["b"]) for r in first["train"]}
    assert len(test) == 200 and len(pool) == 50 and not test & pool
    assert all(r["answer"] == str(int(r["a"]) + int(r["b"])) and r["chain"] >= 3 for r in first["test"])
    assert held_out_keys(num_problems=200) == test | pool
    assert carry_docs(num_problems=200, seed=1)["test"] != first["test"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"digits": 1}, "digits=1 must be an integer >= 2"),
        ({"min_chain": 0}, "min_chain=0 must be an integer >= 1"),
        ({"min_chain": 4, "max_chain": 3}, "max_chain=3 must be an integer >= 4"),
        ({"digits": 5, "max_chain": 5}, "max_chain=5 must be <= digits - 1 = 4"),
        ({"num_problems": "x"}, "num_problems='x' must be an integer >= 1"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        carry_docs(**kwargs)


def test_loader_builds_datasets():
    data = carry_data.load_carry(num_problems=5, pretrained="ignored", seed="3")
    assert data["test"].num_rows == 5 and data["train"].num_rows == 50
    assert set(data["test"].column_names) >= {"a", "b", "op_word", "answer", "answer_digits", "chain"}
