"""A trained member on disk, shared by the recall, carry and modadd families: save, find, check.

A member is a Hugging Face folder (``model.safetensors``, ``config.json``, the character tokenizer) plus
``mirage_family.json``, its metadata: family, name, seed, thread count, recipe and the SHA-256 of its weights
(:func:`state_digest`). The shipped members live in the folder ``checkpoints/`` beside this module
(:func:`shipped_checkpoints`).

Before a saved member is evaluated, :func:`verify_member` checks it, treating the folder as untrusted: weights
are read from a safetensors file only (a pickle is never loaded: unpickling runs code), the file's header is
checked against the file's size before anything is allocated, and the weights must hash to the recorded
SHA-256. Every failure is one :class:`CheckpointError` line that names the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from lm_eval_mirage._io import atomic_dir

__all__ = [
    "METADATA_FILE",
    "WEIGHTS_FILE",
    "CheckpointError",
    "state_digest",
    "save_member",
    "read_metadata",
    "load_saved_members",
    "shipped_checkpoints",
    "safetensors_header",
    "verify_member",
]

M = TypeVar("M")

METADATA_FILE = "mirage_family.json"
WEIGHTS_FILE = "model.safetensors"
#: safetensors' own limit on the JSON header; a larger claim is refused before it is read
MAX_HEADER_BYTES = 100_000_000
#: a member's metadata is a few KB; a larger file is refused before it is read
MAX_METADATA_BYTES = 16 * 2**20
#: bytes per element of each safetensors dtype
DTYPE_BYTES = {
    dtype: size
    for size, dtypes in (
        (1, "BOOL U8 I8 F8_E4M3 F8_E5M2"),
        (2, "I16 U16 F16 BF16"),
        (4, "I32 U32 F32"),
        (8, "I64 U64 F64"),
    )
    for dtype in dtypes.split()
}
#: weight files that are pickles (``torch.save``): never loaded
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")


class CheckpointError(ValueError):
    """A saved member that cannot be used; the message is one line naming the file."""


def state_digest(model: Any) -> str:
    """SHA-256 over the names, shapes, dtypes and bytes of every tensor in the state dict (sorted by name)."""
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save_member(model: Any, folder: str | os.PathLike, metadata: dict) -> Path:
    """Save an HF folder (weights, config, character tokenizer) plus :data:`METADATA_FILE`, atomically."""
    from transformers.utils import logging as hf_logging

    from lm_eval_mirage.zoo.tiny import build_tiny_model

    folder = Path(folder)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a "writing shards" bar per member would bury the family's progress bar
    try:
        with atomic_dir(folder) as tmp:
            build_tiny_model(tmp, model=model)
            (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
            for f in tmp.iterdir():
                f.chmod(0o644)  # transformers may write the weights as a private temporary file
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    return folder


def _regular_size(path: Path) -> int:
    """The size of ``path``, a regular file (a FIFO or a device would block or never end a read)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"{path}: not a regular file")
    return info.st_size


