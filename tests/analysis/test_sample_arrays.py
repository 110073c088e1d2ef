"""Samples as compact arrays (issue 16): the fast reader agrees with json.loads, the cache is safe, --jobs does
not change anything, and analyze writes what it wrote before, value for value."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lm_eval_mirage.analysis import sample_cache
from lm_eval_mirage.analysis.collect import load
from lm_eval_mirage.analysis.sample_arrays import read_samples
from lm_eval_mirage.analysis.sample_cache import SampleCache, read_files
from lm_eval_mirage.analysis.sample_store import SampleStore, sample_index
from lm_eval_mirage.analysis.simulated_results import simulate_results

from .conftest import DATA, REAL_GEN

ROOT = Path(__file__).resolve().parents[2]
RECORDED = DATA / "recorded_analyze"
#: fixture -> the paths analyzed (the simulated family is written at test time)
CASES = {
    "harness": [DATA / "harness_0.4.13", DATA / "harness_0.4.13_ll"],
    "pythia_2023": [DATA / "pythia_2023" / "pythia-160m" / "zero-shot"],
    "simulated": ["SIM"],
}
METRICS = ("exact_match", "token_edit_distance")

TRICKY = [
    '{"doc_id": 0, "doc": {"answer_digits": 2}, "target": "12", "filter": "parsed", "exact_match": 1.0, "token_edit_distance": 0}',
    '{"doc_id": 1, "doc": {"answer_digits": 3}, "filter": "parsed", "exact_match": NaN, "token_edit_distance": Infinity}',
    '{"doc_id": 2, "target": "-042", "exact_match": 1e400, "token_edit_distance": -1e400}',
    '{"doc_id": 3, "exact_match": 100000000000000000000000000000, "token_edit_distance": 123456789012345678901}',
    '{"doc_id": 4, "exact_match": true, "token_edit_distance": false}',
    '{"doc_id": 5, "exact_match": "1", "token_edit_distance": null}',
    '{"doc_id": 6, "exact_match": 0.5}',
    '{"doc_id": 7, "doc": [1, 2], "target": 77, "exact_match": 0.0, "token_edit_distance": 2}',
    '{"doc_id": 8, "doc": {"answer_digits": "3"}, "exact_match": 0.0}',
    '{"doc_id": 9, "doc": {"answer_digits": 2.5}, "exact_match": 0.0}',
    '{"doc_id": 10, "doc": {"answer_digits": -1}, "exact_match": 0.0}',
    '{"doc_id": 11, "doc": {"answer_digits": true}, "exact_match": 0.0}',
    '{"doc_id": 12, "doc": {"answer_digits": 1e400}, "exact_match": 0.0}',
    '{"doc": {"answer_digits": 4}, "exact_match": 1.0, "filter": 5}',
    '{"doc_id": 14, "doc_id": 15, "exact_match": 0.0, "exact_match": 1.0, "filter": "raw"}',
    '{"doc_id": 16, "target": "\\ud800", "exact_match": 1.0}',
    '{"doc_id": 17, "deep": ' + "[" * 5000 + "]" * 5000 + ', "exact_match": 1.0}',
    '{"doc_id": 18, "exact_match": 1.0',
    "[1, 2, 3]",
    "",
    "   ",
    '{"doc_id": 19, "doc": {"answer_digits": 1}, "target": "x\\u00e9", "exact_match": 9007199254740993, "token_edit_distance": -0}',
    '{"doc_id": 20, "exact_match": 1.0, "skipped": {"a": [1, {"b": "\\u00e9\\n"}]}}',
    '{"doc_id": 21, "doc": {"answer_digits": 12345678901234567890123}, "exact_match": 0.0}',
]


def _write(path: Path, lines: list[str], tail: bytes = b"") -> Path:
    path.write_bytes("\n".join(lines).encode("utf-8") + b"\n" + tail)
    return path


def _reference(path: Path, metrics) -> list[tuple]:
    """(doc_id, digits, metric, filter, value) rows read with json.loads only, by the pre-issue-16 rules."""
    import re

    rows = []
    for lineno, raw in enumerate(path.read_bytes().splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            continue
        if not isinstance(line, dict):
            continue
        doc = line.get("doc") if isinstance(line.get("doc"), dict) else {}
        if "answer_digits" in doc:
            v = doc["answer_digits"]
            try:
                d = float(v)
            except (TypeError, ValueError, OverflowError):
                d = math.nan
            if isinstance(v, bool) or not math.isfinite(d) or d < 0 or d != int(d):
                d = math.nan
        else:
            m = re.fullmatch(r"\s*-?(\d+)\s*", str(line.get("target", ""))[:1000])
            d = float(len(m.group(1))) if m else math.nan
        for metric in sorted(set(metrics) & line.keys()):
            v = line[metric]
            if isinstance(v, (bool, int, float)) or v is None:
                try:
                    value = math.nan if v is None else float(v)
                except OverflowError:
                    value = math.inf if v > 0 else -math.inf
                rows.append((line.get("doc_id", lineno - 1), d, metric, str(line.get("filter", "none")), value))
    return rows


def _rows(found) -> list[tuple]:
    out = []
    for metric, filt, idx in found.groups():
        m = found.metrics.index(metric)
        for i in idx:
            doc = found.doc_id[i]
            doc = int(doc) if found.doc_id.dtype.kind == "i" else json.loads(str(doc))
            out.append((doc, float(found.target_digits[i]), metric, filt, float(found.values[m, i])))
    return out


def _same(a, b) -> bool:
    return (
        len(a) == len(b)
        and all(
            x[:4] == y[:4] or (x[:1] == y[:1] and x[2:4] == y[2:4] and math.isnan(x[1]) and math.isnan(y[1]))
            for x, y in zip(a, b)
        )
        and all((x[4] == y[4]) or (math.isnan(x[4]) and math.isnan(y[4])) for x, y in zip(a, b))
    )


def test_fast_reader_agrees_with_json_loads_on_tricky_lines(tmp_path):
    path = _write(
        tmp_path / "samples_t_x.jsonl", TRICKY, tail=b'{"doc_id": 99, "target": "\xff", "exact_match": 1.0}\n'
    )
    fast, strict = read_samples(path, METRICS), read_samples(path, METRICS, strict=True)
    for field in ("doc_id", "target_digits", "filter_code", "values", "present"):
        a, b = getattr(fast, field), getattr(strict, field)
        assert (a is None and b is None) or np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), field
    assert fast.notes == strict.notes and fast.skipped == strict.skipped == 4 and fast.lines == len(TRICKY) - 2 + 1
    assert fast.filters == strict.filters == ("parsed", "none", "5", "raw")
    key = sorted(_rows(fast), key=lambda r: (r[2], r[3], str(r[0])))
    ref = sorted(_reference(path, METRICS), key=lambda r: (r[2], r[3], str(r[0])))
    assert _same(key, ref)
    reasons = [text for _, text in fast.notes]
    assert any("not UTF-8" in r for r in reasons) and any("nested too deeply" in r for r in reasons)
    assert any("not a JSON object (a list)" in r for r in reasons) and any("answer_digits 2.5" in r for r in reasons)
    at = {int(d): i for i, d in enumerate(fast.doc_id)}
    assert int(fast.values[fast.metrics.index("exact_match"), at[19]]) == 9007199254740992  # float(int), as json
    assert fast.doc_id.dtype == np.int64 and 13 in at  # no doc_id: the line's index
    assert fast.present is not None and not fast.present[fast.metrics.index("token_edit_distance"), at[6]]


def test_doc_ids_that_are_not_integers_are_kept_as_text(tmp_path):
    path = _write(tmp_path / "s.jsonl", ['{"doc_id": "a", "exact_match": 1}', '{"doc_id": 2.0, "exact_match": 0}'])
    found = read_samples(path, METRICS)
    assert found.doc_id.tolist() == ['"a"', "2.0"] and found.values[0].tolist() == [1.0, 0.0]


def _sim(folder: Path, **kw) -> Path:
    simulate_results(folder, n_problems=kw.pop("n_problems", 40), seed=kw.pop("seed", 3), logprob_noise=0.05, **kw)
    return folder


def record(dest: Path, env: dict | None = None) -> None:
    """Write ``<case>_emergence.csv`` and ``<case>_table.csv`` of the importable code into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sim = _sim(Path(tmp) / "sim")
        for name, paths in CASES.items():
            out = Path(tmp) / name
            args = [str(sim) if p == "SIM" else str(p) for p in paths]
            cmd = [
                sys.executable,
                "-c",
                "import sys; from lm_eval_mirage.cli.main import main; sys.exit(main())",
                "analyze",
                *args,
                "--out",
                str(out),
                "--no-plots",
                "--quiet",
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env or os.environ.copy(), check=False)
            assert proc.returncode == 0, proc.stderr[-3000:]
            for f in ("emergence.csv", "table.csv"):
                text = (out / f).read_text(encoding="utf-8").replace(str(sim), "SIM").replace(str(ROOT), "ROOT")
                (dest / f"{name}_{f}").write_text(text, encoding="utf-8")


