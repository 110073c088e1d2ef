"""Writing the analysis's tables: CSV and strict JSON side by side, and Markdown tables, all atomically.

Every stage that writes a table (the report, the cross-task view, the forecast) goes through here, so the
formats are defined once and no stage imports another stage to write a file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from lm_eval_mirage._io import atomic_write_text

__all__ = ["file_slug", "format_value", "markdown_table", "to_json_records", "write_frame"]


def to_json_records(df: pd.DataFrame) -> list[dict]:
    """Rows as strict-JSON records: NaN -> None, +-inf -> "inf"/"-inf", numpy scalars -> Python.

    Example:
        >>> to_json_records(pd.DataFrame({"a": [1.5, float("nan"), float("inf")], "b": ["x", "y", "z"]}))
        [{'a': 1.5, 'b': 'x'}, {'a': None, 'b': 'y'}, {'a': 'inf', 'b': 'z'}]
    """
    out = []
    for rec in df.to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if isinstance(v, (np.generic,)):
                v = v.item()
            if isinstance(v, float):
                v = None if math.isnan(v) else ("inf" if v == math.inf else "-inf" if v == -math.inf else v)
            elif v is pd.NA or v is pd.NaT:
                v = None
            clean[str(k)] = v
        out.append(clean)
    return out


def write_frame(df: pd.DataFrame, stem: Path) -> list[Path]:
    """Write ``stem.csv`` and ``stem.json`` (records) atomically."""
    return [
        atomic_write_text(stem.with_suffix(".csv"), df.to_csv(index=False)),
        atomic_write_text(stem.with_suffix(".json"), json.dumps(to_json_records(df), indent=1) + "\n"),
    ]


def format_value(v) -> str:
    """A table cell: floats to 4 significant digits, NaN empty, +-inf as ``inf``/``-inf``."""
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.4g}"
    return str(v)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (floats to 4 significant digits, NaN empty, ``|`` escaped).

    Example:
        >>> print(markdown_table(pd.DataFrame({"metric": ["em"], "score": [float("inf")]})))
        | metric | score |
        | --- | --- |
        | em | inf |
    """
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "| " + " | ".join("---" for _ in cols) + " |"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(format_value(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |")
    return "\n".join(lines)


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_MAX_SLUG = 80


def file_slug(text: str) -> str:
    """A file-name and HTML-id safe name for ``text`` (a task, series or model name), one per distinct text.

    A name made only of letters, digits, ``_``, ``.`` and ``-`` (and at most 80 characters) is kept as it is;
    any other gets its unsafe runs replaced by ``_``, is cut to 60 characters and carries 8 hex digits of its
    SHA-256, so two names that sanitise alike (``arith add``, ``arith+add``) never share a figure or an id, and
    a very long name never exceeds the file system's limit.

    Example:
        >>> file_slug("mirage_arith_add_2d")
        'mirage_arith_add_2d'
        >>> file_slug("arith add") != file_slug("arith+add"), file_slug("arith add").startswith("arith_add-")
        (True, True)
        >>> len(file_slug("x" * 230))
        69
    """
    safe = _UNSAFE.sub("_", text).strip("_.") or "unnamed"
    if safe == text and len(text) <= _MAX_SLUG:
        return text
    return f"{safe[:60]}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
