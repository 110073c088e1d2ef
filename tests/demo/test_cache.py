"""Where the demo's cache lives."""

from __future__ import annotations

from pathlib import Path

from lm_eval_mirage.demo.cache import CACHE_ENV_VAR, cache_dir


def test_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv(CACHE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "lm-eval-mirage"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "lm-eval-mirage"
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "env"))
    assert cache_dir() == tmp_path / "env"
    assert cache_dir(tmp_path / "given") == tmp_path / "given"  # an explicit folder wins over everything
    assert not any(Path(tmp_path).iterdir())  # nothing is created by asking
