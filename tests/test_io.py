"""The atomic writers of lm_eval_mirage._io: a reader sees the old or the new version, never a gap or a torn one."""

from __future__ import annotations

import threading

import pytest

from lm_eval_mirage import _io
from lm_eval_mirage._io import atomic_dir


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
