"""``lm-eval-mirage rescore`` (the real command, a subprocess) on damaged, hostile and odd input: one bad value
costs its line (or its task), is named as ``file:line: reason``, and the rest is written; exit 1 when anything
was skipped, 2 for a destination that cannot be written; kills leave no temporary files behind."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lm_eval.api.metrics import mean

from lm_eval_mirage.metrics import choice
from lm_eval_mirage.rescore.output import STALE_AFTER_S, remove_stale_temporaries

BIN = Path(sys.executable).parent / "lm-eval-mirage"


def rescore_cli(run_cli, path: Path, *args: str) -> subprocess.CompletedProcess:
    proc = run_cli(["lm-eval-mirage", "rescore", str(path), "--quiet", *args], check=False)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def samples_file(results_file: Path, task: str) -> Path:
    (path,) = results_file.parent.glob(f"samples_{task}_*[0-9].jsonl")
    return path


def edit_samples(results_file: Path, task: str, fn) -> Path:
    """Apply ``fn`` to the parsed samples of ``task`` and write them back as the harness does."""
    path = samples_file(results_file, task)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    fn(lines)
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    return path


def edit_line(results_file: Path, task: str, lineno: int, old: str, new: str) -> Path:
    """Replace ``old`` by ``new`` in line ``lineno`` (1-based) of ``task``'s samples file, as raw text."""
    path = samples_file(results_file, task)
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[lineno - 1]
    lines[lineno - 1] = lines[lineno - 1].replace(old, new, 1)
    path.write_text("".join(lines))
    return path


def rescored(results_file: Path) -> dict:
    (path,) = results_file.parent.glob("results_*.rescored.json")
    return json.loads(path.read_text())


def set_choice(lines: list[dict], index: int, choice_index: int, value) -> None:
    lines[index]["filtered_resps"][choice_index][0] = value


def mc_value(layout, metric: str, docs: list[int]) -> float:
    return mean([getattr(choice, metric)(layout.MC_GOLD[i], layout.MC_LLS[i]) for i in docs])


def test_true_or_a_positive_number_is_not_a_loglikelihood(layout, tmp_path, run_cli):
    results = layout.make_run(tmp_path, "m1")
    # both leave the logged acc consistent (the gold stays / stays not the argmax): only the value check sees them
    mc = edit_samples(results, "t_mc", lambda lines: (set_choice(lines, 0, 1, True), set_choice(lines, 3, 0, 2.5)))
    proc = rescore_cli(run_cli, tmp_path)
    assert proc.returncode == 1
    assert f"{mc}:1: filtered_resps[1][0] must be a log-likelihood (a number <= 0), got True" in proc.stderr
    assert f"{mc}:4: filtered_resps[0][0] must be a log-likelihood (a number <= 0), got 2.5" in proc.stderr
    new = rescored(results)
    assert new["results"]["t_mc"]["correct_choice_logprob,none"] == mc_value(layout, "correct_choice_logprob", [1, 2])
    assert new["rescore"]["counts"]["t_mc"]["scored"] == {"none": 2}
    assert new["rescore"]["skipped_by_file"] == {mc.name: 2}
    assert (
        new["results"]["t_gen"]["token_edit_distance,parsed"]
        == rescored_clean(layout, tmp_path)["t_gen"]["token_edit_distance,parsed"]
    )


def rescored_clean(layout, tmp_path: Path) -> dict:
    clean = layout.make_run(tmp_path / "clean", "m1")
    proc = subprocess.run([str(BIN), "rescore", str(clean), "--quiet"], capture_output=True, text=True, check=True)
    assert proc.returncode == 0
    return rescored(clean)["results"]


def test_a_loglikelihood_sample_logged_as_true_is_refused(layout, tmp_path, run_cli):
    samples = [
        layout.sample(i, " x", [("Q:", " x")], [[(-1.5 * (i + 1), False)]], [(-1.5 * (i + 1), False)], "none", {})
        for i in range(3)
    ]
    results = layout.write_run(tmp_path, "m1", {"t_ll": (layout.ll_config("t_ll"), {"sample_len": 3}, samples)})
    edit_samples(
        results, "t_ll", lambda lines: lines[1].__setitem__("filtered_resps", [[True, "False"]])
    )  # a JSON true
    proc = rescore_cli(run_cli, tmp_path)
    assert proc.returncode == 1
    assert (
        f"{samples_file(results, 't_ll')}:2: filtered_resps[0][0] must be a log-likelihood (a number <= 0), got True"
        in proc.stderr
    )
    assert rescored(results)["results"]["t_ll"]["target_logprob,none"] == mean([-1.5, -4.5])


