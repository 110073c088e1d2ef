"""lm_eval_mirage._io: atomic writers (a reader sees the old or the new version, never a gap or a torn one),
the signal helpers around writes, and the readers of files that may be hostile."""

from __future__ import annotations

import json
import os
import signal
import threading

import pytest
import yaml

from lm_eval_mirage import _io
from lm_eval_mirage._io import (
    InputFileError,
    Terminated,
    atomic_dir,
    defer_signals,
    raise_on_signals,
    read_json_file,
    read_regular_file,
    read_yaml_file,
)


def _publish(target, text: str) -> None:
    with atomic_dir(target) as tmp:
        (tmp / "marker").write_text(text)
        (tmp / f"only-{text}").write_text(text)


def test_atomic_dir_publishes_and_replaces_whole(tmp_path):
    target = tmp_path / "out"
    _publish(target, "old")
    _publish(target, "new")
    assert sorted(p.name for p in target.iterdir()) == ["marker", "only-new"]  # nothing of the old run is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary or aside folder left
    assert oct(target.stat().st_mode & 0o777) == "0o755"


def test_a_concurrent_reader_never_sees_a_missing_or_empty_folder(tmp_path):
    target = tmp_path / "out"
    _publish(target, "v0")
    stop, misses, reads = threading.Event(), [], []

    def reader() -> None:
        while not stop.is_set():
            try:
                reads.append((target / "marker").read_text())
            except OSError as exc:
                misses.append(repr(exc))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(1, 300):
            _publish(target, f"v{i}")
    finally:
        stop.set()
        thread.join()
    assert len(reads) > 100 and misses == []
    assert (target / "marker").read_text() == "v299"


def test_every_step_of_the_swap_keeps_the_target(tmp_path, monkeypatch):
    """A hook on each file-system step of the swap checks that the target is there before and after."""
    target = tmp_path / "out"
    _publish(target, "old")
    seen = []
    real_exchange, real_rmtree = _io._exchange, _io.shutil.rmtree

    def exchange(a, b):
        seen.append(("before exchange", target.is_dir()))
        done = real_exchange(a, b)
        seen.append(("after exchange", target.is_dir()))
        return done

    def rmtree(path, *args, **kwargs):
        seen.append((f"before rmtree {path.name}", (target / "marker").is_file()))
        real_rmtree(path, *args, **kwargs)

    monkeypatch.setattr(_io, "_exchange", exchange)
    monkeypatch.setattr(_io.shutil, "rmtree", rmtree)
    _publish(target, "new")
    assert seen and all(ok for _, ok in seen), seen
    assert (target / "marker").read_text() == "new"


