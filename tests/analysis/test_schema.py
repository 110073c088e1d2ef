"""Metric directions and chance levels: the harness's own registry as an oracle, the names of old results files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lm_eval_mirage.analysis.schema import chance_level, metric_direction

PYTHIA = Path(__file__).parents[1] / "data" / "pythia-v1"


def test_directions_agree_with_the_harness_registry():
    import lm_eval.api.metrics  # noqa: F401  (fills the registry)
    from lm_eval.api.registry import HIGHER_IS_BETTER_REGISTRY

    assert HIGHER_IS_BETTER_REGISTRY, "the harness registry is empty"
    for name, higher in HIGHER_IS_BETTER_REGISTRY.items():
        assert metric_direction(name) is higher, name


@pytest.mark.parametrize(
    "name",
    [
        "ppl",
        "perplexity",
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
        "brier_score",
        "token_edit_distance",
        "val_loss",
        "ter",
    ],
)
def test_lower_is_better(name):
    assert metric_direction(name) is False


@pytest.mark.parametrize("name", ["acc", "acc_norm", "f1", "em", "mcc", "exact_match", "per_token_logprob"])
def test_higher_is_better(name):
    assert metric_direction(name) is True


def test_unknown_is_said_not_assumed():
    assert metric_direction("zeta") is None and metric_direction("score") is None


def test_every_metric_of_the_published_pythia_files_has_a_direction():
    names = set()
    for path in PYTHIA.rglob("*.json"):
        for res in json.loads(path.read_text())["results"].values():
            names |= {k for k in res if not k.endswith("_stderr")}
    assert names == {"acc", "acc_norm", "ppl", "likelihood_difference", "pct_stereotype"}
    assert {n: metric_direction(n) for n in names} == {
        "acc": True,
        "acc_norm": True,
        "ppl": False,
        "likelihood_difference": False,
        "pct_stereotype": False,
    }


@pytest.mark.parametrize(
    "task, chance",
    [
        ("hendrycksTest-anatomy", 0.25),
        ("mmlu_anatomy", 0.25),
        ("arc_easy", 0.25),
        ("arc_challenge", 0.25),
        ("logiqa", 0.25),
        ("sciq", 0.25),
        ("piqa", 0.5),
        ("winogrande", 0.5),
        ("wsc", 0.5),
        ("lambada_openai", None),
        ("crows_pairs_english", None),
    ],
)
def test_chance_levels(task, chance):
    assert chance_level(task, "acc") == chance


def test_chance_only_for_accuracy_and_choices_win():
    assert chance_level("piqa", "ppl") is None
    assert chance_level("anything", "acc", n_choices=5) == pytest.approx(0.2)
    assert chance_level("piqa", "acc", n_choices=4) == pytest.approx(0.25)
