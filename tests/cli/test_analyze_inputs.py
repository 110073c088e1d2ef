"""``lm-eval-mirage analyze`` on what it finds in the wild, end to end through the real commands: runs re-scored
by ``lm-eval-mirage rescore``, damaged samples, odd directions and task names, model folders that cannot be
sized, and a report folder written twice. Each damage is a note naming the file (and line); the rest is written.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lm_eval_mirage._outdir import MANIFEST, STAGING_MARKER

REAL_GEN = Path(__file__).parents[1] / "analysis" / "data" / "harness_0.4.13"
SIZES = {"org/m-a": 10**6, "org/m-b": 4 * 10**6, "org/m-c": 16 * 10**6}


def _family(root: Path) -> dict[str, Path]:
    """Three models (copies of a recorded harness run, sizes recorded in the results files); name -> results file."""
    src = next(REAL_GEN.rglob("results_*.json"))
    out = {}
    for i, (name, size) in enumerate(SIZES.items()):
        folder = root / name.replace("/", "__")
        folder.mkdir(parents=True)
        for f in src.parent.iterdir():
            shutil.copy(f, folder / f.name)
        data = json.loads((folder / src.name).read_text())
        data.update(model_name=name, date=data["date"] + i)
        data["config"].update(model_args={"pretrained": name}, model_num_parameters=size)
        (folder / src.name).write_text(json.dumps(data))
        out[name] = folder / src.name
    return out


def _analyze(run_cli, *args: str, check: bool = True):
    return run_cli(["lm-eval-mirage", "analyze", *args, "--no-plots", "--quiet", "--n-boot", "200"], check=check)


def _digit_rows(report: Path) -> int:
    return int((pd.read_csv(report / "table.csv")["split"] != "all").sum())


@pytest.mark.slow
def test_rescore_then_analyze_keeps_the_per_problem_values(tmp_path, run_cli):
    """Bug 1 of issue 13: the .rescored copy is the same run as its original, its samples are found."""
    runs = tmp_path / "runs"
    _family(runs)
    before = tmp_path / "before"
    _analyze(run_cli, str(runs), "--out", str(before))
    assert _digit_rows(before) > 0
    run_cli(["lm-eval-mirage", "rescore", str(runs)])
    assert len(list(runs.rglob("results_*.rescored.json"))) == 3
    after = tmp_path / "after"
    proc = _analyze(run_cli, str(runs), "--out", str(after))
    assert "duplicate runs" not in proc.stderr
    assert _digit_rows(after) >= _digit_rows(before)  # the split by answer digits survives
    scores = pd.read_csv(after / "emergence.csv")
    original = scores[scores["metric"].isin(["exact_match", "token_edit_distance"]) & (scores["n_models"] == 3)]
    assert len(original) > 0 and original["ci_low"].notna().all() and original["ci_high"].notna().all()
    table = pd.read_csv(after / "table.csv")
    assert table["source"].str.endswith(".rescored.json").all()  # the copy (original + added metrics) wins

    # rescore --out elsewhere with per-sample values: both trees given, still one run per model, samples found
    other = tmp_path / "rescored"
    run_cli(["lm-eval-mirage", "rescore", str(runs), "--out", str(other), "--write-samples"])
    both = tmp_path / "both"
    proc = _analyze(run_cli, str(runs), str(other), "--out", str(both))
    assert "duplicate runs" not in proc.stderr, proc.stderr
    assert _digit_rows(both) >= _digit_rows(before)
    assert pd.read_csv(both / "emergence.csv").query("n_models == 3")["ci_low"].notna().any()


@pytest.mark.slow
def test_damaged_samples_directions_and_task_names_are_notes(tmp_path, run_cli):
    runs = tmp_path / "runs"
    files = _family(runs)
    ts = files["org/m-a"].stem[len("results_") :]

    def samples(model: str, task: str) -> Path:
        return files[model].parent / f"samples_{task}_{ts}.jsonl"

    def replace_line(path: Path, lineno: int, new: bytes) -> None:
        lines = path.read_bytes().splitlines(keepends=True)
        lines[lineno - 1] = new + b"\n"
        path.write_bytes(b"".join(lines))

    add, mul = "mirage_arith_add_2d", "mirage_arith_mul_1d"
    replace_line(samples("org/m-a", add), 2, b'{"doc_id": 1, "filter": "parsed", "target": "caf\xe9"}')  # Latin-1
    replace_line(samples("org/m-b", add), 3, b"[" * 200_000 + b"]" * 200_000)
    line = json.loads(samples("org/m-c", add).read_text().splitlines()[0])
    line["doc"]["answer_digits"] = float("inf")
    replace_line(samples("org/m-c", add), 1, json.dumps(line).encode())  # JSON's Infinity
    samples("org/m-c", mul).write_text("")  # zero problems logged
    data = json.loads(files["org/m-b"].read_text())
    data["n-samples"][mul]["effective"] = 0  # zero problems scored
    data["higher_is_better"][add]["exact_match"] = "false"  # a string, not a boolean
    data["results"]["x/../../../escaped"] = dict(data["results"][add])
    files["org/m-b"].write_text(json.dumps(data))

    report = tmp_path / "report"
    proc = _analyze(run_cli, str(runs), "--out", str(report), check=False)
    err = proc.stderr
    assert proc.returncode == 1, err  # lines were skipped
    assert f"{samples('org/m-a', add)}:2: not UTF-8" in err
    assert f"{samples('org/m-b', add)}:3: JSON nested too deeply to read; line skipped" in err
    assert f"{samples('org/m-c', add)}:1: doc.answer_digits inf is not a number of digits" in err
    assert f"{samples('org/m-c', mul)}: no samples (zero problems)" in err
    assert f"{files['org/m-b']}: {mul} scored zero problems" in err
    assert (
        f"{files['org/m-b']}: higher_is_better['{add}']['exact_match'] = 'false' is not a JSON boolean; refused" in err
    )
    assert f"{files['org/m-b']}: task name 'x/../../../escaped' refused" in err
    assert "Traceback" not in err
    assert (report / "report.md").is_file() and (report / "emergence.csv").is_file()  # the rest is written
    table = pd.read_csv(report / "table.csv")
    assert "x/../../../escaped" not in set(table["task"])
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.parent.glob("*escaped*"))
    em = table[(table.task == add) & (table.metric == "exact_match") & (table.split == "all")]
    assert em["higher_is_better"].all()  # exact match keeps its direction (from its name)
    kept = table[(table.task == add) & (table.model == "org/m-c") & (table.split != "all")]
    assert kept["n"].sum() == 2 * 4 * 6 - 4  # the Infinity line is out of the digit split only (4 metrics)


def _safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    from safetensors.numpy import save_file

    save_file({k: np.zeros(v, dtype=np.float32) for k, v in shapes.items()}, str(path))


@pytest.mark.slow
def test_model_folders_that_cannot_be_sized_are_notes(tmp_path, run_cli):
    models = tmp_path / "models"
    cases = {
        "good": None,
        "escape": "../../../../etc/hostname",
        "lfs": "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 123\n",
        "short": b"\x01\x02\x03",
        "header": (10**12).to_bytes(8, "little") + b"{}",
        "no-weight-map": {"metadata": {}},
    }
    for name, damage in cases.items():
        folder = models / name
        folder.mkdir(parents=True)
        if name == "good":
            _safetensors(folder / "model.safetensors", {"w": (3, 4), "b": (5,)})
        elif name == "escape":
            _safetensors(folder / "part.safetensors", {"w": (2,)})
            (folder / "model.safetensors.index.json").write_text(
                json.dumps({"weight_map": {"w": "part.safetensors", "x": damage}})
            )
        elif name == "no-weight-map":
            (folder / "model.safetensors.index.json").write_text(json.dumps(damage))
        else:
            data = damage.encode() if isinstance(damage, str) else damage
            (folder / "model.safetensors").write_bytes(data)
    runs = tmp_path / "runs"
    template = json.loads(next(REAL_GEN.rglob("results_*.json")).read_text())
    for i, name in enumerate(cases):
        data = json.loads(json.dumps(template))
        data["config"].pop("model_num_parameters")
        data["config"]["model_args"] = f"pretrained={models / name}"
        data.update(model_name=str(models / name), date=1.7e9 + i)
        (runs / name).mkdir(parents=True)
        (runs / name / "results_2024-01-01T00-00-00.0.json").write_text(json.dumps(data))
    report = tmp_path / "report"
    proc = _analyze(run_cli, str(runs), "--out", str(report), "--no-samples")
    err = proc.stderr
    assert "Traceback" not in err
    assert (
        f"{models / 'escape'}: size unknown: " in err
        and "'../../../../etc/hostname' points outside the model folder; refused" in err
    )
    assert f"{models / 'lfs'}: size unknown: " in err and "a Git LFS pointer" in err
    assert f"{models / 'short'}: size unknown: " in err and "not a readable safetensors file" in err
    assert f"{models / 'header'}: size unknown: " in err
    assert f"{models / 'no-weight-map'}: size unknown: " in err and "no 'weight_map' object" in err
    sizes = pd.read_csv(report / "table.csv").groupby("model")["params"].first()
    assert sizes[str(models / "good")] == 17 and sizes.drop(str(models / "good")).isna().all()


@pytest.mark.slow
def test_rerunning_into_an_existing_out_leaves_one_run(tmp_path, run_cli):
    runs = tmp_path / "runs"
    _family(runs)
    report = tmp_path / "report"
    _analyze(run_cli, str(runs), "--out", str(report))
    first = sorted(p.relative_to(report) for p in report.rglob("*"))
    assert Path(MANIFEST) in first
    (report / "emergence.csv").write_text("stale\n")  # a file the earlier analysis wrote, changed since
    _analyze(run_cli, str(runs), "--out", str(report))
    assert sorted(p.relative_to(report) for p in report.rglob("*")) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "runs"]  # no staging folder left

    (report / "figures").mkdir(exist_ok=True)
    (report / "figures" / "mine.png").write_bytes(b"a user's own figure")  # not written by analyze
    proc = _analyze(run_cli, str(runs), "--out", str(report), check=False)
    assert proc.returncode == 2 and "did not write (figures, figures/mine.png)" in proc.stderr
    assert (report / "figures" / "mine.png").read_bytes() == b"a user's own figure"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep me")
    proc = _analyze(run_cli, str(runs), "--out", str(mine), check=False)
    assert proc.returncode == 2 and f"did not write (no {MANIFEST})" in proc.stderr
    assert (mine / "thesis.tex").read_text() == "keep me"
    (runs / "report.md").write_text("")
    proc = _analyze(run_cli, str(runs), "--out", str(runs), check=False)
    assert proc.returncode == 2 and "holds the results being read" in proc.stderr
    assert len(list(runs.rglob("results_*.json"))) == 3


def test_a_folder_with_a_report_md_of_its_own_is_never_replaced(tmp_path, run_cli):
    """A user's folder with report.md, thesis.tex and figs/ (no manifest) is refused whole, nothing lost."""
    runs = tmp_path / "runs"
    _family(runs)
    mine = tmp_path / "paper"
    (mine / "figs").mkdir(parents=True)
    (mine / "report.md").write_text("# my report")
    (mine / "thesis.tex").write_text("\\documentclass{article}")
    (mine / "figs" / "a.pdf").write_bytes(b"%PDF")
    before = {p: p.read_bytes() for p in mine.rglob("*") if p.is_file()}
    proc = _analyze(run_cli, str(runs), "--out", str(mine), check=False)
    assert (
        proc.returncode == 2
        and f"--out {mine}: a non-empty folder that lm-eval-mirage analyze did not write" in proc.stderr
    )
    assert {p: p.read_bytes() for p in mine.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["paper", "runs"]  # nothing staged beside it
    forged = mine / MANIFEST  # another command's manifest does not make it ours either
    forged.write_text(json.dumps({"format": "lm-eval-mirage output folder 1", "command": "rescore", "files": []}))
    proc = _analyze(run_cli, str(runs), "--out", str(mine), check=False)
    assert proc.returncode == 2 and "written by lm-eval-mirage rescore, not analyze" in proc.stderr
    assert (mine / "thesis.tex").exists()


def test_a_killed_runs_staging_folder_is_removed_by_the_next_run(tmp_path, run_cli):
    runs = tmp_path / "runs"
    _family(runs)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / ".report-killed"  # what `kill -9` of analyze leaves: a staging folder with its marker
    stale.mkdir()
    (stale / STAGING_MARKER).write_text(json.dumps({"pid": int(dead.stdout), "host": socket.gethostname()}))
    (stale / "table.csv").write_text("half written")
    alive = tmp_path / ".report-running"  # a live run's staging folder (this process) is left alone
    alive.mkdir()
    (alive / STAGING_MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    other = tmp_path / ".report-notours"  # no marker: not ours, never touched
    other.mkdir()
    _analyze(run_cli, str(runs), "--out", str(tmp_path / "report"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".report-notours", ".report-running", "report", "runs"]
    assert not (tmp_path / "report" / STAGING_MARKER).exists()


def test_task_names_that_sanitise_alike_or_are_very_long_get_their_own_figures_and_ids(tmp_path, run_cli):
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    simulate_results(tmp_path / "runs", tasks={"arith add": (2,), "arith+add": (3,)}, n_problems=30, likelihood=False)
    long_name = "x" * 230  # its samples file name would exceed the file system's 255 bytes: results only
    simulate_results(tmp_path / "runs2", tasks={long_name: (2,)}, n_problems=30, likelihood=False, samples=False)
    report = tmp_path / "report"
    cmd = ["lm-eval-mirage", "analyze", str(tmp_path / "runs"), str(tmp_path / "runs2"), "--out", str(report)]
    proc = run_cli([*cmd, "--quiet", "--n-boot", "50"])
    assert f"{long_name}: models: " in proc.stdout
    figures = sorted(p.name for p in (report / "figures").iterdir())
    side = [f for f in figures if f.endswith("__side_by_side.png")]
    assert len(side) == 3 and all(len(f) < 120 for f in side)  # one per task, none shared
    html = (report / "report.html").read_text(encoding="utf-8")
    ids = re.findall(r'id="(task-[^"]*)"', html)
    assert len(ids) == len(set(ids)) == 3


def test_model_folders_that_are_links_are_read_once_and_deep_trees_are_no_traceback(tmp_path, run_cli):
    """A family assembled from symbolic links is analysed and re-scored whole; a link loop and about 1000
    nested folders are walked without recursion."""
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    store, runs = tmp_path / "store", tmp_path / "runs"
    simulate_results(store, n_problems=20, likelihood=False)
    runs.mkdir()
    for folder in sorted(store.iterdir()):
        (runs / folder.name).symlink_to(folder, target_is_directory=True)
    (runs / "loop").symlink_to(runs, target_is_directory=True)  # a cycle: read once, no endless walk
    chain = [runs / "deep"]
    for _ in range(1000):  # mkdir one by one: os.makedirs and shutil.rmtree recurse per level
        chain.append(chain[-1] / "a")
    for folder in chain:
        folder.mkdir()
    proc = _analyze(run_cli, str(runs), "--out", str(tmp_path / "report"))
    assert proc.stdout.startswith("5 model(s), 2 task(s)")
    table = pd.read_csv(tmp_path / "report" / "table.csv")
    assert table["model"].nunique() == 5
    proc = run_cli(["lm-eval-mirage", "rescore", str(runs), "--out", str(tmp_path / "rescored")], check=False)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    assert len(list((tmp_path / "rescored").rglob("*.rescored.json"))) == 5
    for folder in reversed(chain):  # leave nothing that pytest's own clean-up could not remove
        folder.rmdir()


def test_a_json_true_is_no_parameter_count(tmp_path, run_cli):
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    runs = tmp_path / "runs"
    simulate_results(runs, n_problems=20, likelihood=False)
    results = next((runs / "sim__model-100m").glob("results_*.json"))
    data = json.loads(results.read_text())
    data["config"]["model_num_parameters"] = True  # what a careless writer may leave
    results.write_text(json.dumps(data))
    (runs / "params.json").write_text(json.dumps({"sim__model-400m": {"params": True}}))
    proc = _analyze(run_cli, str(runs), "--out", str(tmp_path / "report"), check=False)
    sizes = pd.read_csv(tmp_path / "report" / "table.csv").groupby("model")["params"].first()
    assert sizes["sim/model-400m"] == 4e8  # params.json's true ignored: the results file's count is used
    assert "sim/model-100m" not in sizes.index or math.isnan(sizes["sim/model-100m"])  # never a size of 1
    assert (sizes.dropna() > 1).all() and proc.returncode in (0, 1)


def test_jobs_beyond_the_cores_start_no_more_processes_than_cores(tmp_path):
    from lm_eval_mirage.analysis.sample_cache import default_jobs, read_files
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    simulate_results(tmp_path / "runs", n_problems=20, likelihood=False)
    work = [(str(p), ("exact_match",)) for p in sorted((tmp_path / "runs").rglob("samples_*.jsonl"))]
    started: list[int] = []
    import concurrent.futures

    real = concurrent.futures.ProcessPoolExecutor

    class Counting(real):
        def __init__(self, max_workers=None, **kw):
            started.append(max_workers)
            super().__init__(max_workers=max_workers, **kw)

    import lm_eval_mirage.analysis.sample_cache as sc

    sc.ProcessPoolExecutor, before = Counting, sc.ProcessPoolExecutor
    try:
        many = read_files(work, jobs=120, cache=None)
    finally:
        sc.ProcessPoolExecutor = before
    assert started in ([], [min(default_jobs(), len(work))]) and all(n <= default_jobs() for n in started)
    assert [f.values.tolist() for f in many] == [f.values.tolist() for f in read_files(work, jobs=1, cache=None)]


def test_a_fifo_in_the_cache_folder_is_a_miss_not_a_hang(tmp_path, run_cli):
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    runs, cache = tmp_path / "runs", tmp_path / "cache"
    simulate_results(runs, n_problems=20, likelihood=False)
    _analyze(run_cli, str(runs), "--out", str(tmp_path / "r1"), "--cache", str(cache))
    entries = sorted(cache.glob("*.npz"))
    assert entries
    for entry in entries:  # each entry becomes a FIFO that np.load would wait on forever
        entry.unlink()
        os.mkfifo(entry)
    proc = _analyze(run_cli, str(runs), "--out", str(tmp_path / "r2"), "--cache", str(cache))
    assert proc.returncode == 0
    assert pd.read_csv(tmp_path / "r1" / "emergence.csv").equals(pd.read_csv(tmp_path / "r2" / "emergence.csv"))


@pytest.mark.parametrize("k", [5, 6])
def test_holdout_of_the_whole_family_or_more_is_said_on_the_terminal(tmp_path, run_cli, k):
    """--holdout K >= the family's size holds out everything (never nothing) and says so on stderr."""
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    runs = tmp_path / "runs"
    simulate_results(runs, n_problems=20)
    proc = _analyze(run_cli, str(runs), "--out", str(tmp_path / "report"), "--holdout", str(k), check=False)
    assert (
        f"note: forecast: models: --holdout {k} of 5 model(s) leaves 0 to fit (a forecast needs 2); no forecast"
        in proc.stderr
    )
    forecast = pd.read_csv(tmp_path / "report" / "forecast.csv")
    assert forecast.empty  # nothing fitted on all five and then called a forecast