def test_one_nan_costs_one_line_not_the_tree(layout, tmp_path, run_cli):
    files = [layout.make_run(tmp_path, m) for m in ("m1", "m2", "m3")]
    bad = edit_samples(files[1], "t_mc", lambda lines: set_choice(lines, 1, 2, float("nan")))  # written as NaN
    assert "NaN" in bad.read_text().splitlines()[1]
    proc = rescore_cli(run_cli, tmp_path)
    assert proc.returncode == 1
    assert f"{bad}:2: filtered_resps[2][0] must be a log-likelihood (a number <= 0), got nan" in proc.stderr
    for f in files:  # every model written
        res = rescored(f)["results"]
        docs = [0, 2, 3] if f == files[1] else [0, 1, 2, 3]
        assert res["t_mc"]["binary_brier_score,none"] == mc_value(layout, "binary_brier_score", docs)
        assert "token_edit_distance,raw" in res["t_gen"]


@pytest.mark.parametrize("strict", [False, True], ids=["fast", "strict"])
def test_a_5000_digit_doc_id_or_target_costs_one_line(layout, tmp_path, run_cli, strict):
    results = layout.make_run(tmp_path, "m1")
    gen = edit_line(results, "t_gen", 3, '{"doc_id": 2,', '{"doc_id": ' + "7" * 5000 + ",")
    mc = edit_samples(results, "t_mc", lambda lines: lines[1].__setitem__("target", "7" * 5000))
    proc = rescore_cli(run_cli, tmp_path, *(["--strict"] if strict else []))
    assert proc.returncode == 1
    assert f"{gen}:3: unreadable JSON (Exceeds the limit (4300 digits)" in proc.stderr
    assert re.search(rf"{re.escape(str(mc))}:2: .*4300 digits", proc.stderr)
    counts = rescored(results)["rescore"]["counts"]
    assert counts["t_gen"]["scored"] == {"parsed": 5, "raw": 6} and counts["t_mc"]["scored"] == {"none": 3}


def test_an_unknown_metric_option_costs_that_task(layout, tmp_path, run_cli):
    results = layout.make_run(tmp_path, "m1")
    run = json.loads(results.read_text())
    run["configs"]["t_gen"]["metric_list"].append({"metric": "token_edit_distance", "frobnicate": 1})
    results.write_text(json.dumps(run))
    proc = rescore_cli(run_cli, tmp_path)
    assert proc.returncode == 1
    gen = samples_file(results, "t_gen")
    assert re.search(rf"{re.escape(str(gen))}: task 't_gen': .*frobnicate.*: 12 lines skipped", proc.stderr)
    assert proc.stderr.count("frobnicate") == 1  # once for the task, not once per line
    new = rescored(results)
    assert not any(k.startswith("token_edit_distance") for k in new["results"]["t_gen"])
    assert new["results"]["t_mc"]["brier_score,none"] == pytest.approx(
        mc_value(layout, "brier_score", [0, 1, 2, 3]), abs=1e-15
    )
    assert new["rescore"]["counts"]["t_gen"] == {"lines": 12, "skipped": 12, "scored": {}, "values": {}}
    assert new["rescore"]["skipped"] == 12


def test_200k_nested_brackets_cost_one_line(layout, tmp_path, run_cli):
    results = layout.make_run(tmp_path, "m1")
    deep = '"doc": {"x": ' + "[" * 200_000 + "]" * 200_000 + ", "
    gen = edit_line(results, "t_gen", 3, '"doc": {', deep)  # the generation fast path
    mc = edit_line(results, "t_mc", 2, '"doc": {', deep)  # a full parse
    proc = rescore_cli(run_cli, tmp_path)
    assert proc.returncode == 1
    assert f"{gen}:3: JSON nested deeper than the reader allows" in proc.stderr
    assert f"{mc}:2: JSON nested deeper than the reader allows" in proc.stderr
    assert rescored(results)["rescore"]["counts"]["t_mc"]["scored"] == {"none": 3}


