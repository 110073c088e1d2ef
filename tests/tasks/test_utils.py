from __future__ import annotations

import pytest

from lm_eval_mirage.tasks.utils import load_arith


def test_returns_train_and_test_datasets_with_the_doc_fields():
    ds = load_arith(operation="sub", digits=3, mode="exact", num_problems=25, seed=3, version=1.0, pretrained="x")
    assert set(ds) == {"train", "test"}
    assert ds["test"].num_rows == 25
    doc = ds["test"][0]
    assert set(doc) == {"id", "a", "b", "op", "op_word", "answer", "answer_digits"}
    assert int(doc["a"]) - int(doc["b"]) == int(doc["answer"])


def test_small_space_warns_instead_of_silently_shrinking(caplog):
    with caplog.at_level("WARNING"):
        ds = load_arith(operation="mul", digits=1, num_problems=500)
    assert ds["test"].num_rows == 90
    assert "only 90 distinct problems" in caplog.text


def test_bad_metadata_is_a_named_error():
    with pytest.raises(ValueError, match="num_problems=-1"):
        load_arith(operation="add", digits=2, num_problems=-1)
