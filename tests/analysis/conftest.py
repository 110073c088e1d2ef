"""Fixtures of the analysis tests: real harness outputs (recorded) and a writer of results in the same schema."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
#: Recorded by `lm-eval-mirage run --tasks mirage_arith_add_2d,mirage_arith_mul_1d --model hf
#: --model_args pretrained=/tmp/h6/tiny --limit 6 --log_samples` (lm_eval 0.4.13) on a random tiny model.
REAL_GEN = DATA / "harness_0.4.13"
#: The same model on the likelihood twin mirage_arith_add_2d_ll (model_args with revision=main).
REAL_LL = DATA / "harness_0.4.13_ll"


def _template() -> dict:
    return json.loads(next(REAL_GEN.rglob("results_*.json")).read_text())


@pytest.fixture
def write_run():
    """Write one harness run: ``OUT/<sanitized model>/results_<stamp>.json`` (+ samples), schema of the recording.

    ``results`` maps task -> {"metric,filter": value}; ``samples`` maps task -> list of sample lines.
    """
    template = _template()

    def write(
        out: Path,
        model: str,
        results: dict[str, dict[str, float]],
        *,
        stamp: str = "2024-05-01T10-00-00.000000",
        date: float = 1.7e9,
        model_args: object | None = None,
        num_params: int | None = None,
        lm_eval_version: str = "0.4.13",
        versions: dict[str, object] | None = None,
        higher_is_better: dict[str, dict[str, bool]] | None = None,
        samples: dict[str, list[dict]] | None = None,
        drop: tuple[str, ...] = (),
    ) -> Path:
        data = copy.deepcopy(template)
        data["results"] = {t: {"name": t, "alias": t, "sample_len": 6, **vals} for t, vals in results.items()}
        data["versions"] = {t: (versions or {}).get(t, 1.0) for t in results}
        data["n-samples"] = {t: {"original": 100, "effective": 6} for t in results}
        data["higher_is_better"] = higher_is_better or {t: {} for t in results}
        data["config"]["model_args"] = model_args if model_args is not None else {"pretrained": model}
        data["config"].pop("model_num_parameters", None)
        if num_params is not None:
            data["config"]["model_num_parameters"] = num_params
        data["date"] = date
        data["lm_eval_version"] = lm_eval_version
        data["model_name"] = model
        data["model_name_sanitized"] = re.sub(r"[\"<>:/|\\?*\[\]]+", "__", model)
        for key in drop:
            data.pop(key, None)
        folder = out / data["model_name_sanitized"]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"results_{stamp}.json"
        path.write_text(json.dumps(data))
        for task, lines in (samples or {}).items():
            (folder / f"samples_{task}_{stamp}.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
        return path

    return write


#: EleutherAI's published results in the 2023 layout (see its README): any file name, string model_args.
PYTHIA_2023 = DATA / "pythia_2023"