def test_damage_confined_to_doc_is_skipped_by_the_fast_path_and_strict_alike(layout, tmp_path, run_cli):
    results = layout.make_run(tmp_path / "run", "m1")
    gen = edit_line(results, "t_gen", 3, '"doc": {"id": 2}', '"doc": {"id": 2,,}')
    outs = {}
    for mode in ("fast", "strict"):
        proc = rescore_cli(
            run_cli, tmp_path / "run", "--out", str(tmp_path / mode), *(["--strict"] if mode == "strict" else [])
        )
        assert proc.returncode == 1 and f"{gen}:3: malformed JSON" in proc.stderr
        (path,) = (tmp_path / mode).rglob("*.rescored.json")
        outs[mode] = json.loads(path.read_text())
    assert outs["fast"]["results"] == outs["strict"]["results"]
    assert outs["fast"]["rescore"]["counts"] == outs["strict"]["rescore"]["counts"]
    assert outs["fast"]["rescore"]["counts"]["t_gen"]["scored"] == {"parsed": 5, "raw": 6}


def test_the_summary_counts_skipped_lines_per_file(layout, tmp_path, run_cli):
    results = layout.make_run(tmp_path, "m1")
    gen = edit_line(results, "t_gen", 2, '"doc_id": 1,', '"doc_id": 1,,')
    edit_line(results, "t_gen", 9, '"filter": "raw"', '"filter": 7')
    mc = edit_samples(results, "t_mc", lambda lines: set_choice(lines, 2, 0, "inf"))
    proc = rescore_cli(run_cli, tmp_path)
    assert proc.returncode == 1
    assert re.search(rf"\s2 skipped in {re.escape(str(gen))}\n", proc.stderr)
    assert re.search(rf"\s1 skipped in {re.escape(str(mc))}\n", proc.stderr)
    assert f"{gen}:9: filter must be a string, got 7" in proc.stderr
    assert "3 skipped in total; exit status 1" in proc.stderr
    block = rescored(results)["rescore"]
    assert block["skipped"] == 3 and block["skipped_by_file"] == {gen.name: 2, mc.name: 1}
    assert [(p["line"], Path(p["file"]).name) for p in block["problems"]] == [
        (2, gen.name),
        (9, gen.name),
        (3, mc.name),
    ]


