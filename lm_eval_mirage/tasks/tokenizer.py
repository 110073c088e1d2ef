"""The model's tokenizer as the tasks see it: named by the ``--model_args`` the harness passes them.

Used to count ``L`` (the scored continuation's tokens) when the backend reports no per-token values
(stock ``hf``). ``trust_remote_code`` is the run's own model argument (off unless the user turned it on for
the model); a name that cannot be loaded (an API model, no hub) falls back to characters, with a warning.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["encoder_from_model_args", "load_tokenizer"]

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes"}


@functools.lru_cache(maxsize=8)
def load_tokenizer(name: str, revision: str | None = None, trust_remote_code: bool = False) -> Any:
    """``AutoTokenizer.from_pretrained(name)``, once per process; ``trust_remote_code`` passed explicitly."""
    from transformers import AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": bool(trust_remote_code)}
    if revision:
        kwargs["revision"] = revision
    return AutoTokenizer.from_pretrained(name, **kwargs)


def encoder_from_model_args(args: Mapping[str, Any] | None, where: str) -> Callable[[str], list[int]] | None:
    """``text -> token ids`` (no special tokens) of the tokenizer the model arguments name (``tokenizer``,
    else ``pretrained``); ``None`` when none is named or it cannot be loaded (warned once, naming ``where``)."""
    args = args or {}
    name = args.get("tokenizer") or args.get("pretrained")
    if not isinstance(name, str) or not name:
        return None
    trust = str(args.get("trust_remote_code", False)).lower() in _TRUE
    revision = args.get("revision")
    try:
        tok = load_tokenizer(name, str(revision) if revision else None, trust)
    except Exception as exc:  # an API backend's model name, an unreachable hub: fall back, loudly
        if name not in _warned:
            _warned.add(name)
            logger.warning(
                "%s: cannot load tokenizer %r (%s); per-token metrics fall back to characters", where, name, exc
            )
        return None
    return lambda text: tok.encode(text, add_special_tokens=False)


_warned: set[str] = set()
