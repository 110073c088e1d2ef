"""Tiny offline language models: a character tokenizer and a small GPT-2, saved as a Hugging Face folder.

Tests, benchmarks and the demo build their models here, so nothing needs a model hub. A saved folder loads
with ``--model hf --model_args pretrained=FOLDER`` like any hub model.
"""

from __future__ import annotations

import string
from pathlib import Path

__all__ = ["CHARSET", "SPECIAL_TOKENS", "char_tokenizer", "tiny_gpt2_config", "build_tiny_model"]

#: Every printable ASCII character plus newline: enough for the arithmetic prompts and any English text.
CHARSET = "\n" + "".join(c for c in string.printable if c not in "\t\n\r\x0b\x0c")
SPECIAL_TOKENS = {
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "eos_token": "<|endoftext|>",
    "bos_token": "<|endoftext|>",
}


def char_tokenizer():
    """A ``PreTrainedTokenizerFast`` with one token per character (ids 0..2 are special tokens).

    Example:
        >>> tok = char_tokenizer()
        >>> tok.decode(tok.encode("Q: 12+3\\n"))
        'Q: 12+3\\n'
        >>> len(tok.encode("124"))
        3
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<pad>": 1, "<|endoftext|>": 2}
    for ch in CHARSET:
        vocab.setdefault(ch, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False, **SPECIAL_TOKENS)


def tiny_gpt2_config(vocab_size: int, *, n_layer: int = 2, n_embd: int = 64, n_head: int = 2, n_positions: int = 256):
    """A ``GPT2Config`` for a small causal LM (dropout off, so training is deterministic given a seed)."""
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=1,
    )


def build_tiny_model(
    folder: str | Path,
    *,
    n_layer: int = 2,
    n_embd: int = 64,
    n_head: int = 2,
    n_positions: int = 256,
    seed: int = 0,
    model=None,
) -> Path:
    """Save a randomly initialised (or the given) tiny GPT-2 with the character tokenizer to ``folder``.

    Returns:
        The folder, ready for ``--model hf --model_args pretrained=FOLDER``.
    """
    import torch
    from transformers import GPT2LMHeadModel

    folder = Path(folder)
    tokenizer = char_tokenizer()
    if model is None:
        torch.manual_seed(seed)
        config = tiny_gpt2_config(
            len(tokenizer), n_layer=n_layer, n_embd=n_embd, n_head=n_head, n_positions=n_positions
        )
        model = GPT2LMHeadModel(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