def _drop_write_permission() -> list[str]:
    """A command prefix under which a folder without write permission cannot be written (root bypasses it)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: cannot make a folder read-only for the command")
    return [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def test_an_unwritable_out_is_a_one_line_error(layout, tmp_path, run_cli):
    layout.make_run(tmp_path / "run", "m1")
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cases = [
        (_drop_write_permission(), read_only, "Permission denied"),
        ([], a_file, "exists and is not a folder"),
        ([], a_file / "sub", "Not a directory"),
    ]
    try:
        for prefix, out, reason in cases:
            proc = subprocess.run(
                [*prefix, str(BIN), "rescore", str(tmp_path / "run"), "--out", str(out)], capture_output=True, text=True
            )
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr.count("\n") == 1 and reason in proc.stderr and "Traceback" not in proc.stderr, (
                proc.stderr
            )
            assert (
                proc.stderr.startswith("lm-eval-mirage rescore: error: cannot write") or "not a folder" in proc.stderr
            )
        assert list(read_only.iterdir()) == []
    finally:
        read_only.chmod(0o755)


def _big_run(layout, root: Path, n: int) -> Path:
    """A run whose generation samples file has ``n`` lines of about 1 KB (written directly, harness layout)."""
    results = layout.make_run(root, "m1")
    path = samples_file(results, "t_gen")
    template = json.loads(path.read_text().splitlines()[0])
    template["doc"] = {"id": 0, "text": "lorem ipsum " * 80}
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            template["doc_id"] = i
            fh.write(json.dumps(template, ensure_ascii=False) + "\n")
    return results


def _temporaries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob(".*") if p.name.endswith(".tmp"))


def _start_and_kill(results: Path, out: Path, sig: int) -> tuple[subprocess.Popen, list[Path]]:
    # The command gets SIGINT's default disposition, as from a terminal, whatever this test run inherited
    # (a background job's SIGINT is ignored, and a process keeps an inherited ignore).
    proc = subprocess.Popen(
        [str(BIN), "rescore", str(results.parent), "--write-samples", "--out", str(out), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        temps = [p for p in _temporaries(out) if "samples_t_gen" in p.name] if out.exists() else []
        if temps and temps[0].stat().st_size > 1 << 20:  # mid-way through writing the per-sample file
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed: make the samples file larger"
    temps = _temporaries(out)
    proc.send_signal(sig)
    proc.wait(timeout=60)
    return proc, temps


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_terminated_write_samples_run_removes_its_temporary_file(layout, tmp_path, sig):
    results = _big_run(layout, tmp_path / "run", 60_000)
    before = sorted(p.name for p in results.parent.iterdir())
    proc, temps = _start_and_kill(results, tmp_path / "out", sig)
    assert temps and f"-{proc.pid}-" in temps[0].name
    err = proc.stderr.read()
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {signal.Signals(sig).name}" in err and "Traceback" not in err
    assert _temporaries(tmp_path / "out") == [] and not list((tmp_path / "out").rglob("*.rescored.json*"))
    assert sorted(p.name for p in results.parent.iterdir()) == before


def test_a_temporary_file_left_by_sigkill_is_removed_by_the_next_run(layout, tmp_path, run_cli):
    results = _big_run(layout, tmp_path / "run", 60_000)
    proc, _ = _start_and_kill(results, tmp_path / "out", signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    (left,) = _temporaries(tmp_path / "out")
    assert f"-{proc.pid}-" in left.name and left.stat().st_size > 1 << 20
    edit_samples(results, "t_gen", lambda lines: lines.__delitem__(slice(12, None)))  # a quick second run
    again = rescore_cli(run_cli, results.parent, "--write-samples", "--out", str(tmp_path / "out"))
    assert again.returncode == 0, again.stderr
    assert (
        f"note: removed {left}, a temporary file of a killed rescore (its process {proc.pid} is gone)" in again.stdout
    )
    assert _temporaries(tmp_path / "out") == []
    assert len(list((tmp_path / "out").rglob("samples_t_gen_*.rescored.jsonl"))) == 1


def test_only_stale_temporaries_of_rescore_are_removed(tmp_path):
    host = re.sub(r"[^A-Za-z0-9.]", "_", os.uname().nodename)[:64]
    live = tmp_path / f".samples_t_2026.rescored.jsonl.rescore-{host}-{os.getppid()}-abc.tmp"  # a live process
    other_host = tmp_path / ".samples_t_2026.rescored.jsonl.rescore-elsewhere-1-abc.tmp"
    legacy = tmp_path / ".samples_t_2026.rescored.jsonl.k3j_x9q2.tmp"  # before host/pid names
    unrelated = tmp_path / ".results_x.json.tmp"
    for p in (live, other_host, legacy, unrelated):
        p.write_text("x")
    assert remove_stale_temporaries(tmp_path) == []  # all fresh: kept
    notes = remove_stale_temporaries(tmp_path, now=time.time() + STALE_AFTER_S + 60)
    assert sorted(p.name for p in tmp_path.iterdir()) == [unrelated.name]
    assert len(notes) == 3 and all("not written for" in n for n in notes)


def test_a_lone_surrogate_in_a_doc_is_written_escaped_with_write_samples(layout, tmp_path, run_cli):
    results = layout.make_run(tmp_path, "m1")
    edit_line(results, "t_gen", 4, '"doc": {"id": 3}', '"doc": {"id": 3, "s": "\\ud800"}')  # valid JSON, not UTF-8
    proc = rescore_cli(run_cli, tmp_path, "--write-samples")
    assert proc.returncode == 0, proc.stderr
    (out,) = results.parent.glob("samples_t_gen_*.rescored.jsonl")
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 12 and lines[3]["doc"]["s"] == "\ud800" and "token_edit_distance" in lines[3]


def test_a_lone_surrogate_in_the_results_file_is_kept_escaped(layout, tmp_path, run_cli):
    results = layout.make_run(tmp_path, "m1")
    results.write_text(results.read_text().replace('"metadata": {', '"metadata": {"note": "\\ud800", ', 1))
    proc = rescore_cli(run_cli, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert rescored(results)["configs"]["t_gen"]["metadata"]["note"] == "\ud800"
