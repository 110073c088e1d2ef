"""Tokenizers named by model arguments or by ``rescore --tokenizer``: remote code is never run."""

from __future__ import annotations

import json

import pytest

from lm_eval_mirage.tasks.tokenizer import encoder_from_model_args, load_tokenizer


@pytest.fixture
def remote_code_tokenizer(tmp_path):
    """A tokenizer folder whose class lives in its own Python file (which would leave a marker if run)."""
    folder = tmp_path / "evil"
    folder.mkdir()
    marker = tmp_path / "ran"
    (folder / "evil_tok.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\nfrom transformers import PreTrainedTokenizer\nclass EvilTokenizer(PreTrainedTokenizer):\n    pass\n"
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {"tokenizer_class": "EvilTokenizer", "auto_map": {"AutoTokenizer": ["evil_tok.EvilTokenizer", None]}}
        )
    )
    (folder / "config.json").write_text(
        json.dumps({"model_type": "gpt2", "auto_map": {"AutoTokenizer": "evil_tok.EvilTokenizer"}})
    )
    return folder, marker


def test_remote_code_is_refused_explicitly(remote_code_tokenizer):
    folder, marker = remote_code_tokenizer
    load_tokenizer.cache_clear()
    with pytest.raises(Exception):
        load_tokenizer(str(folder))
    assert not marker.exists()


def test_rescore_tokenizer_never_runs_remote_code(remote_code_tokenizer):
    from lm_eval_mirage.metrics.catalog import metrics_for
    from lm_eval_mirage.rescore.scorers import make_scorer

    folder, marker = remote_code_tokenizer
    load_tokenizer.cache_clear()
    with pytest.raises(Exception):
        make_scorer("loglikelihood", {}, metrics_for("loglikelihood"), tokenizer=str(folder))
    assert not marker.exists()


def test_model_args_tokenizer_falls_back_to_characters_with_a_warning(remote_code_tokenizer, caplog):
    folder, marker = remote_code_tokenizer
    load_tokenizer.cache_clear()
    assert encoder_from_model_args({"pretrained": str(folder)}, "some_task") is None
    assert not marker.exists()
    assert "some_task: cannot load tokenizer" in caplog.text


def test_model_args_tokenizer_counts_tokens(tiny_model):
    encode = encoder_from_model_args({"pretrained": str(tiny_model), "trust_remote_code": "false"}, "t")
    assert encode is not None and len(encode(" mat")) == 4  # the tiny model's tokenizer is per character
