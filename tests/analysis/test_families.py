"""The built-in table of model sizes."""

from __future__ import annotations

import pytest

from lm_eval_mirage.analysis.families import (
    KNOWN_FAMILIES,
    PYTHIA_TOKENS_PER_STEP,
    lookup_model,
    parse_size,
)

# Total parameters quoted in SCIENCE.md (from the Pythia paper).
PYTHIA = {
    "70m": 70_426_624,
    "160m": 162_322_944,
    "410m": 405_334_016,
    "1b": 1_011_781_632,
    "1.4b": 1_414_647_808,
    "2.8b": 2_775_208_960,
    "6.9b": 6_857_302_016,
    "12b": 11_846_072_320,
}


@pytest.mark.parametrize("size, params", PYTHIA.items())
def test_pythia_sizes_match_science_md(size, params):
    for name in (f"EleutherAI/pythia-{size}", f"EleutherAI/pythia-{size}-deduped", f"/models/PYTHIA-{size}/"):
        known = lookup_model(name)
        assert known is not None and known.params == params and known.exact
    assert lookup_model(f"EleutherAI/pythia-{size}").family == "pythia"
    assert lookup_model(f"EleutherAI/pythia-{size}-deduped").family == "pythia-deduped"  # other data: other curve


def test_pythia_training_tokens():
    known = lookup_model("EleutherAI/pythia-1b")
    assert known.tokens_per_step == PYTHIA_TOKENS_PER_STEP == 2_097_152
    assert known.train_tokens == 143_000 * 2_097_152  # about 300B tokens


@pytest.mark.parametrize(
    "name, family, params, exact",
    [
        ("gpt2", "gpt2", 124_439_808, True),
        ("openai-community/gpt2-xl", "gpt2", 1_557_611_200, True),
        ("facebook/opt-350m", "opt", 350e6, False),
        ("cerebras/Cerebras-GPT-1.3B", "cerebras-gpt", 1.3e9, False),
        ("meta-llama/Llama-2-13b-chat-hf", "llama-2-chat", 13e9, False),
        ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5-instruct", 0.5e9, False),
        ("allenai/OLMo-7B", "olmo", 7e9, False),
    ],
)
def test_other_families(name, family, params, exact):
    known = lookup_model(name)
    assert (known.family, known.params, known.exact) == (family, params, exact)


@pytest.mark.parametrize(
    "name", ["EleutherAI/pythia-999m", "facebook/opt-999m", "my-model-7b", "gpt2-small", "/tmp/tiny"]
)
def test_unknown_models_are_not_guessed(name):
    assert lookup_model(name) is None


def test_every_listed_name_resolves_to_its_family():
    for family, names in KNOWN_FAMILIES.items():
        for name in names:
            assert lookup_model(name).family == family, name


def test_parse_size_errors_name_the_value():
    assert parse_size("70426624") == 70426624.0
    with pytest.raises(ValueError, match="'big'"):
        parse_size("big")


@pytest.mark.parametrize(
    "name, family, size",
    [
        ("EleutherAI/pythia-v1.1-70m", "pythia", "70m"),  # the 2023 evaluation files
        ("EleutherAI/pythia-v1.1-1b-bf16", "pythia", "1b"),
        ("EleutherAI/pythia-1b-bf16", "pythia", "1b"),
        ("EleutherAI/pythia-6.9b-deduped", "pythia-deduped", "6.9b"),
        ("EleutherAI/pythia-v1.1-12b-deduped", "pythia-deduped", "12b"),
        ("EleutherAI/pythia-160m-v0", "pythia-v0", "160m"),  # the first training run: its own curve
        ("EleutherAI/pythia-1b-deduped-v0", "pythia-deduped-v0", "1b"),
    ],
)
def test_pythia_names_in_results_files(name, family, size):
    known = lookup_model(name)
    assert known is not None and (known.family, known.params, known.exact) == (family, PYTHIA[size], True)


def test_every_published_results_file_names_a_known_model():
    import json
    from pathlib import Path

    files = sorted((Path(__file__).parents[1] / "data" / "pythia-v1").rglob("*.json"))
    assert len(files) == 8 + 8 + 26  # zero-shot, five-shot, and 26 more checkpoints of 160m
    for path in files:
        args = dict(kv.split("=", 1) for kv in json.loads(path.read_text())["config"]["model_args"].split(","))
        known = lookup_model(args["pretrained"])
        assert known is not None and known.family == "pythia", path
