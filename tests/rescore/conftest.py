"""Fixtures of the re-scoring tests: ``layout`` (this module) writes runs in the harness's own layout with the
harness's own writer.

Samples are built like ``lm_eval.evaluator.evaluate`` builds them (same keys, same order) and written by
``lm_eval.loggers.EvaluationTracker`` (``save_results_aggregated`` + ``save_results_samples``), so the files
are what ``lm_eval --output_path DIR --log_samples`` writes, without running a model.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

__all__ = [
    "sample",
    "write_run",
    "gen_config",
    "mc_config",
    "ll_config",
    "gen_samples",
    "mc_samples",
    "make_run",
    "layout",
]


@pytest.fixture
def layout():
    """This module: ``layout.sample(...)``, ``layout.write_run(...)``, ``layout.gen_config(...)``, ..."""
    return sys.modules[__name__]


def sample(
    doc_id: int,
    target: Any,
    arguments: list[tuple],
    resps: list[list[Any]],
    filtered: list[Any],
    filter_key: str,
    metrics: dict[str, Any],
    doc: dict | None = None,
) -> dict:
    """One logged sample, keys as in ``lm_eval.evaluator.evaluate``."""
    from lm_eval.utils import hash_string

    doc = doc if doc is not None else {"id": doc_id}
    example = {
        "doc_id": doc_id,
        "doc": doc,
        "target": target,
        "arguments": arguments,
        "resps": resps,
        "filtered_resps": filtered,
        "filter": filter_key,
        "metrics": list(metrics),
        "doc_hash": hash_string(json.dumps(doc, indent=2, ensure_ascii=False)),
        "prompt_hash": hash_string(arguments[0][0]),
        "target_hash": hash_string(str(target)),
    }
    example.update(metrics)
    return example


def gen_config(task: str, metric_list: list[dict] | None = None, filters: tuple[str, ...] = ("none",)) -> dict:
    return {
        "task": task,
        "output_type": "generate_until",
        "target_delimiter": " ",
        "metric_list": metric_list or [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
        "filter_list": [{"name": f, "filter": [{"function": "take_first"}]} for f in filters],
        "metadata": {"version": 1.0},
    }


def mc_config(task: str, **extra: Any) -> dict:
    return {
        "task": task,
        "output_type": "multiple_choice",
        "target_delimiter": " ",
        "doc_to_choice": "{{choices}}",
        "metric_list": [{"metric": "acc"}],
        "metadata": {"version": 1.0},
        **extra,
    }


def ll_config(task: str, **extra: Any) -> dict:
    return {
        "task": task,
        "output_type": "loglikelihood",
        "metric_list": [{"metric": "acc"}],
        "metadata": {"version": 1.0},
        **extra,
    }


def write_run(
    output_path: Path, model: str, tasks: dict[str, tuple[dict, dict, list[dict]]], *, bootstrap_iters: int = 100000
) -> Path:
    """Write ``{task: (config, results_entry, samples)}`` under ``output_path/<model>``; returns the results file."""
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(output_path))
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf",
        model_args=f"pretrained={model}",
        system_instruction=None,
        chat_template=None,
        fewshot_as_multiturn=False,
    )
    results = {
        "results": {t: {"name": t, "alias": t, **entry} for t, (_, entry, _) in tasks.items()},
        "group_subtasks": {t: [] for t in tasks},
        "configs": {t: cfg for t, (cfg, _, _) in tasks.items()},
        "versions": {t: 1.0 for t in tasks},
        "n-shot": {t: 0 for t in tasks},
        "higher_is_better": {t: {} for t in tasks},
        "n-samples": {
            t: {"original": 100, "effective": entry.get("sample_len", 0)} for t, (_, entry, _) in tasks.items()
        },
        "config": {"model": "hf", "bootstrap_iters": bootstrap_iters},
    }
    samples = {t: s for t, (_, _, s) in tasks.items()}
    tracker.save_results_aggregated(results=results, samples=samples)
    for task, task_samples in samples.items():
        tracker.save_results_samples(task_name=task, samples=task_samples)
    folder = Path(output_path) / tracker.general_config_tracker.model_name_sanitized
    (results_file,) = folder.glob("results_*.json")
    return results_file


TARGETS = ["124", "55", "1000", "7", "-3", "81"]
OUTPUTS = ["134", "55", "100", "", "-3", "18 apples"]


def gen_samples(n: int = 6, filters: tuple[str, ...] = ("parsed", "raw")) -> list[dict]:
    """Generation samples: targets ``TARGETS``, outputs ``OUTPUTS`` (``parsed``: first word), per filter."""
    out = []
    for f in filters:
        for i in range(n):
            t, o = TARGETS[i % 6], OUTPUTS[i % 6]
            o = o.split(" ")[0] if f == "parsed" else o
            out.append(sample(i, t, [(f"Q: {i}?", {"until": ["\n"]})], [[o]], [o], f, {"exact_match": float(o == t)}))
    return out


MC_LLS = [[-1.2, -0.3, -2.5, -4.0], [-0.1, -3.0, -2.0, -9.5], [-2.0, -2.0, -1.0, -7.0], [-5.0, -0.2, -0.4, -0.3]]
MC_GOLD = [1, 0, 3, 2]


def mc_samples() -> list[dict]:
    """Four choice samples with log-likelihoods ``MC_LLS`` and gold ``MC_GOLD`` (logged acc consistent)."""
    out = []
    for i, (lls, gold) in enumerate(zip(MC_LLS, MC_GOLD)):
        args = [("Q:", f" c{j}") for j in range(len(lls))]
        resps = [[(x, False)] for x in lls]
        acc = float(int(np.argmax(lls)) == gold)
        out.append(sample(i, gold, args, resps, [(x, False) for x in lls], "none", {"acc": acc}))
    return out


def make_run(root: Path, model: str = "m1", **kw) -> Path:
    """A run of two tasks (``t_gen``: generation, filters parsed/raw, 6 docs; ``t_mc``: 4 choice docs)."""
    tasks = {
        "t_gen": (
            gen_config("t_gen", filters=("parsed", "raw")),
            {"sample_len": 6, "exact_match,parsed": 0.5},
            gen_samples(),
        ),
        "t_mc": (mc_config("t_mc"), {"sample_len": 4, "acc,none": 0.5, "acc_stderr,none": 0.2}, mc_samples()),
    }
    return write_run(root, model, tasks, **kw)
