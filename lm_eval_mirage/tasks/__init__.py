"""The plugin's task YAMLs (package data) and the code they reference.

Point the harness at :func:`tasks_path` (``lm_eval --include_path "$(lm-eval-mirage tasks-path)"``) or use
``lm-eval-mirage run``, which does it for you.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["tasks_path"]


def tasks_path() -> str:
    """Absolute path of the folder holding the plugin's task YAMLs.

    Example:
        >>> Path(tasks_path(), "arith", "mirage_arith_add_2d.yaml").is_file()
        True
    """
    return str(Path(__file__).resolve().parent)
