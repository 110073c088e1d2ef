"""The demo's seed-mean curve: values averaged over seeds, and the resolution of the mean (all problems)."""

from __future__ import annotations

import math

import pandas as pd

from lm_eval_mirage.demo.pipeline import seed_mean_rows


def _rows(series: str, values: list[float], n: float | None) -> list[dict]:
    return [
        {
            "series": series,
            "x": x,
            "task": "t",
            "metric": "exact_match",
            "filter": "parsed",
            "split": "all",
            "target_digits": math.nan,
            "higher_is_better": True,
            "kind": "discontinuous",
            "value": v,
            **({"n": n} if n is not None else {}),
        }
        for x, v in zip((1e3, 1e4, 1e5), values)
    ]


def test_the_mean_of_three_seeds_has_the_resolution_of_all_their_problems():
    table = pd.DataFrame(
        _rows("f-seed0", [0.0, 0.1, 0.9], 200)
        + _rows("f-seed1", [0.0, 0.2, 0.8], 200)
        + _rows("f-seed2", [0.0, 0.0, 1.0], 200)
    )
    mean = seed_mean_rows(table, {"f": ["f-seed0", "f-seed1", "f-seed2"]}).sort_values("x")
    assert list(mean["series"].unique()) == ["f-mean3"]
    assert mean["value"].round(12).tolist() == [0.0, 0.1, 0.9]
    assert mean["n"].tolist() == [600.0, 600.0, 600.0]  # not 3, the number of seeds


def test_an_unknown_count_stays_unknown():
    table = pd.DataFrame(_rows("f-seed0", [0.0, 0.5, 1.0], None) + _rows("f-seed1", [0.0, 0.5, 1.0], None))
    mean = seed_mean_rows(table, {"f": ["f-seed0", "f-seed1"]})
    assert mean["n"].isna().all() and len(mean) == 3
