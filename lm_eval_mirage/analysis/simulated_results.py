"""Harness-layout results files simulated from the paper's closed form, with known ``c`` and ``alpha``.

(Results files written directly, without the harness; :mod:`lm_eval_mirage.models.simulated` is the same
closed form as a model backend run through the harness.)

:func:`simulate_results` writes, for each model, ``OUT/<model_name_sanitized>/results_<date>.json`` and
``samples_<task>_<date>.jsonl`` in the schema lm-evaluation-harness 0.4.13 writes, for the arithmetic
generation tasks (``exact_match``, ``token_edit_distance``, ``normalized_edit_distance``, ``digit_accuracy``)
and their likelihood twins ``<task>_ll`` (``per_token_logprob`` and friends). Per problem with an answer of
``L`` digits and ``p = exp(-(N/c)**alpha)``: token edit distance ~ Binomial(``L``, ``1-p``) (each digit wrong
with probability ``1-p``), exact match = no wrong digit (probability ``p**L``), per-token log-likelihood
``-(N/c)**alpha`` (plus optional Gaussian noise). So a fit must recover ``c`` and ``alpha``, and for long
targets the report must call exact match emergent and TED smooth. Used by the tests and by anyone who wants to
see the report without running a model: the numbers are SIMULATED (each results file says so under
``"simulation"``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from lm_eval_mirage._io import atomic_write_text
from lm_eval_mirage.analysis.scaling import PAPER_ALPHA, PAPER_C
from lm_eval_mirage.harness_outputs import (
    model_folder_name,
    results_file_name,
    samples_file_name,
)

__all__ = ["DEFAULT_MODELS", "DEFAULT_TASKS", "simulate_results"]

#: Five model sizes spanning the paper's range (names are made up; sizes are recorded in each results file).
DEFAULT_MODELS: dict[str, float] = {
    "sim/model-100m": 1e8,
    "sim/model-400m": 4e8,
    "sim/model-1.6b": 1.6e9,
    "sim/model-6.4b": 6.4e9,
    "sim/model-25.6b": 2.56e10,
}
#: task -> answer lengths (digits) of its problems, cycled over the problems.
DEFAULT_TASKS: dict[str, Sequence[int]] = {"mirage_arith_add_2d": (2, 3), "mirage_arith_mul_3d": (5, 6)}
_GEN_METRICS = {
    "exact_match": True,
    "token_edit_distance": False,
    "normalized_edit_distance": False,
    "digit_accuracy": True,
}
_LL_METRICS = {
    "greedy_exact_match": True,
    "target_logprob": True,
    "target_prob": True,
    "per_token_logprob": True,
    "per_token_prob": True,
    "target_tokens": True,
}


def _write_json(path: str | os.PathLike, payload: object, *, lines: bool = False) -> Path:
    """Write JSON (or JSON lines when ``lines``) atomically."""
    if lines:
        text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in payload)  # type: ignore[union-attr]
    else:
        text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    return atomic_write_text(path, text)


def _aggregate(values: np.ndarray) -> tuple[float, float]:
    n = values.size
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(n)) if n > 1 else 0.0


def simulate_results(
    out_dir: str | os.PathLike,
    *,
    models: Mapping[str, float] = DEFAULT_MODELS,
    tasks: Mapping[str, Sequence[int]] = DEFAULT_TASKS,
    c: float = PAPER_C,
    alpha: float = PAPER_ALPHA,
    n_problems: int = 200,
    logprob_noise: float = 0.0,
    seed: int = 0,
    samples: bool = True,
    likelihood: bool = True,
    record_params: bool = True,
    lm_eval_version: str = "0.4.13",
    date: float = 1.7e9,
) -> list[Path]:
    """Write simulated harness outputs for ``models`` (name -> parameters) on ``tasks`` (name -> answer lengths).

    Args:
        out_dir: the ``--output_path`` folder; each model gets its own sub-folder.
        c, alpha: the power law of the per-token cross-entropy.
        n_problems: problems per task (the resolution is ``1 / n_problems``).
        logprob_noise: standard deviation of Gaussian noise added to each problem's per-token log-likelihood.
        samples: also write ``samples_*.jsonl`` (per-problem values, ``doc.answer_digits``).
        likelihood: also write the ``<task>_ll`` twins (``per_token_logprob``...), which the fit needs.
        record_params: store the size as ``config.model_num_parameters`` (as the harness's hf model does);
            ``False`` leaves it out, so the analysis must get it elsewhere.
        date: the run's timestamp (seconds since the epoch); later runs of a model win in the analysis.

    Returns:
        The results files written.
    """
    rng = np.random.default_rng(seed)
    stamp = f"2024-01-01T00-00-{int(date) % 60:02d}.{int(date * 1e6) % 1_000_000:06d}"
    written = []
    for name, n_params in models.items():
        ce = (n_params / c) ** alpha
        p = math.exp(-ce)
        folder = Path(out_dir) / model_folder_name(name)
        results, hib, versions, n_samples = {}, {}, {}, {}
        for task, lengths in tasks.items():
            L = np.array([lengths[i % len(lengths)] for i in range(n_problems)])
            # Each digit is wrong with probability 1 - p: E[TED] = L(1-p) and P(exact) = P(no wrong digit) = p**L.
            ted = rng.binomial(L, 1.0 - p).astype(float)
            em = (ted == 0.0).astype(float)
            per_doc = {
                "exact_match": em,
                "token_edit_distance": ted,
                "normalized_edit_distance": ted / L,
                "digit_accuracy": 1.0 - ted / L,
            }
            docs = [
                {
                    "id": i,
                    "op": task.split("_")[2] if task.count("_") >= 3 else "add",
                    "answer": "9" * int(L[i]),
                    "answer_digits": int(L[i]),
                }
                for i in range(n_problems)
            ]
            entry = {"name": task, "alias": task, "sample_len": n_problems}
            for metric in _GEN_METRICS:
                mean, se = _aggregate(per_doc[metric])
                entry[f"{metric},parsed"], entry[f"{metric}_stderr,parsed"] = mean, se
            results[task], hib[task], versions[task] = entry, dict(_GEN_METRICS), 1.0
            n_samples[task] = {"original": n_problems, "effective": n_problems}
            lines = [
                {
                    "doc_id": i,
                    "doc": docs[i],
                    "target": docs[i]["answer"],
                    "filter": "parsed",
                    "metrics": list(_GEN_METRICS),
                    **{m: float(per_doc[m][i]) for m in _GEN_METRICS},
                }
                for i in range(n_problems)
            ]
            if samples:
                _write_json(folder / samples_file_name(task, stamp), lines, lines=True)
            if likelihood:
                ll_task = f"{task}_ll"
                ptl = -ce + logprob_noise * rng.standard_normal(n_problems)
                ll = {
                    "greedy_exact_match": (rng.random(n_problems) < np.exp(ptl * L)).astype(float),
                    "target_logprob": ptl * L,
                    "target_prob": np.exp(ptl * L),
                    "per_token_logprob": ptl,
                    "per_token_prob": np.exp(ptl),
                    "target_tokens": L.astype(float),
                }
                entry = {"name": ll_task, "alias": ll_task, "sample_len": n_problems}
                for metric in _LL_METRICS:
                    mean, se = _aggregate(ll[metric])
                    entry[f"{metric},none"], entry[f"{metric}_stderr,none"] = mean, se
                results[ll_task], hib[ll_task], versions[ll_task] = entry, dict(_LL_METRICS), 1.0
                n_samples[ll_task] = {"original": n_problems, "effective": n_problems}
                if samples:
                    ll_lines = [
                        {
                            "doc_id": i,
                            "doc": docs[i],
                            "target": docs[i]["answer"],
                            "filter": "none",
                            "metrics": list(_LL_METRICS),
                            **{m: float(ll[m][i]) for m in _LL_METRICS},
                        }
                        for i in range(n_problems)
                    ]
                    _write_json(folder / samples_file_name(ll_task, stamp), ll_lines, lines=True)
        config = {
            "model": "hf",
            "model_args": {"pretrained": name},
            "model_revision": "main",
            "batch_size": 1,
            "limit": None,
            "bootstrap_iters": 100000,
            "gen_kwargs": {},
            "random_seed": 0,
        }
        if record_params:
            config["model_num_parameters"] = int(n_params)
        payload = {
            "results": results,
            "group_subtasks": {t: [] for t in results},
            "configs": {},
            "versions": versions,
            "n-shot": {t: 2 for t in results},
            "higher_is_better": hib,
            "n-samples": n_samples,
            "config": config,
            "git_hash": None,
            "date": date,
            "transformers_version": "simulated",
            "lm_eval_version": lm_eval_version,
            "model_source": "hf",
            "model_name": name,
            "model_name_sanitized": folder.name,
            "simulation": {
                "c": c,
                "alpha": alpha,
                "seed": seed,
                "note": "SIMULATED from the closed form, not a model run",
            },
        }
        written.append(_write_json(folder / results_file_name(stamp), payload))
    return written
