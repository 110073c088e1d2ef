"""The recall table behind ``mirage_demo_recall``: deterministic, well-formed, and what the task YAML asks."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from lm_eval_mirage.tasks.demo_data import DEFAULT_DIGITS, DEFAULT_NUM_KEYS, load_recall, recall_prompt, recall_table


def test_table_shape_and_content():
    rows = recall_table()
    assert len(rows) == DEFAULT_NUM_KEYS
    assert [r["id"] for r in rows] == list(range(len(rows)))
    assert len({r["key"] for r in rows}) == len(rows)  # distinct keys
    for r in rows:
        assert re.fullmatch(r"[a-z]{3}", r["key"])
        assert re.fullmatch(r"\d{%d}" % DEFAULT_DIGITS, r["answer"]) and r["answer_digits"] == DEFAULT_DIGITS
    # codes are uniform-looking: every digit occurs at every position
    for position in range(DEFAULT_DIGITS):
        assert {r["answer"][position] for r in rows} == set("0123456789")


def test_table_is_deterministic_across_processes_and_hash_seeds():
    code = "from lm_eval_mirage.tasks.demo_data import recall_table; print(recall_table(20, 5, 3, 7))"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": h}
        ).stdout
        for h in ("1", "12345")
    }
    assert len(outs) == 1 and str(recall_table(20, 5, 3, 7)) == outs.pop().strip()
    assert recall_table(20, 5, 3, 8) != recall_table(20, 5, 3, 7)
    assert recall_table(10, 5, 3, 7) == recall_table(20, 5, 3, 7)[:10]  # a smaller table is a prefix


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_keys": 0}, "num_keys=0"),
        ({"digits": "x"}, "digits='x'"),
        ({"num_keys": 400, "key_length": 2}, "too many"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        recall_table(**kwargs)


def test_load_recall_accepts_harness_keyword_arguments():
    splits = load_recall(num_keys="12", digits="4", seed="2023", pretrained="/some/model", version=1.0)
    assert splits["test"].num_rows == 12 and splits["train"].num_rows == 12
    assert splits["test"][0] == recall_table(12, 4, 3, 2023)[0]


def test_task_yaml_renders_the_training_prompt():
    import yaml

    from lm_eval_mirage.tasks import tasks_path

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    for name in ("mirage_demo_recall", "mirage_demo_recall_ll"):
        with open(f"{tasks_path()}/demo/{name}.yaml") as fh:
            cfg = yaml.load(fh, Loader=Loader)
        assert cfg["doc_to_text"].replace("{{key}}", "kbf") == recall_prompt("kbf")
        assert cfg["custom_dataset"] == "lm_eval_mirage.tasks.demo_data.load_recall"
        assert cfg["num_fewshot"] == 0
        assert cfg["metadata"]["num_keys"] == DEFAULT_NUM_KEYS and cfg["metadata"]["digits"] == DEFAULT_DIGITS


def test_a_larger_table_keeps_the_smaller_one_in_place():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=25, deadline=None)
    @given(st.integers(1, 150), st.integers(1, 150), st.integers(2, 14), st.integers(0, 10**6))
    def check(n, m, digits, seed):
        small, large = sorted((n, m))
        assert recall_table(large, digits, 3, seed)[:small] == recall_table(small, digits, 3, seed)

    check()