def read_metadata(folder: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in ``folder/mirage_family.json``; a file that is not one is an error naming it."""
    path = Path(folder) / METADATA_FILE
    size = _regular_size(path)
    if size > MAX_METADATA_BYTES:
        raise CheckpointError(f"{path}: {size} bytes, too large for a member's metadata (at most {MAX_METADATA_BYTES})")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise CheckpointError(f"{path}: not a JSON metadata file ({type(exc).__name__}: {str(exc)[:200]})") from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: holds a JSON {type(meta).__name__}, not an object")
    return meta


def load_saved_members(
    root: str | os.PathLike,
    family: str,
    make: Callable[[Path, dict], M],
    *,
    recipe: Any = None,
    seeds: Iterable[int] | None = None,
    order: Callable[[M], Any],
) -> list[M]:
    """The members of ``family`` saved under ``root`` (folders ``{family}-*`` holding the metadata file),
    built by ``make(folder, metadata)``, only ``recipe``'s (by fingerprint) and ``seeds``' when given, sorted
    by ``order``. A folder whose metadata names another family is an error that names the file.

    Only the metadata is read here (cheap: a cache holds many members); :func:`verify_member` checks the
    weights of the members that are going to be used."""
    root = Path(root)
    if not root.is_dir():
        return []
    wanted = None if seeds is None else set(seeds)
    members = []
    for folder in sorted(root.iterdir()):
        if not (folder.name.startswith(f"{family}-") and (folder / METADATA_FILE).is_file()):
            continue
        meta = read_metadata(folder)
        if meta.get("family") != family:
            raise CheckpointError(f"{folder / METADATA_FILE}: family={meta.get('family')!r}, expected {family!r}")
        if recipe is not None and meta.get("recipe_fingerprint") != recipe.fingerprint:
            continue
        if wanted is not None and meta.get("seed") not in wanted:
            continue
        members.append(make(folder, meta))
    return sorted(members, key=order)


def shipped_checkpoints() -> Path:
    """Folder of the members that ship with the package (every family's seed 0, trained with 1 thread)."""
    return Path(__file__).resolve().parent / "checkpoints"


def _header_bytes(path: Path) -> tuple[bytes, int]:
    """The JSON header of a safetensors file and the size of its data part, after checking the header's
    claimed length against the file's size (a pickle or a forged length is refused before any allocation)."""
    size = _regular_size(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: {size} bytes, too short for a safetensors file")
            length = int.from_bytes(head, "little")
            if not 2 <= length <= min(size - 8, MAX_HEADER_BYTES):
                if head[:1] == b"\x80" or head[:4] == b"PK\x03\x04":
                    raise CheckpointError(
                        f"{path}: a pickle (torch.save) file, not safetensors; pickles are never loaded"
                    )
                raise CheckpointError(
                    f"{path}: not a safetensors file (its first 8 bytes claim a header of {length} bytes, "
                    f"the file has {size})"
                )
            raw = fh.read(length)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return raw, size - 8 - length


def _tensor_entry(path: Path, name: str, info: Any, data_size: int) -> tuple[str, tuple[int, ...], int, int]:
    """One header entry, checked: ``(dtype, shape, begin, end)`` with ``end - begin`` the tensor's size."""
    if not isinstance(info, dict) or info.get("dtype") not in DTYPE_BYTES:
        found = info.get("dtype") if isinstance(info, dict) else info
        raise CheckpointError(f"{path}: tensor {name!r} has dtype {found!r}; accepted: {', '.join(DTYPE_BYTES)}")
    shape, offsets = info.get("shape"), info.get("data_offsets")
    if not isinstance(shape, list) or any(isinstance(d, bool) or not isinstance(d, int) or d < 0 for d in shape):
        raise CheckpointError(f"{path}: tensor {name!r} has shape {shape!r}; expected a list of integers >= 0")
    ints = isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
    if not ints or not 0 <= offsets[0] <= offsets[1] <= data_size:
        raise CheckpointError(
            f"{path}: tensor {name!r} has data_offsets {offsets!r} outside the file's {data_size} data bytes"
        )
    elements = math.prod(shape)  # Python integers: a forged 10**18 does not overflow, and nothing is allocated
    if elements * DTYPE_BYTES[info["dtype"]] != offsets[1] - offsets[0]:
        raise CheckpointError(
            f"{path}: tensor {name!r} claims {elements} elements of {info['dtype']} but holds "
            f"{offsets[1] - offsets[0]} bytes"
        )
    return info["dtype"], tuple(shape), offsets[0], offsets[1]


def safetensors_header(path: str | os.PathLike) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{tensor name: (dtype, shape)}`` from a safetensors file's header, every claim checked against the file.

    The header's length, each tensor's size (elements times dtype width) and its byte range must agree with
    the file, and the tensors must tile the data part exactly; otherwise a :class:`CheckpointError` names the
    file. Only the header is read.
    """
    path = Path(path)
    raw, data_size = _header_bytes(path)
    try:
        header = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CheckpointError(f"{path}: not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a safetensors file (its header is a JSON {type(header).__name__})")
    header.pop("__metadata__", None)
    entries = {name: _tensor_entry(path, name, info, data_size) for name, info in header.items()}
    end = 0
    for _, _, begin, stop in sorted(entries.values(), key=lambda e: (e[2], e[3])):
        if begin != end:
            raise CheckpointError(f"{path}: the tensors' byte ranges overlap or leave gaps (at byte {begin})")
        end = stop
    if end != data_size:
        raise CheckpointError(f"{path}: {data_size - end} bytes after the last tensor; the file is damaged")
    return {name: (dtype, shape) for name, (dtype, shape, _, _) in entries.items()}


def _weights_file(folder: Path) -> Path:
    """``folder/model.safetensors``; a folder holding pickled weights instead (or besides) is refused."""
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES) if folder.is_dir() else []
    if pickles:
        raise CheckpointError(
            f"{folder / pickles[0]}: a pickled weights file in a member's folder; pickles are never loaded"
        )
    weights = folder / WEIGHTS_FILE
    if not weights.exists():
        raise CheckpointError(f"{weights}: missing (a member's weights are read from {WEIGHTS_FILE} only)")
    return weights


def _loaded_digest(folder: Path, weights: Path) -> str:
    """:func:`state_digest` of the model the harness will load from ``folder`` (float32, safetensors only)."""
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()  # a "loading weights" bar per member would bury the caller's progress bar
    hf_logging.set_verbosity_error()
    try:
        model = AutoModelForCausalLM.from_pretrained(
            folder, use_safetensors=True, dtype=torch.float32, local_files_only=True
        )
    except Exception as exc:  # transformers reports a bad folder in many types; each is one line naming it
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        raise CheckpointError(
            f"{weights}: does not load as the model of {folder / 'config.json'} ({type(exc).__name__}: {first})"
        ) from None
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    return state_digest(model)


def verify_member(folder: str | os.PathLike, metadata: Mapping[str, Any], *, fix: str = "") -> None:
    """Check a saved member before it is used: safetensors weights only, a well-formed header, as many values
    as ``metadata["params"]``, and weights whose :func:`state_digest` is ``metadata["state_sha256"]``.

    Raises:
        CheckpointError: one line naming the file and what is wrong, followed by ``fix`` (how to repair it).
    """
    folder = Path(folder)
    try:
        _verify(folder, metadata)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; {fix}" if fix else str(exc)) from None


def _verify(folder: Path, metadata: Mapping[str, Any]) -> None:
    expected = metadata.get("state_sha256")
    if not (isinstance(expected, str) and len(expected) == 64 and all(c in "0123456789abcdef" for c in expected)):
        raise CheckpointError(f"{folder / METADATA_FILE}: state_sha256={expected!r} is not a SHA-256 (64 hex digits)")
    weights = _weights_file(folder)
    header = safetensors_header(weights)
    params = metadata.get("params")
    values = sum(math.prod(shape) for _, shape in header.values())
    if isinstance(params, int) and values != params:
        raise CheckpointError(
            f"{weights}: holds {values} weights, the member's metadata records params={params} "
            "(another model's weights?)"
        )
    found = _loaded_digest(folder, weights)
    if found != expected:
        raise CheckpointError(
            f"{weights}: the weights' SHA-256 is {found[:12]}..., the metadata records {expected[:12]}... "
            "(damaged or changed)"
        )
