"""Where the demo keeps what it can reuse: trained checkpoints and harness results.

``$LM_EVAL_MIRAGE_CACHE`` if set, else ``$XDG_CACHE_HOME/lm-eval-mirage``, else ``~/.cache/lm-eval-mirage``
(on Windows ``%LOCALAPPDATA%\\lm-eval-mirage``). Deleting the folder is always safe: the demo rebuilds it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["CACHE_ENV_VAR", "cache_dir"]

CACHE_ENV_VAR = "LM_EVAL_MIRAGE_CACHE"


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The demo's cache folder (not created here).

    Example:
        >>> str(cache_dir("/tmp/somewhere"))
        '/tmp/somewhere'
    """
    if override:
        return Path(override).expanduser()
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "lm-eval-mirage"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "lm-eval-mirage"
