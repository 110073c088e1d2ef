"""Run one model of a family through the real harness (its Python API), writing what ``lm_eval`` writes.

The output folder receives exactly what ``lm_eval --output_path DIR --log_samples`` produces
(``DIR/<model>/results_<date>.json`` and ``samples_<task>_<date>.jsonl``), so the analysis reads demo runs
and command-line runs alike. A run is skipped when its folder already holds a finished run of the same
specification (model, arguments, tasks, limit, metadata, plugin and harness versions).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lm_eval_mirage._io import atomic_dir

__all__ = ["faster_harness", "run_spec", "spec_id", "evaluate_or_reuse", "DONE_FILE"]

#: Written last into a run folder: its presence means the run finished (its content is the spec).
DONE_FILE = "demo_run.json"


@contextlib.contextmanager
def faster_harness() -> Iterator[None]:
    """Two bookkeeping shortcuts for many small runs in one process; evaluation itself is untouched.

    * ``lm_eval.utils.apply_template`` compiles the task's Jinja template anew for every call (about ten per
      problem, most of the time of a run on a tiny model): compiled templates are kept per template text and
      rendered exactly as before.
    * ``lm_eval.evaluator.add_env_info`` runs ``pip list`` and torch's environment probe for every run
      (seconds each): it runs once per process and later runs record the same information.

    Both are restored on exit.
    """
    import lm_eval.evaluator
    import lm_eval.utils

    original_apply, original_env = lm_eval.utils.apply_template, lm_eval.evaluator.add_env_info
    compiled: dict[str, Any] = {}
    env_info: dict[str, Any] = {}

    def apply_template(template: str, doc: dict) -> str:
        t = compiled.get(template)
        if t is None:
            t = compiled[template] = lm_eval.utils.env.from_string(template)
        return t.render(**doc)

    def add_env_info(storage: dict) -> None:
        if not env_info:
            original_env(env_info)
        storage.update(env_info)

    lm_eval.utils.apply_template, lm_eval.evaluator.add_env_info = apply_template, add_env_info
    try:
        yield
    finally:
        lm_eval.utils.apply_template, lm_eval.evaluator.add_env_info = original_apply, original_env


def run_spec(
    model: str,
    model_args: Mapping[str, Any],
    tasks: Sequence[str],
    *,
    limit: int | None,
    metadata: Mapping[str, Any] | None,
    identity: Mapping[str, Any] | None = None,
) -> dict:
    """Everything that determines a run's results, as plain JSON values.

    ``identity`` adds what the arguments do not show, e.g. the SHA-256 of a checkpoint's weights (a folder
    retrained in place keeps its path).
    """
    import lm_eval

    import lm_eval_mirage

    return {
        "model": model,
        "model_args": {k: (str(v) if isinstance(v, Path) else v) for k, v in sorted(model_args.items())},
        "tasks": list(tasks),
        "limit": limit,
        "metadata": dict(sorted((metadata or {}).items())),
        "identity": dict(sorted((identity or {}).items())),
        "lm_eval_mirage": lm_eval_mirage.__version__,
        "lm_eval": getattr(lm_eval, "__version__", "unknown"),
    }


def spec_id(spec: Mapping[str, Any]) -> str:
    """Short stable hash of a run specification (a folder name)."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]


def evaluate_or_reuse(
    model: str,
    model_args: Mapping[str, Any],
    tasks: Sequence[str],
    output_path: str | os.PathLike,
    *,
    limit: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    batch_size: int = 64,
    device: str = "cpu",
    quiet: bool = True,
    identity: Mapping[str, Any] | None = None,
) -> tuple[Path, bool]:
    """Evaluate ``model`` on ``tasks`` unless ``output_path`` already holds this run; returns (folder, reused).

    Args:
        model: harness backend name (``hf-mirage``, ``hf``, ``mirage-sim``...).
        model_args: its arguments (``pretrained`` for HF folders, ``params`` for the simulation).
        tasks: task names of the plugin (its task folder is the only one indexed: fast).
        output_path: folder for this run; written atomically (a temporary sibling renamed at the end).
        limit: problems per task (``None``: all).
        metadata: task metadata (``--metadata``), e.g. the recall table's size.
        identity: see :func:`run_spec`.
        quiet: keep the harness's own progress bars and notices off the terminal (they are replayed if the
            run fails), so that the caller's progress bars stay readable.
    """
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager
    from lm_eval.utils import setup_logging

    import lm_eval_mirage
    from lm_eval_mirage import models

    out = Path(output_path)
    spec = run_spec(model, model_args, tasks, limit=limit, metadata=metadata, identity=identity)
    done = out / DONE_FILE
    if done.is_file() and json.loads(done.read_text()) == json.loads(json.dumps(spec, default=str)):
        return out, True
    lm_eval_mirage.register()
    models.register()
    with atomic_dir(out) as tmp:
        args = {k: (str(v) if isinstance(v, Path) else v) for k, v in model_args.items()}
        # custom_dataset functions receive the task metadata and the model arguments (as the CLI does).
        task_metadata = {**args, **(metadata or {})}
        manager = TaskManager(include_path=lm_eval_mirage.tasks_path(), include_defaults=False, metadata=task_metadata)
        tracker = EvaluationTracker(output_path=str(tmp))
        captured = io.StringIO()
        # The harness's log handler binds sys.stderr when first set up: set it up before redirecting. Its task
        # notices come before simple_evaluate applies `verbosity`, so the level is set here too.
        setup_logging("ERROR" if quiet else "WARNING")
        try:
            with contextlib.redirect_stderr(captured) if quiet else contextlib.nullcontext():
                results = simple_evaluate(
                    model=model,
                    model_args=args,
                    tasks=list(tasks),
                    task_manager=manager,
                    limit=limit,
                    batch_size=batch_size,
                    device=device,
                    log_samples=True,
                    evaluation_tracker=tracker,
                    verbosity="ERROR" if quiet else "WARNING",
                )
        except BaseException:
            sys.stderr.write(captured.getvalue()[-20000:])
            raise
        samples = results.pop("samples")
        tracker.save_results_aggregated(results=results, samples=samples)
        for task_name in results["configs"]:
            tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
        (tmp / DONE_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True, default=str) + "\n")
    return out, False
