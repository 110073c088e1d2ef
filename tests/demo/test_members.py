"""What the demo runs: the two families' members."""

from __future__ import annotations

import pytest

from lm_eval_mirage.demo.members import (
    SIM_PARAMS,
    SIM_PROBLEMS,
    SIM_TASKS,
    TRAINED_TASKS,
    series_name,
    simulated_members,
    spread,
    trained_members,
)
from lm_eval_mirage.zoo.checkpoints import shipped_checkpoints
from lm_eval_mirage.zoo.recall import RECIPE, load_family


@pytest.mark.parametrize(
    ("k", "expected"),
    [
        (None, list(range(9))),
        (9, list(range(9))),
        (20, list(range(9))),
        (2, [0, 8]),
        (3, [0, 4, 8]),
        (5, [0, 2, 4, 6, 8]),
    ],
)
def test_spread_keeps_ends_and_spaces_evenly(k, expected):
    assert spread(range(9), k) == expected


def test_spread_needs_two():
    with pytest.raises(ValueError, match="members=1"):
        spread(range(9), 1)


def test_simulated_members():
    ms = simulated_members([0, 1])
    assert [m.params for m in ms] == list(SIM_PARAMS) * 2
    assert {m.series for m in ms} == {"simulated-seed0", "simulated-seed1"}
    assert len({m.name for m in ms}) == len(ms)  # distinct model names: distinct results folders
    m = ms[0]
    assert m.backend == "mirage-sim" and m.tasks == SIM_TASKS and m.limit == SIM_PROBLEMS
    assert m.model_args["params"] == SIM_PARAMS[0] and m.model_args["model"] == m.name
    assert simulated_members([0], limit=7)[0].limit == 7
    assert series_name("trained", 2) == "trained-seed2"


def test_trained_members_from_shipped_checkpoints():
    ckpts = load_family(shipped_checkpoints(), recipe=RECIPE, seeds=[0])
    ms = trained_members(ckpts, task_metadata=RECIPE.task_metadata())
    assert [m.name for m in ms] == [c.name for c in ckpts]
    assert all(
        m.tasks == TRAINED_TASKS and m.backend == "hf-mirage" and m.metadata["num_keys"] == RECIPE.num_keys for m in ms
    )
    assert [m.model_args["pretrained"] for m in ms] == [str(c.folder) for c in ckpts]
    assert [m.identity["state_sha256"] for m in ms] == [c.metadata["state_sha256"] for c in ckpts]
