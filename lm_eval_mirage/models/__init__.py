"""Harness model backends of the plugin. :func:`register` makes them known to ``lm_eval`` by name."""

from __future__ import annotations

__all__ = ["register"]


def register() -> None:
    """Register the plugin's model backends with the harness (idempotent). Imports torch/transformers."""
