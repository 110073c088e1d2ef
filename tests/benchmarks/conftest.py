"""Make the benchmark scripts importable: they live in benchmarks/ (not a package) and import ``_common``."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture(scope="session")
def bench():
    """``bench("update_readme")`` imports benchmarks/update_readme.py (and its ``_common``)."""
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return importlib.import_module
