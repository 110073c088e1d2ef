from __future__ import annotations

from lm_eval_mirage.zoo import CHARSET, char_tokenizer


def test_char_tokenizer_round_trips_every_character():
    tok = char_tokenizer()
    text = "Q: What is 48 plus 76? A: 124\n" + CHARSET
    ids = tok.encode(text, add_special_tokens=False)
    assert len(ids) == len(text)
    assert tok.decode(ids) == text


def test_saved_folder_loads_with_auto_classes(tiny_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = torch.tensor([tok.encode("Q: 1 plus 2? A:", add_special_tokens=False)])
    logits = model(ids).logits
    assert logits.shape == (1, ids.shape[1], len(tok))
