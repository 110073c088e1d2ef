"""The offline demo: two model families, the real harness, the emergence report (``lm-eval-mirage demo``).

Example (Python)::

    from lm_eval_mirage.demo import run_demo
    result = run_demo("mirage-demo")          # report in mirage-demo/report.html
    for row in result.headline: print(row)

Modules: :mod:`.members` (what runs), :mod:`.harness` (one harness run, cached), :mod:`.run` (orchestration),
:mod:`.cache` (where the cache lives). Importing this package is light; torch and the harness load on use.
"""

from __future__ import annotations

from lm_eval_mirage.demo.cache import CACHE_ENV_VAR, cache_dir

__all__ = ["CACHE_ENV_VAR", "cache_dir", "run_demo", "DemoResult"]


def __getattr__(name: str):
    if name in ("run_demo", "DemoResult"):
        from lm_eval_mirage.demo import run

        return getattr(run, name)
    raise AttributeError(f"module 'lm_eval_mirage.demo' has no attribute {name!r}")
