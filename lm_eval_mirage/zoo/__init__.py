"""Tiny offline models (and, later, their training) shared by tests, benchmarks and the demo."""

from lm_eval_mirage.zoo.tiny import CHARSET, build_tiny_model, char_tokenizer, tiny_gpt2_config

__all__ = ["CHARSET", "build_tiny_model", "char_tokenizer", "tiny_gpt2_config"]
