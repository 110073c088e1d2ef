"""The public API of lm_eval_mirage.analysis resolves lazily, and the pure scores need no pandas module."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lm_eval_mirage.analysis as analysis


@pytest.mark.parametrize("name", analysis.__all__)
def test_every_public_name_resolves(name):
    assert getattr(analysis, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        analysis.nope  # noqa: B018


def test_emergence_module_does_not_import_pandas_or_matplotlib():
    # Load the module file on its own (find_spec does not run the package's __init__, which imports lm_eval).
    code = (
        "import sys, importlib.util, pathlib\n"
        "root = pathlib.Path(importlib.util.find_spec('lm_eval_mirage').origin).parent\n"
        "spec = importlib.util.spec_from_file_location('em', root / 'analysis' / 'emergence.py')\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "assert mod.emergence_score([0.0, 0.0, 0.0, 1.0]) == float('inf')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'matplotlib', 'lm_eval')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
