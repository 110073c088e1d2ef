"""One unit inside a job: skip when done, commit atomically, fail loudly, and the folder readers see stays whole."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lm_eval_mirage.sweep.step import EXIT_BAD_OUTPUT, run_unit
from lm_eval_mirage.sweep.store import (
    SweepPaths,
    UnitOutputError,
    commit_unit,
    is_done,
    read_manifest,
    staged_output_path,
)

TASK = "mirage_arith_add_1d"
#: configuration hashes (16 hex digits, the only form the step accepts)
H1 = "1111111111111111"
OLD = "0000000000000aaa"
NEW = "0000000000000bbb"
OTHER_TASK = "0000000000000ccc"
H9 = "9999999999999999"


def run(root, fake_harness, hash_=H1, mode="ok", task=TASK, folder="model-a", log_samples=True):
    out = staged_output_path(SweepPaths(root).staging(hash_))
    return run_unit(
        root, folder=folder, task=task, hash_=hash_, command=fake_harness(out, task, mode), log_samples=log_samples
    )


def analysed_files(root):
    """What a reader that searches the whole output folder for harness files would pick up."""
    return sorted(str(p.relative_to(root)) for p in [*root.rglob("results*.json"), *root.rglob("samples_*.jsonl")])


def test_success_moves_the_files_and_writes_the_manifest_last(tmp_path, fake_harness):
    assert run(tmp_path, fake_harness) == 0
    manifest = read_manifest(tmp_path, H1)
    assert manifest["task"] == TASK and manifest["folder"] == "model-a"
    results, samples = sorted(tmp_path.glob("model-a/results_*.json")), sorted(tmp_path.glob("model-a/samples_*.jsonl"))
    assert len(results) == 1 and len(samples) == 1
    # the staged run_<date>.json is renamed to the harness's usual name, keeping the date
    assert (
        manifest["results"] == f"model-a/{results[0].name}"
        and results[0].stem[len("results_") :] == samples[0].stem[len(f"samples_{TASK}_") :]
    )
    assert sorted(manifest["files"]) == sorted(analysed_files(tmp_path))
    assert not SweepPaths(tmp_path).staging(H1).exists()
    assert not SweepPaths(tmp_path).journal(H1).exists()


def test_a_done_unit_is_skipped_without_running_the_command(tmp_path, fake_harness):
    assert run(tmp_path, fake_harness) == 0
    before = analysed_files(tmp_path)
    # "fail" would exit 7: a 0 proves the command did not run
    assert run(tmp_path, fake_harness, mode="fail") == 0
    assert analysed_files(tmp_path) == before


def test_deleting_a_listed_file_makes_the_unit_run_again(tmp_path, fake_harness):
    run(tmp_path, fake_harness)
    next(tmp_path.glob("model-a/samples_*.jsonl")).unlink()
    assert not is_done(tmp_path, H1)
    assert run(tmp_path, fake_harness, mode="fail") == 7


def test_harness_failure_commits_nothing(tmp_path, fake_harness):
    assert run(tmp_path, fake_harness, mode="fail") == 7
    assert read_manifest(tmp_path, H1) is None and analysed_files(tmp_path) == []


def test_exit_zero_without_the_expected_files_is_a_failure(tmp_path, fake_harness, capsys):
    for mode in ("nofile", "wrongtask", "nosamples"):
        assert run(tmp_path, fake_harness, mode=mode) == EXIT_BAD_OUTPUT, mode
        assert read_manifest(tmp_path, H1) is None and not list(tmp_path.glob("model-a/*")), mode
    err = capsys.readouterr().err
    assert "found 0" in err and "no results for task" in err and "no samples file" in err


def test_samples_are_optional_when_not_logged(tmp_path, fake_harness):
    assert run(tmp_path, fake_harness, mode="nosamples", log_samples=False) == 0
    assert [f.split("/")[1][:8] for f in read_manifest(tmp_path, H1)["files"]] == ["results_"]


def test_a_new_configuration_supersedes_the_old_files_of_the_same_task(tmp_path, fake_harness):
    run(tmp_path, fake_harness, hash_=OLD)
    old_files = read_manifest(tmp_path, OLD)["files"]
    run(tmp_path, fake_harness, hash_=OTHER_TASK, task="mirage_arith_sub_1d")
    run(tmp_path, fake_harness, hash_=NEW)
    manifest = read_manifest(tmp_path, NEW)
    assert sorted(manifest["superseded"]) == sorted(old_files)
    assert read_manifest(tmp_path, OLD) is None and read_manifest(tmp_path, OTHER_TASK) is not None
    # one results file per task left for readers; the old ones kept under .sweep, under names no reader matches
    assert sorted(analysed_files(tmp_path)) == sorted(manifest["files"] + read_manifest(tmp_path, OTHER_TASK)["files"])
    kept = sorted(p.name for p in SweepPaths(tmp_path).superseded(OLD).iterdir())
    assert kept == sorted([f"{f.split('/')[1]}.superseded" for f in old_files] + ["manifest.json"])


def test_a_cut_commit_is_rolled_back_before_the_unit_runs_again(tmp_path, fake_harness):
    # a commit cut after moving one file in, before the manifest: the file must not stay for readers
    paths = SweepPaths(tmp_path)
    (tmp_path / "model-a").mkdir()
    stray = tmp_path / "model-a" / "samples_x_2020.jsonl"
    stray.write_text("{}\n")
    paths.journal(H1).parent.mkdir(parents=True)
    paths.journal(H1).write_text(json.dumps({"hash": H1, "files": ["model-a/samples_x_2020.jsonl"]}))
    assert run(tmp_path, fake_harness) == 0
    assert not stray.exists() and not paths.journal(H1).exists()
    assert sorted(analysed_files(tmp_path)) == sorted(read_manifest(tmp_path, H1)["files"])


def test_leftovers_of_a_killed_run_in_staging_are_cleared(tmp_path, fake_harness):
    staging = SweepPaths(tmp_path).staging(H1)
    staging.mkdir(parents=True)
    (staging / "run_1999-01-01.json").write_text("{}")  # a half-written file of a killed run
    assert run(tmp_path, fake_harness) == 0
    assert len(read_manifest(tmp_path, H1)["files"]) == 2


def test_module_entry_point(tmp_path, fake_harness):
    out = staged_output_path(SweepPaths(tmp_path).staging(H9))
    cmd = [
        sys.executable,
        "-m",
        "lm_eval_mirage.sweep.step",
        "--root",
        str(tmp_path),
        "--folder",
        "m",
        "--task",
        TASK,
        "--hash",
        H9,
        "--",
        *fake_harness(out, TASK),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert is_done(tmp_path, H9) and "m mirage_arith_add_1d: done in" in proc.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "lm_eval_mirage.sweep.step", "--root", "x"], capture_output=True, text=True, timeout=120
    )
    assert usage.returncode == 2 and "usage" in usage.stderr


@pytest.mark.parametrize("folder", ["..", ".", ".sweep", "a/../..", "../escaped", "/abs", ""])
def test_a_folder_outside_the_output_folder_is_refused_before_the_harness_runs(tmp_path, fake_harness, folder):
    root = tmp_path / "out"
    root.mkdir()
    marker = tmp_path / "ran"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w')"]
    assert run_unit(root, folder=folder, task=TASK, hash_=H1, command=command) == EXIT_BAD_OUTPUT
    assert not marker.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_commit_refuses_a_folder_outside_and_moves_nothing(tmp_path, fake_harness):
    # the last line of defence, for callers of commit_unit that skipped the checks above
    staging = SweepPaths(tmp_path).staging(H1)
    staging.mkdir(parents=True)
    subprocess.run(fake_harness(staged_output_path(staging), TASK), check=True)
    staged = sorted(p.name for p in staging.iterdir())
    for folder in ("..", ".sweep", "x/../.."):
        with pytest.raises(UnitOutputError, match="not a plain folder inside"):
            commit_unit(tmp_path, hash_=H1, folder=folder, task=TASK, staging=staging, log_samples=True)
    assert sorted(p.name for p in staging.iterdir()) == staged and not list(tmp_path.parent.glob("results_*.json"))


def test_a_symlinked_model_folder_pointing_outside_is_refused(tmp_path, fake_harness):
    (tmp_path / "elsewhere").mkdir()
    root = tmp_path / "out"
    root.mkdir()
    (root / "model-a").symlink_to(tmp_path / "elsewhere")
    assert run(root, fake_harness) == EXIT_BAD_OUTPUT and not list((tmp_path / "elsewhere").iterdir())


def test_a_hash_that_is_not_a_plain_name_is_refused(tmp_path, fake_harness):
    assert run_unit(tmp_path, folder="m", task=TASK, hash_="../../x", command=["true"]) == EXIT_BAD_OUTPUT
    assert not (tmp_path / ".sweep").exists()
