"""The calibration of the verdict rule on curves with known truth (a small, deterministic run)."""

from __future__ import annotations

import math

from lm_eval_mirage.analysis.calibration import calibrate, format_rates, simulate_curves


def test_simulation_is_deterministic_and_has_both_truths():
    a = [c["y"].tolist() for c, _ in zip(simulate_curves(reps=1, seed=3), range(200))]
    b = [c["y"].tolist() for c, _ in zip(simulate_curves(reps=1, seed=3), range(200))]
    assert a == b
    truths = {c["truth"] for c in simulate_curves(reps=1)}
    assert {"emergent", "not emergent", "borderline", "unresolvable"} <= truths


def test_the_rule_makes_few_false_positives_and_finds_clear_jumps():
    result = calibrate(reps=1, n_boot=100)
    fam = result["families"]
    for family, rates in fam.items():
        if rates["n_not_emergent"]:
            assert rates["false_positive_rate"] <= 0.02, (family, rates["counts"])
    # a late sharp jump under exact match is found in most cases (misses are mostly "uncertain" or 5-model grids)
    assert fam["exact match (p^L)"]["false_negative_rate"] <= 0.5
    assert math.isnan(fam["multiple choice (chance 0.25)"]["false_negative_rate"])  # no emergent truth there
    assert "| exact match (p^L) |" in format_rates(result)
