"""Read the published Pythia results (tests/data/pythia-v1) into a tidy table, independently of collect.py.

Used by the unit tests of the decision rule; the end-to-end tests go through the real `analyze` command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

PYTHIA_DATA = Path(__file__).parents[1] / "data" / "pythia-v1"
#: Total parameters quoted in SCIENCE.md (Pythia paper); folder size -> count.
PYTHIA_PARAMS = {
    "70m": 70_426_624,
    "160m": 162_322_944,
    "410m": 405_334_016,
    "1b-bf16": 1_011_781_632,
    "1.4b": 1_414_647_808,
    "2.8b": 2_775_208_960,
    "6.9b": 6_857_302_016,
    "12b": 11_846_072_320,
}


def _rows(path: Path, model: str, x: float, series: str) -> list[dict]:
    data = json.loads(path.read_text())
    rows = []
    for task, res in data["results"].items():
        for key, value in res.items():
            if key.endswith("_stderr"):
                continue
            rows.append(
                {
                    "model": model,
                    "x": x,
                    "series": series,
                    "family": "pythia",
                    "task": task,
                    "metric": key,
                    "value": value,
                    "stderr": res.get(f"{key}_stderr"),
                    "higher_is_better": None,
                }
            )
    return rows


def zero_shot_table() -> pd.DataFrame:
    """The 8 sizes at step 143000, zero-shot; no direction map (as in the files)."""
    rows = []
    for size, params in PYTHIA_PARAMS.items():
        (path,) = (PYTHIA_DATA / f"pythia-{size}" / "zero-shot").glob("*_step143000.json")
        rows += _rows(path, f"pythia-{size}", float(params), "pythia")
    return pd.DataFrame(rows)


def checkpoint_table() -> pd.DataFrame:
    """The 27 checkpoints of pythia-160m, x = training step."""
    rows = []
    for path in sorted((PYTHIA_DATA / "pythia-160m" / "zero-shot").glob("160m_step*.json")):
        step = float(path.stem.split("step", 1)[1])
        rows += _rows(path, f"pythia-160m@step{step:.0f}", step, "pythia-160m")
    return pd.DataFrame(rows)
