from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

from lm_eval_mirage.tasks.arithmetic import DATA_VERSION, generate, validate_spec

# The 32 generation tasks' specs at the default size and seed.
SUITE = [(op, n, "exact") for op in ("add", "sub", "mul") for n in range(1, 11)] + [("mul", 2, "range"), ("add", 4, "range")]
# Digest of the whole default suite; changes only with DATA_VERSION (bump it and this value together).
SUITE_DIGEST = "d81e641d381a48366a8ac02b7368552c16b2d328fece3dfbf01d11f9673c88fe"


def suite_digest() -> str:
    h = hashlib.sha256()
    for op, n, mode in SUITE:
        h.update(json.dumps(generate(validate_spec(op, n, mode)), sort_keys=True).encode())
    return h.hexdigest()


def test_suite_is_pinned():
    assert DATA_VERSION == 1
    assert suite_digest() == SUITE_DIGEST


@pytest.mark.parametrize("hashseed", ["1", "98765"])
def test_identical_across_processes_and_hash_seeds(hashseed):
    code = "from tests.tasks.test_arithmetic import suite_digest; print(suite_digest())"
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == SUITE_DIGEST


@pytest.mark.parametrize("op", ["add", "sub", "mul"])
@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_operands_have_exactly_n_digits_and_answers_are_right(op, n):
    docs = generate(validate_spec(op, n, num_problems=300, seed=7))
    for split in ("train", "test"):
        for d in docs[split]:
            a, b = int(d["a"]), int(d["b"])
            assert len(d["a"]) == n and len(d["b"]) == n
            assert int(d["answer"]) == {"add": a + b, "sub": a - b, "mul": a * b}[op]
            assert d["answer_digits"] == len(str(abs(int(d["answer"]))))
            assert d["op"] == op and d["op_word"] == {"add": "plus", "sub": "minus", "mul": "times"}[op]


def test_splits_are_disjoint_and_problems_distinct():
    docs = generate(validate_spec("add", 2, num_problems=2000))
    train = {(d["a"], d["b"]) for d in docs["train"]}
    test = [(d["a"], d["b"]) for d in docs["test"]]
    assert len(test) == 2000 and len(set(test)) == 2000
    assert len(train) == 50
    assert not train & set(test)


def test_ten_digit_products_exceed_int64_and_stay_exact():
    docs = generate(validate_spec("mul", 10, num_problems=50))
    assert any(len(d["answer"]) == 20 for d in docs["test"])
    for d in docs["test"]:
        assert int(d["a"]) * int(d["b"]) == int(d["answer"])


def test_small_problem_space_holds_every_remaining_problem_once():
    docs = generate(validate_spec("add", 1, num_problems=2000))
    assert len(docs["train"]) == 10
    assert len(docs["test"]) == 90
    assert len({(d["a"], d["b"]) for d in docs["test"] + docs["train"]}) == 100


def test_paper_preset_operands_span_the_range_and_answers_vary_in_length():
    docs = generate(validate_spec("mul", 2, "range", num_problems=2000))
    a = [int(d["a"]) for d in docs["test"]]
    assert min(a) < 10 and max(a) >= 90
    assert {d["answer_digits"] for d in docs["test"]} == {1, 2, 3, 4}


def test_seed_and_size_change_the_data_deterministically():
    a = generate(validate_spec("add", 3, num_problems=100, seed=1))
    b = generate(validate_spec("add", 3, num_problems=100, seed=2))
    assert a != b
    assert a == generate(validate_spec("add", 3, num_problems=100, seed=1))
    # A larger test set extends, not reshuffles, the smaller one (useful for resolution studies).
    big = generate(validate_spec("add", 3, num_problems=200, seed=1))
    assert big["test"][:100] == a["test"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(operation="div", digits=2), r"operation='div' is not supported; accepted: 'add', 'sub', 'mul'"),
        (dict(operation="add", digits=0), r"digits=0 must be an integer >= 1"),
        (dict(operation="add", digits="two"), r"digits='two' must be an integer >= 1"),
        (dict(operation="add", digits=2, num_problems=0), r"num_problems=0 must be an integer >= 1"),
        (dict(operation="add", digits=2, seed=1.5), r"seed=1.5 must be an integer"),
        (dict(operation="add", digits=2, seed="abc"), r"seed='abc' must be an integer"),
        (dict(operation="add", digits=2, seed=True), r"seed=True must be an integer"),
        (dict(operation="add", digits=2, mode="uniform"), r"mode='uniform' is not supported; accepted: 'exact', 'range'"),
    ],
)
def test_bad_parameters_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        validate_spec(**kwargs)


def test_integers_as_strings_are_accepted():
    spec = validate_spec("add", "3", num_problems="10", seed="-4")
    assert (spec.digits, spec.num_problems, spec.seed) == (3, 10, -4)
