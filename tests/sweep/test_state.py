"""The state folder read back as hostile input, through the real ``lm-eval-mirage sweep`` command.

Whole sweeps run with ``--executor local`` and a stand-in ``python:`` that fakes only the harness run
(``stub_python`` in conftest.py), so submitit, the job script and every step are the real ones. Forged
journals and manifests, symbolic links in the state folder, and damaged state files must never make the
sweep remove, move or write a file outside its output folder; each is refused in one line naming the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lm_eval_mirage.cli.main import main
from lm_eval_mirage.sweep import load_sweep, plan_sweep
from lm_eval_mirage.sweep.state import StateFileError, SweepPaths, is_config_hash, listed_file, read_manifest_file
from lm_eval_mirage.sweep.store import read_manifest

LM_EVAL_MIRAGE = str(Path(sys.executable).parent / "lm-eval-mirage")
TASK = "mirage_arith_add_1d"
FOLDER = "org__m"  # the model folder of path org/m


def write_sweep(tmp_path: Path, stub_python: Path, **harness) -> Path:
    path = tmp_path / "s.yaml"
    data = {
        "output": "out",
        "tasks": [TASK],
        "python": str(stub_python),
        "retries": 1,
        "models": [{"name": "m", "path": "org/m"}],
    }
    if harness:
        data["harness"] = harness
    path.write_text(yaml.safe_dump(data))
    return path


def unit_hash(sweep_file: Path) -> str:
    config = load_sweep(sweep_file)
    ((unit,),) = [job.units for job in plan_sweep(config, config.tasks)]
    return unit.hash


def sweep(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LM_EVAL_MIRAGE, "sweep", *map(str, args), "--executor", "local", "--poll", "0.2"],
        capture_output=True,
        text=True,
        timeout=300,
    )


def job_log(out: Path) -> str:
    return "".join(p.read_text() for p in sorted((out / ".sweep" / "logs").rglob("*_log.err")))


def outside(tmp_path: Path) -> dict[str, str]:
    """Every file outside the output folder (and the sweep file, the stub), with its content."""
    return {
        str(p.relative_to(tmp_path)): p.read_text()
        for p in sorted(tmp_path.rglob("*"))
        if p.is_file() and "out" not in p.relative_to(tmp_path).parts[:1]
    }


def forge(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


# --- forged journal and manifests ---------------------------------------------------------------------------------

JOURNALS = {  # what a forged journal lists -> the key its refusal names
    "absolute": (lambda tmp: {"files": [str(tmp / "victim")]}, "files[0]"),
    "relative": (lambda tmp: {"files": ["../victim2"]}, "files[0]"),
    "climbing": (lambda tmp: {"files": [f"{FOLDER}/../../victim2"]}, "files[0]"),
    "folder ..": (lambda tmp: {"folder": "..", "files": ["../victim2"]}, "folder"),
    "linked folder": (
        lambda tmp: {"folder": "linked", "files": ["linked/victim3"]},
        "files[0]",
    ),  # out/linked -> elsewhere
}


@pytest.mark.parametrize("case", JOURNALS)
def test_a_forged_journal_removes_nothing_outside_and_is_refused_in_one_line(tmp_path, stub_python, case):
    sweep_file = write_sweep(tmp_path, stub_python)
    out, h = tmp_path / "out", unit_hash(sweep_file)
    (tmp_path / "victim").write_text("absolute")
    (tmp_path / "victim2").write_text("relative")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "victim3").write_text("behind a link")
    out.mkdir()
    (out / "linked").symlink_to(tmp_path / "elsewhere")
    before = outside(tmp_path)
    journal = SweepPaths(out).journal(h)
    content, key = JOURNALS[case]
    forge(journal, {"hash": h, **content(tmp_path)})
    proc = sweep(sweep_file)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert outside(tmp_path) == before
    (line,) = [ln for ln in job_log(out).splitlines() if ": FAILED: " in ln]
    assert line.split("FAILED: ", 1)[1].startswith(f"{journal}: {key}: expected "), line
    assert (
        line.endswith("(refused, nothing done with it; move the file away to run the task again)") and journal.is_file()
    )
    assert (
        "not retried" in proc.stdout and f"FAILED: {journal}: {key}" in proc.stdout
    )  # the summary names it; a retry would fail the same
    # once the forged journal is moved away, the task runs
    journal.unlink()
    assert sweep(sweep_file).returncode == 0 and read_manifest(out, h) is not None and outside(tmp_path) == before


def test_foreign_manifests_move_and_write_nothing_outside(tmp_path, stub_python):
    sweep_file = write_sweep(tmp_path, stub_python)
    out, h = tmp_path / "out", unit_hash(sweep_file)
    (tmp_path / "victim").write_text("absolute")
    (tmp_path / "victim2").write_text("relative")
    done = SweepPaths(out).book / "done"
    forged = {  # each names the same model folder and task, so the commit would supersede it
        "0000000000000001": {
            "hash": "../../../escaped-dir",
            "folder": FOLDER,
            "task": TASK,
            "files": [str(tmp_path / "victim")],
            "results": str(tmp_path / "victim"),
        },
        "0000000000000002": {
            "hash": "0000000000000002",
            "folder": FOLDER,
            "task": TASK,
            "files": [str(tmp_path / "victim")],
            "results": str(tmp_path / "victim"),
        },
        "0000000000000003": {
            "hash": "0000000000000003",
            "folder": FOLDER,
            "task": TASK,
            "files": [f"{FOLDER}/../../victim2"],
            "results": f"{FOLDER}/../../victim2",
        },
        "0000000000000004": {
            "hash": "0000000000000004",
            "folder": "..",
            "task": TASK,
            "files": ["../victim2"],
            "results": "../victim2",
        },
        "escaped": {"hash": "escaped", "folder": FOLDER, "task": TASK, "files": []},
    }
    for name, data in forged.items():
        forge(done / f"{name}.json", data)
    before = outside(tmp_path)
    proc = sweep(sweep_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outside(tmp_path) == before and not list(tmp_path.parent.rglob("escaped-dir"))
    assert sorted(p.name for p in done.iterdir()) == sorted([f"{n}.json" for n in forged] + [f"{h}.json"])  # none moved
    notes = [ln for ln in job_log(out).splitlines() if "note:" in ln]
    assert len(notes) == len(forged) and all("(left alone: nothing it lists is moved)" in n for n in notes)
    assert any(
        f"{done}/0000000000000001.json: hash: expected '0000000000000001' (the file's name), got '../../../escaped-dir'"
        in n
        for n in notes
    )
    assert not (out / ".sweep" / "superseded").exists()


def test_a_manifest_behind_a_linked_model_folder_is_not_done_and_its_files_stay(tmp_path, stub_python):
    """A manifest whose files are reached through a link out of the output folder is refused: the task is not
    done (status says why), and the job refuses it rather than overwriting it."""
    sweep_file = write_sweep(tmp_path, stub_python)
    out, h = tmp_path / "out", unit_hash(sweep_file)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "results_x.json").write_text("{}")
    out.mkdir()
    (out / FOLDER).symlink_to(tmp_path / "elsewhere")
    forge(
        SweepPaths(out).manifest(h),
        {
            "hash": h,
            "folder": FOLDER,
            "task": TASK,
            "files": [f"{FOLDER}/results_x.json"],
            "results": f"{FOLDER}/results_x.json",
        },
    )
    before = outside(tmp_path)
    status = subprocess.run(
        [LM_EVAL_MIRAGE, "sweep", "status", str(sweep_file)], capture_output=True, text=True, timeout=300
    )
    assert status.returncode == 0 and "0/1 tasks done" in status.stdout
    (note,) = status.stderr.splitlines()
    assert note.startswith(
        f"note: {SweepPaths(out).manifest(h)}: files[0]: expected a file inside the output folder, not behind a symbolic link"
    )
    assert sweep(sweep_file).returncode == 1 and outside(tmp_path) == before


# --- links in the state folder ------------------------------------------------------------------------------------

LINKED_FOLDERS = {
    ".sweep": 2,
    ".sweep/done": 1,
    ".sweep/pending": 1,
    ".sweep/staging": 2,
    ".sweep/logs": 2,
    ".sweep/jobs": 2,
}
LINKED_FILES = {"params.json": 2, ".sweep/state.json": 2, ".sweep/sweep.yaml": 0}


@pytest.mark.parametrize("linked", [*LINKED_FOLDERS, *LINKED_FILES])
def test_a_link_in_the_state_folder_never_leads_a_write_outside(tmp_path, stub_python, linked):
    """A folder of the state folder linked elsewhere is refused (exit 2 before anything is submitted, or the
    task fails: exit 1); a file linked elsewhere is refused, or replaced by a file (the copy of the sweep file)."""
    sweep_file = write_sweep(tmp_path, stub_python)
    out = tmp_path / "out"
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep").write_text("keep")
    link = out / linked
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target if linked in LINKED_FOLDERS else target / "keep")
    proc = sweep(sweep_file)
    assert sorted(p.name for p in target.iterdir()) == ["keep"] and (target / "keep").read_text() == "keep", (
        proc.stdout + proc.stderr
    )
    assert proc.returncode == {**LINKED_FOLDERS, **LINKED_FILES}[linked], proc.stdout + proc.stderr
    if proc.returncode:
        logs = "" if linked in (".sweep", ".sweep/logs") else job_log(out)
        assert "reached through a symbolic link" in proc.stderr + logs, proc.stdout + proc.stderr + logs
    else:
        assert not link.is_symlink() and link.is_file()


def test_a_linked_superseded_folder_gets_no_old_files(tmp_path, stub_python):
    sweep_file = write_sweep(tmp_path, stub_python)
    out = tmp_path / "out"
    assert sweep(sweep_file).returncode == 0
    old = unit_hash(sweep_file)
    old_files = read_manifest(out, old)["files"]
    (tmp_path / "elsewhere").mkdir()
    (out / ".sweep" / "superseded").symlink_to(tmp_path / "elsewhere")
    sweep_file = write_sweep(
        tmp_path, stub_python, num_fewshot=1
    )  # another configuration: the old unit would be superseded
    proc = sweep(sweep_file)
    assert proc.returncode == 1 and not list((tmp_path / "elsewhere").iterdir()), proc.stdout
    assert all((out / f).is_file() for f in old_files) and read_manifest(out, old) is not None
    assert f"FAILED: {out}/.sweep/superseded/{old}: reached through a symbolic link" in job_log(out)


# --- sweep status on a damaged state folder -----------------------------------------------------------------------

DAMAGED = {  # name -> what is put at the file's place
    "truncated JSON": b'{"jobs": {"org__m": {"job_id": "4',
    "JSON of the wrong type": b"[1, 2, 3]",
    "a folder": None,
    "binary garbage": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe\x00",
    "100k nested": b"[" * 100_000 + b"]" * 100_000,
    "a FIFO": "fifo",
}
STATE_FIELDS = {  # a wrong-typed field of state.json, and the key the note names
    "attempts": ({"attempts": "many"}, "jobs['org__m'].attempts"),
    "job id": ({"job_id": "../../x"}, "jobs['org__m'].job_id"),
    "log outside": ({"stderr": "/etc/passwd"}, "jobs['org__m'].stderr"),
    "unhashable id": ({"job_id": []}, "jobs['org__m'].job_id"),
    "entry a string": ("x", "jobs['org__m']"),
    "jobs a list": (None, "jobs"),
}


def put(path: Path, content) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if content is None:
        path.mkdir()
    elif content == "fifo":
        os.mkfifo(path)
    else:
        path.write_bytes(content)


def status(sweep_file: Path, capsys) -> tuple[str, list[str]]:
    assert main(["sweep", "status", str(sweep_file)]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err.splitlines()


@pytest.mark.parametrize("form", DAMAGED)
@pytest.mark.parametrize("which", ["state.json", "manifest"])
def test_status_on_a_damaged_state_file_is_one_note_naming_it(tmp_path, stub_python, capsys, which, form):
    sweep_file = write_sweep(tmp_path, stub_python)
    paths = SweepPaths(tmp_path / "out")
    file = paths.state if which == "state.json" else paths.manifest(unit_hash(sweep_file))
    put(file, DAMAGED[form])
    out, err = status(sweep_file, capsys)
    assert f"  {FOLDER}  0/1      not submitted" in out, out
    (line,) = err
    assert line.startswith(f"note: {file}: ") and len(line) < 400, line


@pytest.mark.parametrize("field", STATE_FIELDS)
def test_status_drops_a_bad_state_entry_and_reports_the_rest(tmp_path, stub_python, capsys, field):
    sweep_file = tmp_path / "s.yaml"
    sweep_file.write_text(
        yaml.safe_dump(
            {
                "output": "out",
                "tasks": [TASK],
                "python": str(stub_python),
                "models": [{"name": "m", "path": "org/m"}, {"name": "n", "path": "org/n"}],
            }
        )
    )
    paths = SweepPaths(tmp_path / "out")
    good = {
        "job_id": "12",
        "attempts": 1,
        "result": "failed",
        "state": "FAILED\x1b[2J",
        "executor": "slurm",
        "stderr": str(paths.root / ".sweep" / "logs" / "12" / "12_0_log.err"),
    }
    change, key = STATE_FIELDS[field]
    bad = {**good, **change} if isinstance(change, dict) else change
    forge(paths.state, {"jobs": [1]} if change is None else {"jobs": {FOLDER: bad, "org__n": good}})
    out, err = status(sweep_file, capsys)
    (line,) = err
    assert line.startswith(f"note: {paths.state}: {key}: expected ") and "ignored" in line, line
    rows = {ln.split()[0]: ln.split() for ln in out.splitlines() if ln.startswith("  org__")}
    assert rows[FOLDER][2:4] == ["not", "submitted"]
    if change is not None:  # the other job's record is still shown, its state as one printable line
        assert rows["org__n"][2:4] == ["failed", "12"] and "FAILED\\x1b[2J" in out and "\x1b" not in out


def test_a_run_over_a_damaged_state_file_notes_it_once_and_replaces_it(tmp_path, stub_python):
    sweep_file = write_sweep(tmp_path, stub_python)
    state = SweepPaths(tmp_path / "out").state
    put(state, DAMAGED["truncated JSON"])
    proc = sweep(sweep_file)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (note,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("note: ")]
    assert note.startswith(f"note: {state}: not valid JSON: ") and note.endswith(
        "(ignored: replaced by this run's job records)"
    )
    assert json.loads(state.read_text())["jobs"][FOLDER]["result"] == "done"
    state.unlink()
    state.mkdir()
    proc = sweep(sweep_file)
    assert (
        proc.returncode == 2
        and proc.stderr.strip()
        == f"error: {state}: is a folder; expected the sweep's state file (move the folder away)"
    )


def test_a_damaged_params_json_stops_the_run_before_anything_is_submitted(tmp_path, stub_python):
    sweep_file = write_sweep(tmp_path, stub_python)
    params = tmp_path / "out" / "params.json"
    for content, words in (
        (b'{"a": ', "not valid JSON"),
        (b"[1]", "the file: expected a JSON object (model folder -> record), got a list"),
    ):
        put(params, content)
        proc = sweep(sweep_file)
        assert proc.returncode == 2 and proc.stderr.strip().startswith(f"error: {params}: {words}"), proc.stderr
        assert params.read_bytes() == content and not (tmp_path / "out" / ".sweep" / "logs").exists()


# --- the checks themselves ----------------------------------------------------------------------------------------


def test_hashes_have_exactly_their_format():
    assert is_config_hash("0123456789abcdef")
    for bad in (
        "0123456789abcde",
        "0123456789abcdef0",
        "0123456789ABCDEF",
        "../../../escaped",
        "",
        None,
        12,
        "0123456789abcde\n",
    ):
        assert not is_config_hash(bad), bad


@pytest.mark.parametrize(
    "value",
    [
        "/abs/victim",
        "../victim",
        "m/../../victim",
        "m/.hidden",
        "other/results.json",
        "m/a/b",
        "m",
        "m/",
        "",
        5,
        None,
        ["m/x"],
        "m/x\x00y",
    ],
)
def test_a_listed_file_must_be_a_plain_file_of_the_units_folder(tmp_path, value):
    with pytest.raises(StateFileError, match="expected a file in the unit's model folder"):
        listed_file(SweepPaths(tmp_path), value, folder="m", source=tmp_path / "s.json", key="files[0]")
    assert (
        listed_file(SweepPaths(tmp_path), "m/results_1.json", folder="m", source=tmp_path / "s.json", key="k")
        == tmp_path / "m" / "results_1.json"
    )


def test_a_manifest_file_not_named_by_a_hash_is_refused(tmp_path):
    path = tmp_path / ".sweep" / "done" / "x.json"
    forge(path, {"hash": "x", "folder": "m", "task": "t", "files": ["m/r.json"], "results": "m/r.json"})
    with pytest.raises(StateFileError, match=r"the file name: expected <configuration hash>\.json"):
        read_manifest_file(SweepPaths(tmp_path), path)
