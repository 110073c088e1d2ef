"""Every place the plugin relies on a PRIVATE harness internal, with the source it was written against.

Where the harness has no public route (a per-token hook in a model backend, a bookkeeping shortcut, a copy
of its task indexing), the plugin's code depends on the exact source of a harness function. Each such
function is listed in :data:`RECORDED` with the SHA-256 of its source in the tested harness release.
``tests/test_harness_private.py`` fails loudly when the installed harness's source differs; at run time
:func:`check` warns once and the caller takes its documented fallback (stock scoring, no shortcut), so an
untested harness never gives silently different numbers.

The source is read from the module's file (``ast``), never imported, so a function of an optional
backend (vLLM) is checked without installing it.

Example:
    >>> source_hash("lm_eval_mirage.harness_private:source_hash") is not None
    True
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import logging
from importlib.metadata import PackageNotFoundError, version

__all__ = ["RECORDED", "TESTED_HARNESS_VERSIONS", "check", "harness_version", "matches", "source_hash"]

logger = logging.getLogger(__name__)

#: lm-eval releases the plugin is tested with (the README says the same).
TESTED_HARNESS_VERSIONS = ("0.4.13",)

#: "module:Qualified.name" -> SHA-256 of its source in lm-eval 0.4.13, and what depends on it.
RECORDED: dict[str, tuple[str, str]] = {
    "lm_eval.models.huggingface:HFLM._loglikelihood_tokens": (
        "c2705df864327ddabb0c151941fa8860c11f0b20b742d861798f71125c2ece38",
        "models/hf_mirage.py copies it with the answer step changed (fallback: stock hf scoring, no per-token values)",
    ),
    "lm_eval.models.vllm_causallms:VLLM._parse_logprobs": (
        "c828df3018e653448136696683602071add696b508493cf27d886c025ad88c92",
        "models/vllm_mirage.py replaces it (fallback: stock vllm scoring, no per-token values)",
    ),
    "lm_eval.utils:apply_template": (
        "a41dc9fd1746609f079eb81d065af46e8381f1db6e342f2437340e197ae2317b",
        "demo/harness.py faster_harness caches its compiled templates (fallback: no shortcut, slower demo)",
    ),
    "lm_eval.loggers.utils:add_env_info": (
        "0da32ec0c075a2201142c5e47ed9cf8ac080011e8f97863e0b62dfb49585403f",
        "demo/harness.py faster_harness runs it once per process (fallback: no shortcut, slower demo)",
    ),
    "lm_eval.tasks._index:TaskIndex.process_cfg": (
        "ec019dc0c1cb246ce0ddb7d5a005115331d57af5bc664ee75a49017baedc4a66",
        "sweep/plan.py indexes task YAMLs itself, as the harness does (guarded by a test only)",
    ),
    "lm_eval.tasks._index:TaskIndex._kind_of": (
        "ea57b7999bf4b43e9be7287c110da53c3f0e1c8d5b1b256d4023901a51f70002",
        "sweep/plan.py tells tasks, groups and tags apart as the harness does (guarded by a test only)",
    ),
    "lm_eval.tasks._yaml_loader:load_yaml": (
        "f6c1f16a233a4449c41be9e632ae092970cb41b63cccd72721a6d64f501e8c31",
        "sweep/plan.py follows include: as the harness does; tasks/recipes.with_metrics loads configs with it",
    ),
    "lm_eval.tasks._index:TaskIndex.build": (
        "ed7beaf47763e1637b0971e4d2bcd06133dd8d11b0cc485a1d7aa51816cea43b",
        "cli/harness.py relies on the first file of a task name winning within one include path (also tested)",
    ),
}


def harness_version() -> str | None:
    """The installed lm-eval version, ``None`` if it is not installed."""
    try:
        return version("lm_eval")
    except PackageNotFoundError:
        return None


@functools.cache
def source_hash(target: str) -> str | None:
    """SHA-256 of the source of ``"module:Qualified.name"`` as written in the module's file; ``None`` when
    the module or the name is not found."""
    module, _, qualname = target.partition(":")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    with open(spec.origin, encoding="utf-8") as fh:
        text = fh.read()
    nodes: list[ast.AST] = [ast.parse(text)]
    for part in qualname.split("."):
        found = [
            n
            for parent in nodes
            for n in getattr(parent, "body", [])
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == part
        ]
        if not found:
            return None
        nodes = found[:1]
    segment = ast.get_source_segment(text, nodes[0], padded=True)
    return hashlib.sha256(segment.encode("utf-8")).hexdigest() if segment is not None else None


def matches(target: str) -> bool:
    """True when the installed harness's source of ``target`` is the recorded one."""
    return source_hash(target) == RECORDED[target][0]


_warned: set[str] = set()


def check(target: str) -> bool:
    """:func:`matches`, warning once per target when it does not (naming the version and the fallback)."""
    ok = matches(target)
    if not ok and target not in _warned:
        _warned.add(target)
        logger.warning(
            "lm-eval %s is not a tested harness version (tested: %s): the source of %s differs from the one "
            "the plugin was written against; %s",
            harness_version(),
            ", ".join(TESTED_HARNESS_VERSIONS),
            target,
            RECORDED[target][1],
        )
    return ok
