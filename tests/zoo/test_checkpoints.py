"""A member on disk: the module beside the shipped data folder, and the checks before a saved member is used.

Each damaged form is a real file written here (a scaled copy of a shipped member's weights, a pickle, a forged
safetensors header); the check must refuse it with one line naming the file, and must never unpickle.
"""

from __future__ import annotations

import json
import pickle
import re
import shutil
import struct
from pathlib import Path

import pytest

import lm_eval_mirage.zoo.checkpoints as checkpoints
from lm_eval_mirage.zoo.checkpoints import (
    METADATA_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    load_saved_members,
    read_metadata,
    safetensors_header,
    shipped_checkpoints,
    verify_member,
)

SMALLEST = "recall-w4-s0"  # 7 KB of weights: the cheapest shipped member to copy and load
OVERLAPPING = {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}


class Canary:
    """Unpickling this creates ``path``: proof that a pickle was loaded."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _copy_member(tmp_path: Path, name: str = SMALLEST) -> tuple[Path, dict]:
    folder = shutil.copytree(shipped_checkpoints() / name, tmp_path / name)
    return folder, read_metadata(folder)


def _rewrite_weights(folder: Path, change) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(folder / WEIGHTS_FILE))
    save_file({k: change(v) for k, v in tensors.items()}, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})


def _safetensors_bytes(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_the_module_wins_over_the_data_folder_and_the_shipped_members_are_found():
    # zoo/checkpoints.py and the data folder zoo/checkpoints/ (no __init__.py) share a name: a module beats a
    # namespace folder on import, and the folder stays package data reached through shipped_checkpoints().
    assert Path(checkpoints.__file__).name == "checkpoints.py" and hasattr(checkpoints, "verify_member")
    root = shipped_checkpoints()
    assert root.is_dir() and root == Path(checkpoints.__file__).with_suffix("")
    names = {p.name for p in root.iterdir()}
    assert {"recall-w4-s0", "carry-d1-s0", "modadd-w8-s0", "carrysteps-d2-s0-t0016"} <= names
    assert not (root / "__init__.py").exists()


@pytest.mark.parametrize("name", ["recall-w4-s0", "modadd-w8-s0", "carry-d1-s0", "carrysteps-d2-s0-t0016"])
def test_shipped_members_of_every_family_pass_the_check(name):
    folder = shipped_checkpoints() / name
    verify_member(folder, read_metadata(folder))


def test_the_header_is_read_exactly_as_safetensors_reads_it():
    from safetensors import safe_open

    path = shipped_checkpoints() / SMALLEST / WEIGHTS_FILE
    header = safetensors_header(path)
    with safe_open(str(path), "pt") as fh:
        expected = {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    assert {k: shape for k, (_, shape) in header.items()} == expected
    assert {dtype for dtype, _ in header.values()} == {"F32"}


def test_scaled_weights_fail_the_sha256_check_with_one_line_naming_the_file(tmp_path):
    folder, meta = _copy_member(tmp_path)
    verify_member(folder, meta)  # the copy is intact
    _rewrite_weights(folder, lambda t: t * 0.7)
    with pytest.raises(CheckpointError) as err:
        verify_member(folder, meta, fix="delete it")
    message = str(err.value)
    assert message.startswith(f"{folder / WEIGHTS_FILE}: the weights' SHA-256 is ")
    assert meta["state_sha256"][:12] in message and message.endswith("; delete it") and "\n" not in message


def test_weights_of_another_width_are_refused_before_loading(tmp_path):
    folder, meta = _copy_member(tmp_path)
    shutil.copy(shipped_checkpoints() / "recall-w5-s0" / WEIGHTS_FILE, folder / WEIGHTS_FILE)
    with pytest.raises(
        CheckpointError, match=re.escape(f"{folder / WEIGHTS_FILE}: holds 1555 weights") + ".*params=1148"
    ):
        verify_member(folder, meta)


def test_a_config_of_another_width_with_its_weights_fails_the_sha256_check(tmp_path):
    folder, meta = _copy_member(tmp_path)
    other = shipped_checkpoints() / "recall-w5-s0"
    for name in (WEIGHTS_FILE, "config.json"):
        shutil.copy(other / name, folder / name)
    meta["params"] = read_metadata(other)["params"]  # even when the count is edited to match
    with pytest.raises(CheckpointError, match="the weights' SHA-256 is"):
        verify_member(folder, meta)


def test_a_pickle_named_model_safetensors_is_never_unpickled(tmp_path):
    folder, meta = _copy_member(tmp_path)
    canary = tmp_path / "unpickled"
    (folder / WEIGHTS_FILE).write_bytes(pickle.dumps(Canary(canary), protocol=4))
    with pytest.raises(CheckpointError, match=re.escape(f"{folder / WEIGHTS_FILE}: a pickle (torch.save) file")):
        verify_member(folder, meta)
    assert not canary.exists()


@pytest.mark.parametrize("weights_name", ["pytorch_model.bin", "model.pt"])
def test_a_pickled_weights_file_is_refused_with_or_without_safetensors(tmp_path, weights_name):
    folder, meta = _copy_member(tmp_path)
    canary = tmp_path / "unpickled"
    (folder / weights_name).write_bytes(pickle.dumps(Canary(canary)))
    with pytest.raises(CheckpointError, match=re.escape(f"{folder / weights_name}: a pickled weights file")):
        verify_member(folder, meta)
    (folder / WEIGHTS_FILE).unlink()  # the form a loader would fall back to
    with pytest.raises(CheckpointError, match=re.escape(f"{folder / weights_name}: a pickled weights file")):
        verify_member(folder, meta)
    assert not canary.exists()


def test_missing_weights_are_named(tmp_path):
    folder, meta = _copy_member(tmp_path)
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match=re.escape(f"{folder / WEIGHTS_FILE}: missing")):
        verify_member(folder, meta)


@pytest.mark.parametrize(
    ("header", "data", "message"),
    [
        # 10**18 float32 elements claimed over 16 honest bytes: refused from the header, nothing allocated
        (
            {"w": {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 16]}},
            bytes(16),
            f"claims {10**18} elements",
        ),
        ({"w": {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 4 * 10**18]}}, bytes(16), "outside"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(12), "4 bytes after the last tensor"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "v": OVERLAPPING}, bytes(8), "overlap"),
        ({"w": {"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}}, bytes(8), "dtype 'X9'"),
        ({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, bytes(8), "shape [-2]"),
        ({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, True]}}, bytes(8), "data_offsets"),
        (["not", "a", "dict"], b"", "header is a JSON list"),
    ],
)
def test_forged_headers_are_refused_naming_the_file(tmp_path, header, data, message):
    path = tmp_path / WEIGHTS_FILE
    path.write_bytes(_safetensors_bytes(header, data))
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        safetensors_header(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "0 bytes, too short for a safetensors file"),
        (struct.pack("<Q", 10**18) + b"{}", "claim a header of 1000000000000000000 bytes, the file has 10"),
        (struct.pack("<Q", 4) + b"\xff\xfe{]", "header is not JSON"),
        (struct.pack("<Q", 20000) + b"[" * 10000 + b"]" * 10000, "header is not JSON"),  # nesting past recursion
        (b"PK\x03\x04" + bytes(60), "a pickle (torch.save) file"),  # torch.save's zip format
    ],
)
def test_files_that_are_not_safetensors_are_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / WEIGHTS_FILE
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: ") + ".*" + re.escape(message)):
        safetensors_header(path)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    path = tmp_path / WEIGHTS_FILE
    os.mkfifo(path)
    with pytest.raises(CheckpointError, match=re.escape(f"{path}: not a regular file")):
        safetensors_header(path)


@pytest.mark.parametrize(
    ("sha", "message"),
    [(None, "state_sha256=None"), ("abc", "state_sha256='abc'"), ("G" * 64, "is not a SHA-256")],
)
def test_metadata_without_a_sha256_is_refused(tmp_path, sha, message):
    folder, meta = _copy_member(tmp_path)
    meta["state_sha256"] = sha
    with pytest.raises(CheckpointError, match=re.escape(f"{folder / METADATA_FILE}: ") + ".*" + re.escape(message)):
        verify_member(folder, meta)


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not a JSON metadata file"), ("[1, 2]", "holds a JSON list"), ("[" * 100000, "not a JSON")],
)
def test_damaged_metadata_is_one_error_naming_the_file(tmp_path, content, message):
    folder, _ = _copy_member(tmp_path)
    (folder / METADATA_FILE).write_text(content)
    with pytest.raises(CheckpointError, match=re.escape(f"{folder / METADATA_FILE}: {message}")):
        load_saved_members(tmp_path, "recall", lambda f, m: m, order=lambda m: 0)