def test_analyze_writes_the_recorded_tables_value_for_value(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"))
    record(tmp_path / "now", env)
    for name in CASES:
        for f in ("emergence.csv", "table.csv"):
            now = pd.read_csv(tmp_path / "now" / f"{name}_{f}", keep_default_na=False)
            before = pd.read_csv(RECORDED / f"{name}_{f}", keep_default_na=False)
            # Equal to 12 significant digits: the last bit of a float sum depends on the CPU's vector kernels
            # (seen: 0.5066658567003933 here, ...34 where recorded); any real change is far larger.
            pd.testing.assert_frame_equal(now, before, check_exact=False, rtol=1e-12, atol=1e-12, obj=f"{name}_{f}")
    assert any((tmp_path / "cache" / "lm-eval-mirage" / "analyze").glob("*.npz"))  # the CLI's default cache


def _store_arrays(store: SampleStore) -> dict:
    return {k: (f.doc_id.tolist(), f.target_digits.tolist(), f.values.tolist(), f.filters) for k, f in store.items()}


def test_jobs_do_not_change_the_result(tmp_path):
    sim = _sim(tmp_path / "sim", n_problems=30)
    one, three = load([sim], jobs=1, progress=False), load([sim], jobs=3, progress=False)
    pd.testing.assert_frame_equal(one.table, three.table, check_exact=True)
    assert one.messages == three.messages and one.skipped == three.skipped
    assert _store_arrays(one.store) == _store_arrays(three.store)
    pd.testing.assert_frame_equal(one.samples, three.samples)
    with pytest.raises(ValueError, match="jobs=0"):
        read_files([], jobs=0)


def test_collection_samples_is_the_long_table_and_round_trips(tmp_path):
    found = load([REAL_GEN], progress=False)
    df = found.samples
    assert list(df.columns) == ["model", "task", "metric", "filter", "doc_id", "target_digits", "value"]
    assert len(df) == len(found.store) == 2 * 6 * 2 * 4
    a, b = sample_index(found.store), sample_index(df)
    assert set(a) == set(b)
    for key in a:
        for model in a[key]:
            for x, y in zip(a[key][model], b[key][model]):
                assert np.array_equal(x, y, equal_nan=True)


def test_cache_is_used_then_refused_when_the_file_changes_or_the_entry_is_damaged(tmp_path, monkeypatch):
    sim = _sim(tmp_path / "sim", n_problems=20)
    cache = tmp_path / "cache"
    first = load([sim], cache=cache, jobs=1, progress=False)
    entries = sorted(cache.glob("*.npz"))
    assert len(entries) == len(list(sim.rglob("samples_*.jsonl")))

    def no_parse(*a, **k):
        raise AssertionError("parsed although cached")

    monkeypatch.setattr(sample_cache, "read_samples", no_parse)
    again = load([sim], cache=cache, jobs=1, progress=False)
    pd.testing.assert_frame_equal(first.table, again.table, check_exact=True)
    monkeypatch.undo()

    # same size and modification time, other content: the content hash sees it
    victim = sorted(sim.rglob("samples_mirage_arith_add_2d_2*.jsonl"))[0]
    st = victim.stat()
    text = victim.read_text(encoding="utf-8")
    flipped = text.replace('"exact_match": 0.0', '"exact_match": 1.0', 1)
    assert flipped != text and len(flipped) == len(text)
    victim.write_text(flipped, encoding="utf-8")
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert (
        SampleCache(cache).get(
            victim, ("digit_accuracy", "exact_match", "normalized_edit_distance", "token_edit_distance")
        )
        is None
    )
    changed = load([sim], cache=cache, jobs=1, progress=False)
    assert _store_arrays(changed.store) != _store_arrays(first.store)
    assert _store_arrays(changed.store) == _store_arrays(load([sim], jobs=1, progress=False).store)

    # damaged, foreign or hostile entries are misses: the file is read again and the entry rewritten
    for entry in sorted(cache.glob("*.npz"))[:3]:
        entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])
    hostile = sorted(cache.glob("*.npz"))[3]
    np.savez(hostile, header=np.frombuffer(b"{}", dtype=np.uint8), doc_id=np.array([object()], dtype=object))
    fresh = load([sim], cache=cache, jobs=1, progress=False)
    assert _store_arrays(fresh.store) == _store_arrays(changed.store)
    for entry in sorted(cache.glob("*.npz")):
        with np.load(entry, allow_pickle=False) as npz:
            assert json.loads(bytes(npz["header"]))["format"].startswith("lm-eval-mirage")


def test_a_cache_that_cannot_be_written_costs_only_speed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    found = load([REAL_GEN], cache=blocker / "cache", progress=False)
    assert len(found.store) == 2 * 6 * 2 * 4


def test_cli_refuses_bad_jobs_and_cache_options(run_cli, tmp_path):
    proc = run_cli(
        ["lm-eval-mirage", "analyze", str(REAL_GEN), "--jobs", "0", "--out", str(tmp_path / "r")], check=False
    )
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "lm-eval-mirage analyze: error: --jobs 0: must be at least 1"
    ]
    proc = run_cli(["lm-eval-mirage", "analyze", str(REAL_GEN), "--cache", str(tmp_path), "--no-cache"], check=False)
    assert proc.returncode == 2 and "not both" in proc.stderr


def test_progress_bar_when_asked_only(tmp_path, capsys):
    load([REAL_GEN], progress=True)
    assert "reading samples" in capsys.readouterr().err
    load([REAL_GEN], progress=False)
    load([REAL_GEN], progress=None)  # on a terminal only: pytest's stderr is not one
    assert "reading samples" not in capsys.readouterr().err
