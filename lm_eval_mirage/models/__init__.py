"""Harness model backends of the plugin. :func:`register` makes them known to ``lm_eval`` by name.

- ``hf-mirage`` (:class:`lm_eval_mirage.models.hf_mirage.HFMirageLM`): stock ``hf`` whose log-likelihood
  responses keep the per-token log-probs of the same forward pass (and without the logits-cache bug).
- ``vllm-mirage`` (:mod:`lm_eval_mirage.models.vllm_mirage`): the same for vLLM; optional extra, GPU only.
- ``mirage-sim`` (:mod:`lm_eval_mirage.models.simulated`): the paper's model as a SIMULATED family (the demo).

Registration is lazy (``"module:Class"`` strings): nothing heavy is imported until a run names the backend.
"""

from __future__ import annotations

from lm_eval_mirage.models.result import LoglikelihoodResult

__all__ = ["BACKENDS", "LoglikelihoodResult", "register"]

#: backend name -> "module:attribute" that the harness imports when a run asks for it.
BACKENDS = {
    "hf-mirage": "lm_eval_mirage.models.hf_mirage:HFMirageLM",
    "vllm-mirage": "lm_eval_mirage.models.vllm_mirage:VLLMMirageLM",
    "mirage-sim": "lm_eval_mirage.models.simulated:SimulatedLM",
}


def register() -> None:
    """Register the plugin's model backends with the harness (idempotent, imports no torch)."""
    # The harness fills its registry with the built-in backends only when the registry is empty at the
    # first lookup: import them first, or our entries would hide "hf", "vllm", ...
    import lm_eval.models  # noqa: F401
    from lm_eval.api.registry import model_registry

    for name, target in BACKENDS.items():
        if name not in model_registry:  # already there (maybe materialised to the class): leave it
            model_registry.register(name, target=target)
