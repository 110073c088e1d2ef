"""The size of a local Hugging Face model folder, from its ``safetensors`` headers (no weights read).

The folder is data like any other file: names in its index must stay inside it, and a damaged folder (Git
LFS pointers instead of weights, short files, malformed headers, an index without ``weight_map``) gives a
``ValueError`` that says which file and why, for the caller to report as "size unknown".
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

__all__ = ["params_from_folder"]


def _weight_files(root: Path) -> list[Path]:
    """The safetensors files of a model folder; names from an index must stay inside the folder."""
    index = root / "model.safetensors.index.json"
    if not index.is_file():
        return [root / "model.safetensors"] if (root / "model.safetensors").is_file() else []
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ValueError(f"{index}: not a JSON index ({type(exc).__name__})") from None
    except (KeyError, TypeError):
        raise ValueError(f"{index}: no 'weight_map' object") from None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ValueError(f"{index}: 'weight_map' is not a non-empty object")
    files = []
    for name in sorted(set(map(str, weight_map.values()))):
        parts = Path(name).parts
        if not parts or Path(name).is_absolute() or ".." in parts or "\\" in name or "\x00" in name:
            raise ValueError(f"{index}: weight_map entry {name!r} points outside the model folder; refused")
        files.append(root / name)
    return files


def params_from_folder(folder: str | os.PathLike) -> int | None:
    """Count parameters of a local Hugging Face model folder from its ``safetensors`` headers (no weights read).

    Reads ``model.safetensors`` or every shard named by ``model.safetensors.index.json`` (entries must be file
    names inside the folder) with ``safetensors.safe_open``. Returns ``None`` when the folder has neither.

    Raises:
        ValueError: the index or a weights file is damaged, a Git LFS pointer, or names a file outside the
            folder (the message says which and why).
    """
    root = Path(folder)
    if not root.is_dir():
        return None
    files = _weight_files(root)
    if not files:
        return None
    from safetensors import safe_open

    total = 0
    for f in files:
        if not f.is_file():
            raise ValueError(f"{f}: named by the index but missing")
        with open(f, "rb") as fh:
            head = fh.read(64)
        if head.startswith(b"version https://git-lfs"):
            raise ValueError(f"{f}: a Git LFS pointer, not the weights (run git lfs pull)")
        try:
            with safe_open(str(f), framework="numpy") as st:
                total += sum(math.prod(st.get_slice(k).get_shape()) for k in st.keys())
        except Exception as exc:  # safetensors raises its own SafetensorError (and OSError, ValueError...)
            raise ValueError(
                f"{f}: not a readable safetensors file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
            ) from None
    return total