def test_without_an_exchange_the_old_folder_is_moved_aside_then_deleted(tmp_path, monkeypatch):
    target = tmp_path / "out"
    _publish(target, "old")
    monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    _publish(target, "new")
    assert sorted(p.name for p in target.iterdir()) == ["marker", "only-new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path, monkeypatch):
    target = tmp_path / "out"
    _publish(target, "old")
    monkeypatch.setattr(_io, "_exchange", lambda a, b: False)
    real_replace, calls = _io.os.replace, []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # the old folder is aside; the new one fails to move in
            raise OSError("simulated failure")
        real_replace(src, dst)

    monkeypatch.setattr(_io.os, "replace", replace)
    with pytest.raises(OSError, match="simulated failure"):
        _publish(target, "new")
    assert sorted(p.name for p in target.iterdir()) == ["marker", "only-old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_failure_inside_leaves_the_old_folder_untouched(tmp_path):
    target = tmp_path / "out"
    _publish(target, "old")
    with pytest.raises(RuntimeError):
        with atomic_dir(target) as tmp:
            (tmp / "marker").write_text("half")
            raise RuntimeError("killed")
    assert (target / "marker").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "out").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        with atomic_dir(tmp_path / "out"):
            pass
    assert (tmp_path / "out").read_text() == "not a folder"


# --- signals ------------------------------------------------------------------------------------------------------


def test_sigterm_waits_until_the_deferred_block_is_over():
    seen: list[str] = []
    old = signal.signal(signal.SIGTERM, lambda *_: seen.append("term"))
    try:
        with defer_signals():
            os.kill(os.getpid(), signal.SIGTERM)
            seen.append("inside, after kill")
        seen.append("after")
    finally:
        signal.signal(signal.SIGTERM, old)
    assert seen == ["inside, after kill", "term", "after"]


def test_raise_on_signals_raises_terminated_and_restores_the_handlers():
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    with pytest.raises(Terminated) as caught:
        with raise_on_signals():
            os.kill(os.getpid(), signal.SIGHUP)
            signal.sigtimedwait([], 0) if hasattr(signal, "sigtimedwait") else None  # let the handler run
    assert caught.value.signum == signal.SIGHUP and not isinstance(
        caught.value, Exception
    )  # not caught by `except Exception`
    assert {sig: signal.getsignal(sig) for sig in before} == before


def test_signal_helpers_outside_the_main_thread_run_the_block_unprotected():
    ran: list[str] = []

    def body() -> None:
        with defer_signals():
            ran.append("deferred")
        with raise_on_signals():
            ran.append("raising")

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert ran == ["deferred", "raising"]


# --- reading hostile files ----------------------------------------------------------------------------------------


def test_only_regular_files_are_read(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # open() would wait for a writer forever
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_bytes(b"abc")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    for path, words in ((fifo, "is a FIFO"), (tmp_path / "dir", "is a folder")):
        with pytest.raises(InputFileError, match=f"^{path}: {words}; expected a regular file$"):
            read_regular_file(path)
    assert read_regular_file(tmp_path / "link") == b"abc"
    with pytest.raises(InputFileError, match="is a symbolic link"):
        read_regular_file(tmp_path / "link", follow_symlinks=False)
    with pytest.raises(InputFileError, match="larger than 2 bytes"):
        read_regular_file(tmp_path / "file", max_bytes=2)
    with pytest.raises(FileNotFoundError):
        read_regular_file(tmp_path / "missing")


@pytest.mark.parametrize(
    "content, words",
    [
        (b'{"jobs": {"a": ', "not valid JSON: Expecting value"),
        (b"\x00\xff\xfe\x80garbage", "not UTF-8 text (byte 1"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON: nested too deeply"),
        (b"1" * 5000, "not valid JSON: Exceeds the limit"),
    ],
)
def test_bad_json_is_one_line_naming_the_file(tmp_path, content, words):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        read_json_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {words}") and "\n" not in message and len(message) < 300


def test_json_values_come_back_as_written(tmp_path):
    (tmp_path / "f.json").write_text(json.dumps({"a": [1, 2.5, None, "x"]}))
    assert read_json_file(tmp_path / "f.json") == {"a": [1, 2.5, None, "x"]}


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "output: a\ntasks: [t]\noutput: b\n",
            "line 3: key 'output' given twice (first at line 1); give each key once",
        ),
        ("models:\n  - name: m\n    path: p\n    name: n\n", "line 4: key 'name' given twice (first at line 2)"),
        ("base: &base {gpus: 1}\nresources: *base\n", "line 1: YAML anchors and aliases ('&base') are not accepted"),
        (BOMB, "line 1: YAML anchors and aliases ('&a') are not accepted"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "not valid YAML: nested too deeply"),
        ("a: b: c\n", "not valid YAML: mapping values are not allowed here"),
        ("params: " + "1" * 5000 + "\n", "not valid YAML: Exceeds the limit"),
    ],
)
def test_strict_yaml_refuses_duplicates_aliases_and_depth_in_one_line(tmp_path, text, words):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(InputFileError) as caught:
        read_yaml_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {words}"), message
    assert "\n" not in message and len(message) < 400


def test_strict_yaml_reads_ordinary_files_and_bounds_their_size(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("output: out\ntasks: [a, b]\nmodels: [{name: m, params: 1.2e+9}]\n'1': one\n1: int one\n")
    assert read_yaml_file(path) == {
        "output": "out",
        "tasks": ["a", "b"],
        "models": [{"name": "m", "params": 1.2e9}],
        "1": "one",
        1: "int one",
    }
    with pytest.raises(InputFileError, match="larger than 10 bytes"):
        read_yaml_file(path, max_bytes=10)
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(InputFileError, match="not UTF-8 text"):
        read_yaml_file(path)


def test_lenient_yaml_reads_what_the_harness_reads(tmp_path):
    """strict=False is yaml.safe_load (the harness's reader of --config files): aliases and a repeated key
    (last wins) are taken as the harness takes them, so our reading agrees with the harness's."""
    path = tmp_path / "config.yaml"
    path.write_text("base: &base [x]\ntasks: *base\ntasks: [y]\n" + BOMB)
    assert read_yaml_file(path, strict=False) == yaml.safe_load(path.read_text())
    with pytest.raises(ValueError, match="for strict=False only"):
        read_yaml_file(path, loader=yaml.SafeLoader)
