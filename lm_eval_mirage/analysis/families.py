"""Model sizes of known families, so a folder of results needs no ``--params`` for the usual suspects.

Only sizes that are published are listed. Pythia's counts are exact (total parameters, from the Pythia paper,
quoted in SCIENCE.md); GPT-2's are the exact counts of the released checkpoints (tied embeddings counted
once). For the other families the table holds the NOMINAL size that the model's name announces (OPT-350m has
in fact 331M parameters): good enough to place a model on a log axis, and marked ``exact=False`` so that the
tidy table says where each number came from. Anything else: pass ``--params MODEL=N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["KnownModel", "PYTHIA_TOKENS_PER_STEP", "KNOWN_FAMILIES", "lookup_model", "parse_size"]

#: Pythia: 1024 sequences of 2048 tokens per optimizer step; 143,000 steps (about 300B tokens).
PYTHIA_TOKENS_PER_STEP = 1024 * 2048
PYTHIA_STEPS = 143_000

_PYTHIA = {
    "70m": 70_426_624,
    "160m": 162_322_944,
    "410m": 405_334_016,
    "1b": 1_011_781_632,
    "1.4b": 1_414_647_808,
    "2.8b": 2_775_208_960,
    "6.9b": 6_857_302_016,
    "12b": 11_846_072_320,
}
#: The names Pythia models carry in results files: ``pythia-160m``, ``pythia-v1.1-160m`` (the 2023 evaluation
#: files), ``-deduped``, ``-bf16`` / ``-fp16`` (the same weights in another dtype: same family), and ``-v0`` (the
#: first training run, before the 2023 retraining: its own family).
_PYTHIA_NAME = re.compile(
    r"pythia-(?:v1\.1-)?(?P<size>[\d.]+[mb])(?P<dedup>-deduped)?(?:-(?:bf16|fp16))?(?P<v0>-v0)?(?P<dedup2>-deduped)?"
)
_GPT2 = {"": 124_439_808, "-medium": 354_823_168, "-large": 774_030_080, "-xl": 1_557_611_200}
_OPT = ("125m", "350m", "1.3b", "2.7b", "6.7b", "13b", "30b", "66b", "175b")
_CEREBRAS = ("111m", "256m", "590m", "1.3b", "2.7b", "6.7b", "13b")
_LLAMA2 = ("7b", "13b", "70b")
_QWEN25 = ("0.5b", "1.5b", "3b", "7b", "14b", "32b", "72b")
_OLMO = ("1b", "7b")


@dataclass(frozen=True)
class KnownModel:
    """What the built-in table knows about one model.

    Attributes:
        family: family name used to group models into one scaling curve.
        params: number of parameters.
        exact: ``True`` for the exact count, ``False`` for the nominal size in the name.
        train_tokens: tokens seen by the final model (``None``: not in the table).
        tokens_per_step: tokens per optimizer step, to turn a ``stepN`` checkpoint into tokens (``None``: unknown).
    """

    family: str
    params: float
    exact: bool
    train_tokens: float | None = None
    tokens_per_step: float | None = None


def parse_size(text: str) -> float:
    """Parse a size such as ``160m``, ``1.4B``, ``7b``, ``2e9`` or ``70426624``.

    Example:
        >>> parse_size("1.4b"), parse_size("160M"), parse_size("2e9"), parse_size("1_000")
        (1400000000.0, 160000000.0, 2000000000.0, 1000.0)
    """
    s = str(text).strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
    try:
        if s and s[-1] in scale:
            return float(s[:-1]) * scale[s[-1]]
        return float(s)
    except ValueError:
        raise ValueError(f"size {text!r}: expected a number such as 160m, 1.4b, 7e9 or 70426624") from None


def _basename(model: str) -> str:
    return model.rstrip("/").rsplit("/", 1)[-1].lower()


def lookup_model(model: str) -> KnownModel | None:
    """Find a model of a known family by its hub name or folder name (organisation and case ignored).

    Families: Pythia (``pythia-v1.1-`` names, ``-deduped``, ``-bf16``, ``-v0``; the former names of 2022 such as
    ``pythia-19m`` are not listed: pass ``--params``), GPT-2, OPT, Cerebras-GPT, Llama-2 (``-hf``, ``-chat``), Qwen2.5
    (``-Instruct``), OLMo. Returns ``None`` for anything else (no guessing from a number in the name).

    Example:
        >>> lookup_model("EleutherAI/pythia-160m-deduped")
        KnownModel(family='pythia-deduped', params=162322944, exact=True, train_tokens=299892736000, tokens_per_step=2097152)
        >>> lookup_model("facebook/opt-1.3b").params, lookup_model("gpt2-xl").params
        (1300000000.0, 1557611200)
        >>> lookup_model("EleutherAI/pythia-999m") is None
        True
    """
    name = _basename(model)
    if m := _PYTHIA_NAME.fullmatch(name):
        if m.group("size") in _PYTHIA:
            family = (
                "pythia"
                + ("-deduped" if m.group("dedup") or m.group("dedup2") else "")
                + ("-v0" if m.group("v0") else "")
            )
            return KnownModel(
                family, _PYTHIA[m.group("size")], True, PYTHIA_TOKENS_PER_STEP * PYTHIA_STEPS, PYTHIA_TOKENS_PER_STEP
            )
        return None
    if m := re.fullmatch(r"gpt2(-medium|-large|-xl)?", name):
        return KnownModel("gpt2", _GPT2[m.group(1) or ""], True)
    if (m := re.fullmatch(r"opt-([\d.]+[mb])", name)) and m.group(1) in _OPT:
        return KnownModel("opt", parse_size(m.group(1)), False, 180e9)  # OPT paper: 180B tokens for every size
    if (m := re.fullmatch(r"cerebras-gpt-([\d.]+[mb])", name)) and m.group(1) in _CEREBRAS:
        size = parse_size(m.group(1))  # compute-optimal: about 20 tokens per parameter
        return KnownModel("cerebras-gpt", size, False, 20 * size)
    if (m := re.fullmatch(r"llama-2-(\d+b)(-chat)?(-hf)?", name)) and m.group(1) in _LLAMA2:
        return KnownModel("llama-2" + (m.group(2) or ""), parse_size(m.group(1)), False, 2e12)
    if (m := re.fullmatch(r"qwen2\.5-([\d.]+b)(-instruct)?", name)) and m.group(1) in _QWEN25:
        return KnownModel("qwen2.5" + (m.group(2) or ""), parse_size(m.group(1)), False)
    if (m := re.fullmatch(r"olmo-(\d+b)(-hf)?", name)) and m.group(1) in _OLMO:
        return KnownModel("olmo", parse_size(m.group(1)), False)
    return None


#: Family -> the model names the table knows, for documentation and tests.
KNOWN_FAMILIES: dict[str, list[str]] = {
    "pythia": [f"EleutherAI/pythia-{s}" for s in _PYTHIA],
    "gpt2": [f"gpt2{s}" for s in _GPT2],
    "opt": [f"facebook/opt-{s}" for s in _OPT],
    "cerebras-gpt": [f"cerebras/Cerebras-GPT-{s.upper()}" for s in _CEREBRAS],
    "llama-2": [f"meta-llama/Llama-2-{s}-hf" for s in _LLAMA2],
    "qwen2.5": [f"Qwen/Qwen2.5-{s.upper()}" for s in _QWEN25],
    "olmo": [f"allenai/OLMo-{s.upper()}" for s in _OLMO],
}
