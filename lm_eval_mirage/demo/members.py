"""The demo's two families, as lists of harness runs to make.

* ``simulated``: the paper's model (:mod:`lm_eval_mirage.models.simulated`, a SIMULATION) at the sizes of the
  GPT-3 family, on the paper's two tasks (2-digit multiplication and 4-digit addition) and their ``_ll`` twins.
* ``trained``: the tiny GPT-2s of :mod:`lm_eval_mirage.zoo.recall` on the recall table they memorised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lm_eval_mirage.models.simulated import DEFAULT_ALPHA, DEFAULT_C

__all__ = [
    "FAMILIES",
    "SIM_PARAMS",
    "SIM_TASKS",
    "SIM_PROBLEMS",
    "TRAINED_TASKS",
    "DemoMember",
    "series_name",
    "simulated_members",
    "trained_members",
    "checkpoint_members",
    "spread",
]

FAMILIES = ("simulated", "trained")
#: GPT-3 sizes (Brown et al. 2020, Table 2.1): ada = 350M, babbage = 1.3B, curie = 6.7B, davinci = 175B are the
#: four models of Schaeffer et al.'s Fig. 2; the others fill the ladder.
SIM_PARAMS = (1.25e8, 3.5e8, 7.6e8, 1.3e9, 2.7e9, 6.7e9, 1.3e10, 1.75e11)
SIM_TASKS = ("mirage_paper_mul_2d", "mirage_paper_mul_2d_ll", "mirage_paper_add_4d", "mirage_paper_add_4d_ll")
#: Problems per simulated task (the simulation is cheap; the harness's own bookkeeping is not).
SIM_PROBLEMS = 500
TRAINED_TASKS = ("mirage_demo_recall", "mirage_demo_recall_ll")


@dataclass(frozen=True)
class DemoMember:
    """One harness run of the demo: a model of a family on that family's tasks."""

    family: str
    seed: int
    name: str
    backend: str
    model_args: dict[str, Any]
    params: float
    tasks: tuple[str, ...]
    limit: int | None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: What identifies the model beyond its arguments (checkpoint weights' SHA-256); part of the cache key.
    identity: dict[str, Any] = field(default_factory=dict)

    @property
    def series(self) -> str:
        return series_name(self.family, self.seed)


def series_name(family: str, seed: int) -> str:
    """The curve label of a family and seed in the report.

    Example:
        >>> series_name("simulated", 0)
        'simulated-seed0'
    """
    return f"{family}-seed{seed}"


def spread(items: Sequence[Any], k: int | None) -> list[Any]:
    """``k`` items evenly spread over ``items`` (first and last kept); all of them when ``k`` is None.

    Example:
        >>> spread([1, 2, 3, 4, 5, 6, 7, 8, 9], 3)
        [1, 5, 9]
    """
    items = list(items)
    if k is None or k >= len(items):
        return items
    if k < 2:
        raise ValueError(f"members={k}: give at least 2 members per family (emergence needs a curve)")
    picks = sorted({int(i * (len(items) - 1) / (k - 1) + 0.5) for i in range(k)})
    return [items[i] for i in picks]


def simulated_members(
    seeds: Sequence[int],
    *,
    params: Sequence[float] = SIM_PARAMS,
    c: float = DEFAULT_C,
    alpha: float = DEFAULT_ALPHA,
    limit: int | None = None,
) -> list[DemoMember]:
    """The simulated family: one ``mirage-sim`` run per size and seed."""
    runs = []
    for seed in seeds:
        for n in params:
            name = f"mirage-sim-{n:.3g}-s{seed}"
            model_args = {"model": name, "params": n, "c": c, "alpha": alpha, "seed": seed}
            limit_n = SIM_PROBLEMS if limit is None else limit
            runs.append(DemoMember("simulated", seed, name, "mirage-sim", model_args, float(n), SIM_TASKS, limit_n))
    return runs


def checkpoint_members(
    members: Sequence[Any],
    *,
    family: str,
    tasks: Sequence[str],
    task_metadata: dict[str, Any],
    backend: str = "hf-mirage",
    limit: int | None = None,
) -> list[DemoMember]:
    """One harness run per saved checkpoint (any family of :mod:`lm_eval_mirage.zoo`) on ``tasks``.

    The weights' SHA-256 from the checkpoint's metadata is part of the run's identity (its cache key).
    """
    return [
        DemoMember(
            family=family,
            seed=m.seed,
            name=m.name,
            backend=backend,
            model_args={"pretrained": str(m.folder), "dtype": "float32"},
            params=float(m.params),
            tasks=tuple(tasks),
            limit=limit,
            metadata=dict(task_metadata),
            identity={"state_sha256": m.metadata.get("state_sha256", "")},
        )
        for m in members
    ]


def trained_members(
    members: Sequence[Any], *, task_metadata: dict[str, Any], backend: str = "hf-mirage", limit: int | None = None
) -> list[DemoMember]:
    """The demo's trained family: one run per checkpoint of :mod:`lm_eval_mirage.zoo.recall` on the recall tasks."""
    return checkpoint_members(
        members, family="trained", tasks=TRAINED_TASKS, task_metadata=task_metadata, backend=backend, limit=limit
    )
