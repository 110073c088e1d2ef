"""Per-document glue the task YAMLs reference with ``!function`` (data loading)."""

from __future__ import annotations

import logging
from typing import Any

import lm_eval_mirage  # noqa: F401  (importing the package registers the metrics before the task reads them)
from lm_eval_mirage.tasks.arithmetic import DEFAULT_NUM_PROBLEMS, DEFAULT_SEED, generate, validate_spec

__all__ = ["load_arith"]

logger = logging.getLogger(__name__)


def load_arith(
    operation: str | None = None,
    digits: int | None = None,
    mode: str = "exact",
    num_problems: Any = DEFAULT_NUM_PROBLEMS,
    seed: Any = DEFAULT_SEED,
    **_ignored: Any,
) -> dict:
    """``custom_dataset`` entry point: build the ``train`` and ``test`` splits of one arithmetic task.

    The harness calls it with the task's ``metadata`` (``--metadata num_problems=... seed=...`` included, and
    the ``--model_args``) and ``dataset_kwargs`` (operation, digits, mode); other keys are ignored.
    """
    import datasets

    spec = validate_spec(operation, digits, mode, num_problems, seed)
    docs = generate(spec)
    if len(docs["test"]) < spec.num_problems:
        logger.warning(
            "%s %d-digit (%s): only %d distinct problems exist outside the few-shot pool; the test split "
            "holds all %d of them (num_problems=%d)",
            spec.operation,
            spec.digits,
            spec.mode,
            len(docs["test"]),
            len(docs["test"]),
            spec.num_problems,
        )
    return {split: datasets.Dataset.from_list(rows) for split, rows in docs.items()}
