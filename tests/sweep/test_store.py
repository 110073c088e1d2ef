"""Output-folder bookkeeping: atomic writes, params.json merging (signals held during a commit: tests/test_io.py)."""

from __future__ import annotations

import json
import os

import pytest

from lm_eval_mirage.sweep.store import atomic_write_json, atomic_write_text, update_params


def test_atomic_write_replaces_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "sub" / "f.json"
    atomic_write_json(path, {"b": 1, "a": [1, 2]})
    atomic_write_text(path, "second\n")
    assert path.read_text() == "second\n"
    assert os.listdir(path.parent) == ["f.json"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "f.json"
    atomic_write_text(path, "old")
    with pytest.raises(TypeError):
        atomic_write_json(path, {"x": object()})  # not serialisable: fails before anything is replaced
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.json"]


def test_params_json_merges_and_keeps_models_no_longer_swept(tmp_path):
    update_params(tmp_path, {"m1": {"params": 1}, "m2": {"params": 2}})
    update_params(tmp_path, {"m2": {"params": 20}, "m3": {"params": None}})
    assert json.loads((tmp_path / "params.json").read_text()) == {
        "m1": {"params": 1},
        "m2": {"params": 20},
        "m3": {"params": None},
    }
    stamp = (tmp_path / "params.json").stat().st_mtime_ns
    update_params(tmp_path, {"m1": {"params": 1}})  # nothing new: the file is not rewritten
    assert (tmp_path / "params.json").stat().st_mtime_ns == stamp
