"""The transition task's data: held-out pairs of addition modulo a prime, deterministic and disjoint."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lm_eval_mirage.tasks import modadd_data
from lm_eval_mirage.tasks.modadd_data import modadd_docs, modadd_prompt, modadd_split


def test_split_covers_every_pair_once_and_is_disjoint():
    train, test = modadd_split(31, 0.5, 2025)
    assert len(train) == 480 and len(test) == 481
    assert sorted(train + test) == [(a, b) for a in range(31) for b in range(31)]
    assert set(train).isdisjoint(test)
    assert modadd_split("31", "0.5", "2025") == (train, test)  # harness metadata may be strings
    assert modadd_split(31, 0.5, 1) != (train, test)
    # both splits see every residue as an answer: nothing is unlearnable for lack of examples
    assert {(a + b) % 31 for a, b in train} == {(a + b) % 31 for a, b in test} == set(range(31))


def test_split_is_the_same_in_another_process_and_hash_seed():
    code = "from lm_eval_mirage.tasks.modadd_data import modadd_split; print(modadd_split(31, 0.5, 2025)[1][:5])"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("0", "123")
    }
    assert outs == {f"{modadd_split(31, 0.5, 2025)[1][:5]}\n"}


def test_docs_answer_and_prompt():
    docs = modadd_docs()
    assert len(docs["test"]) == 481 and len(docs["train"]) == 480
    for row in docs["test"]:
        assert row["answer"] == str((row["a"] + row["b"]) % 31) and row["answer_digits"] == len(row["answer"])
        assert row["modulus"] == 31
    assert [r["id"] for r in docs["test"][:3]] == [0, 1, 2]
    assert modadd_docs(num_problems=10)["test"] == docs["test"][:10]
    assert modadd_prompt(3, 30, 31) == "Q: 3+30 mod 31? A:"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"modulus": 1}, "modulus=1 must be an integer >= 2"),
        ({"modulus": 5000}, "modulus=5000 must be <= 1000"),
        ({"modulus": True}, "modulus=True must be an integer >= 2"),
        ({"train_fraction": 0}, "train_fraction=0 must be a number in (0, 1)"),
        ({"train_fraction": 1.0}, "train_fraction=1.0 must be a number in (0, 1)"),
        ({"train_fraction": "half"}, "train_fraction='half' must be a number in (0, 1)"),
        ({"train_fraction": float("nan")}, "train_fraction=nan must be a number in (0, 1)"),
        ({"train_fraction": 0.0001}, "leaves an empty split"),
        ({"seed": -1}, "seed=-1 must be an integer >= 0"),
        ({"num_problems": 0}, "num_problems=0 must be an integer >= 1"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, message):
    with pytest.raises(ValueError) as err:
        modadd_docs(**kwargs)
    assert message in str(err.value)


def test_task_yaml_renders_the_prompt_the_family_trained_on():
    """The harness builds the same prompt and target as modadd_data (the family trained on these lines)."""
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage.tasks import tasks_path

    tm = TaskManager(include_path=tasks_path(), include_defaults=False)
    tasks = tm.load_task_or_group(["mirage_control_modadd", "mirage_control_modadd_ll"])
    gen, ll = tasks["mirage_control_modadd"], tasks["mirage_control_modadd_ll"]
    docs = list(gen.test_docs())
    assert len(docs) == 481
    for doc in docs[:20]:
        assert gen.doc_to_text(doc) == ll.doc_to_text(doc) == modadd_prompt(doc["a"], doc["b"], 31)
        assert gen.doc_to_target(doc) == doc["answer"] and ll.doc_to_target(doc) == f" {doc['answer']}\n"
    assert gen.config.num_fewshot == 0 and ll.config.num_fewshot == 0


def test_module_exports():
    assert set(modadd_data.__all__) <= set(dir(modadd_data))
