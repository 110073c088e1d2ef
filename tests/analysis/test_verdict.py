"""The decision rule: hand cases, Pythia's published curves (parsed from tests/data), an independent chi2 oracle."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from lm_eval_mirage.analysis.emergence import (
    emergence_score,
    parametric_emergence_ci,
    straight_line_score,
)
from lm_eval_mirage.analysis.table import emergence_table
from lm_eval_mirage.analysis.verdict import (
    RESOLUTION_PROBLEMS,
    change_p_value,
    chi2_sf,
    decide,
    judge_curve,
    late_share,
    n_from_stderr,
)

sys.path.insert(0, str(Path(__file__).parent))  # the shared reader of tests/data/pythia-v1 (not a package)
from _pythia import PYTHIA_PARAMS, checkpoint_table, zero_shot_table  # noqa: E402

X8 = np.array(list(PYTHIA_PARAMS.values()), dtype=float)


@pytest.fixture(scope="module")
def pythia_scores():
    return emergence_table(zero_shot_table(), n_boot=300).set_index(["task", "metric"])


def test_chi2_sf_matches_scipy():
    stats = pytest.importorskip("scipy.stats")  # an independent oracle, only in the test
    for df in range(1, 30):
        for x in (0.01, 0.5, 1.0, 3.0, 7.5, 20.0, 60.0):
            assert chi2_sf(x, df) == pytest.approx(stats.chi2.sf(x, df), rel=1e-9, abs=1e-300)
    with pytest.raises(ValueError, match="df=0"):
        chi2_sf(1.0, 0)


def test_change_p_value_edge_cases():
    assert math.isnan(change_p_value([0.1, 0.2], [0.01, math.nan]))
    assert change_p_value([0.1, 0.2, 0.3], [0.0, 0.0, 0.0]) == 0.0  # exact values that differ
    assert change_p_value([0.2, 0.2, 0.2], [0.0, 0.0, 0.0]) == 1.0


def test_late_share_is_half_for_any_straight_line():
    lx = np.log10(X8)
    assert late_share(3.0 + 2.0 * lx, lx) == pytest.approx(0.5)
    assert late_share(-lx, lx) == pytest.approx(0.5)  # falling lines too
    assert math.isnan(late_share([0.3, 0.5, 0.3], [1, 2, 3]))  # no net change


@pytest.mark.parametrize("task", ["lambada_openai", "sciq", "piqa", "arc_easy"])
def test_published_smooth_curves_are_not_emergent(pythia_scores, task):
    row = pythia_scores.loc[(task, "acc")]
    assert row.verdict == "smooth", row.reason
    assert row.ci_method == "parametric (stderr)" and row.ci_low <= row.ci_high


def test_concave_curves_are_saturating_although_their_score_passes(pythia_scores):
    for task in ("lambada_openai", "sciq"):
        row = pythia_scores.loc[(task, "acc")]
        assert row.emergence_score > row.threshold  # the published score alone would say "emergent"
        assert row.reason.startswith("smooth: saturating") and row.late_share < 0.4


def test_perplexity_is_lower_is_better(pythia_scores):
    row = pythia_scores.loc[("lambada_openai", "ppl")]
    assert not row.higher_is_better and row.emergence_score > 0  # falling perplexity is improvement
    assert row.verdict == "smooth"


def test_near_chance_subjects_are_never_emergent(pythia_scores):
    mmlu = pythia_scores[pythia_scores.index.get_level_values("task").str.startswith("hendrycksTest-")]
    assert len(mmlu) == 114
    assert not mmlu["verdict"].isin(["emergent", "inverse emergent"]).any()
    hsm = pythia_scores.loc[("hendrycksTest-high_school_mathematics", "acc")]
    assert hsm.verdict == "at chance" and hsm.chance == 0.25 and hsm.n == 270  # n from the stderr
    for task in ("logiqa", "wsc"):
        assert pythia_scores.loc[(task, "acc"), "verdict"] == "at chance"
    # every curve of the family has an interval (parametric, from <metric>_stderr) and a reason
    assert pythia_scores["ci_low"].notna().all() and (pythia_scores["reason"].str.len() > 10).all()


def test_a_jump_on_one_problem_is_at_the_resolution_floor():
    y = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1 / 200]
    r = judge_curve(y, X8, n=200.0, discontinuous=True)
    assert emergence_score(y, X8) == math.inf and r["verdict"] == "at resolution floor"
    assert "1 problem(s) of 200" in r["reason"]
    assert RESOLUTION_PROBLEMS == 2
    y3 = [0.0] * 7 + [3 / 200]  # three problems is no longer "the floor", but still within noise
    assert judge_curve(y3, X8, n=200.0, discontinuous=True)["verdict"] != "at resolution floor"
    unknown = judge_curve(y, X8, discontinuous=True)
    assert "n unknown" in unknown["reason"]


def test_emergent_reason_names_where_the_curve_leaves_the_floor():
    y = [0.0, 0.0, 0.0, 0.0, 0.002, 0.03, 0.2, 0.6]  # 1.4b: 2 of 1000, within 2 standard errors of 0
    r = judge_curve(y, X8, n=1000.0, discontinuous=True, labels=[f"pythia-{s}" for s in PYTHIA_PARAMS])
    assert r["verdict"] == "emergent"
    assert (
        r["reason"].startswith("emergent: flat within noise up to pythia-1.4b")
        and "of the change after it" in r["reason"]
    )


def test_inverse_emergence_and_direction_unknown():
    y = [0.6, 0.6, 0.6, 0.6, 0.6, 0.59, 0.3, 0.0]
    r = judge_curve(y, X8, stderr=[0.01] * 8)
    assert r["verdict"] == "inverse emergent", r["reason"]
    r = judge_curve(y, X8, stderr=[0.01] * 8, direction_known=False)
    assert r["verdict"] == "direction unknown" and "not judged" in r["reason"]


def test_flat_within_noise_and_no_noise_known():
    rng = np.random.default_rng(0)
    y = 0.4 + 0.02 * rng.standard_normal(8)
    assert judge_curve(y, X8, stderr=[0.02] * 8)["verdict"] == "flat (within noise)"
    r = judge_curve([0.0, 0.0, 0.0, 0.9], [1e8, 1e9, 1e10, 1e11])
    assert r["verdict"] == "emergent" and "measurement noise unknown" in r["reason"] and r["ci_method"] == "none"


def test_uncertain_when_the_interval_reaches_below_the_threshold():
    x = np.array([1e8, 1e9, 1e10, 1e11])
    v = decide([0.0, 0.01, 0.02, 0.9], x, score=90.0, threshold=4.5, ci=(2.0, 100.0), stderr=[0.001] * 4)
    assert v.verdict == "uncertain" and "reaches 2" in v.reason


def test_parametric_interval_is_deterministic_and_vectorised():
    y, se = [0.19, 0.33, 0.52, 0.56, 0.62, 0.65, 0.67, 0.71], [0.005] * 8
    a = parametric_emergence_ci(y, se, n_boot=500, seed=4)
    assert a == parametric_emergence_ci(y, se, n_boot=500, seed=4) and a != parametric_emergence_ci(
        y, se, n_boot=500, seed=5
    )
    assert a[0] < emergence_score(y) < a[1]
    with pytest.raises(ValueError, match="one standard error per value"):
        parametric_emergence_ci(y, se[:3])
    assert all(math.isnan(v) for v in parametric_emergence_ci(y, [math.nan] * 8))


def test_n_from_stderr_recovers_published_test_sizes():
    # lambada_openai has 5153 problems, sciq's test set 1000, piqa's validation set 1838
    for task, n in (("lambada_openai", 5153), ("sciq", 1000), ("piqa", 1838)):
        rows = zero_shot_table().query("task == @task and metric == 'acc'")
        assert {round(n_from_stderr(v, e)) for v, e in zip(rows.value, rows.stderr)} == {n}
    assert math.isnan(n_from_stderr(0.0, 0.01))


def test_checkpoints_along_steps_shift_step_zero():
    table = checkpoint_table()
    assert table["model"].nunique() == 27
    scores = emergence_table(table, n_boot=100).set_index(["task", "metric"])
    row = scores.loc[("lambada_openai", "acc")]
    assert row.n_models == 27 and row.x_min == 0
    shifted = np.unique(table["x"]) + 1.0
    assert row.straight_line == pytest.approx(straight_line_score(shifted))
    assert row.straight_line == pytest.approx(25.74, abs=0.01)  # 20.81 without step 0 (see step_zero_notes)
    assert straight_line_score(np.unique(table["x"])[1:]) == pytest.approx(20.81, abs=0.01)
