"""``mirage-sim``: a SIMULATED model family that implements the mathematical model of Schaeffer et al. exactly.

A model of N parameters gets every target token right with probability

    p(N) = exp(-L_CE(N)),    L_CE(N) = (N / c) ** alpha        (c > 0, alpha < 0)

and nothing else: no network, no training. It makes the mechanism of the "mirage" visible through the real
harness pipeline in seconds. Defaults ``c = 2e9``, ``alpha = -0.5`` reproduce the paper's illustrative figure.

How a request is answered (arithmetic prompts of the plugin: ``"... Q: What is 48 plus 76? A:"``):

* The LAST question in the context is parsed and solved; the ideal text after ``"A:"`` is the answer line
  ``S = " " + answer + "\\n"`` (the target delimiter, the answer, the stop sequence). Each character of
  ``S`` is one token, and every token counts: ``len(S)`` is the target length L.
* Token i of the simulated output is right iff ``u_i < p``, where ``u_i`` is a uniform number drawn from
  SHA-256 of ``(seed, question, i)``. A wrong token is one of the digits other than the right character,
  picked from the same hash. So the output is deterministic given the seed, independent of the process, of
  ``PYTHONHASHSEED`` and of request order, and the SAME draws serve every N (common random numbers): a
  problem solved by a model is solved by every larger one.
* The per-position distribution is ``p`` on the right character and ``(1 - p) / k`` on each of the k other
  digits (k = 9 when the right character is a digit, else 10); any other character has probability 0. A
  ``loglikelihood`` request sums ``log p`` over matching positions and ``log((1 - p) / k)`` over digit
  mismatches (``-inf`` for an impossible character). For the target itself this is ``L * log p``, so the
  per-token probability the ``_ll`` tasks report is exactly p.
* ``is_greedy`` reports whether the continuation equals the simulated output: the simulation stands for a
  model that is right with probability p per token and its one output is a draw of that distribution (what
  sampling at temperature 1 gives). ``greedy_exact_match`` of a ``_ll`` task therefore equals exact match
  of the generation task problem by problem, and both average ``p ** L``. Since every wrong token is a digit
  in the answer line, the parsed answer of a wrong output is never the target; token edit distance of the
  parsed answer is, in expectation, ``L * (1 - p)``.

Model arguments: ``params`` (N, also accepted as ``N``; required), ``c``, ``alpha``, ``seed``, and ``model``
(a name for the results folder only).
Example: ``lm-eval-mirage run --model mirage-sim --model_args params=1.3e9 --tasks mirage_paper_add_4d``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from typing import Any

from lm_eval.api.model import LM

from lm_eval_mirage.models.result import LoglikelihoodResult

__all__ = [
    "MODEL_NAME",
    "DEFAULT_C",
    "DEFAULT_ALPHA",
    "token_probability",
    "parse_last_question",
    "answer_line",
    "simulate_output",
    "score_continuation",
    "SimulatedLM",
    "register",
]

MODEL_NAME = "mirage-sim"
#: The paper's illustrative constants (SCIENCE.md): with them p(3.5e8) ~ 0.09 and p(1.75e11) ~ 0.90.
DEFAULT_C = 2e9
DEFAULT_ALPHA = -0.5
DIGITS = "0123456789"
_OPS = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b, "times": lambda a, b: a * b}
_QUESTION = re.compile(r"Q: What is (-?\d+) (plus|minus|times) (-?\d+)\?\s*A:")
# Harness keyword arguments every backend receives; the simulation has no use for them.
_HARNESS_KWARGS = {"batch_size", "max_batch_size", "device"}


def token_probability(n_params: float, c: float = DEFAULT_C, alpha: float = DEFAULT_ALPHA) -> float:
    """Probability of one correct token, ``p(N) = exp(-(N / c) ** alpha)``.

    Args:
        n_params: model size N > 0.
        c: scale constant > 0.
        alpha: exponent < 0 (the loss falls as N grows).

    Example:
        >>> round(token_probability(3.5e8), 4), round(token_probability(1.75e11), 4)
        (0.0916, 0.8986)
        >>> token_probability(2e9)  # N = c: L_CE = 1
        0.36787944117144233
    """
    for name, value in (("params", n_params), ("c", c)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name}={value!r} must be a finite number > 0")
    if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not math.isfinite(alpha) or alpha >= 0:
        raise ValueError(f"alpha={alpha!r} must be a finite number < 0 (the loss falls as the model grows)")
    return math.exp(-((n_params / c) ** alpha))


def parse_last_question(context: str) -> tuple[str, str]:
    """Find the last arithmetic question in ``context``; return ``(question, text after its "A:")``.

    Example:
        >>> parse_last_question("Q: What is 1 plus 2? A: 3\\nQ: What is 48 plus 76? A:")
        ('Q: What is 48 plus 76? A:', '')
    """
    last = None
    for last in _QUESTION.finditer(context):
        pass
    if last is None:
        raise ValueError(
            f"mirage-sim answers the plugin's arithmetic prompts only ('Q: What is 48 plus 76? A:'); "
            f"no such question in the context ending {context[-80:]!r}"
        )
    return last.group(0), context[last.end() :]


def answer_line(question: str) -> str:
    """The ideal text after ``"A:"``: target delimiter, true answer, stop sequence.

    Example:
        >>> answer_line("Q: What is 48 plus 76? A:")
        ' 124\\n'
        >>> answer_line("Q: What is 3 minus 15? A:")
        ' -12\\n'
    """
    match = _QUESTION.fullmatch(question)
    if match is None:
        raise ValueError(f"not an arithmetic question: {question!r}")
    a, op, b = match.groups()
    return f" {_OPS[op](int(a), int(b))}\n"


def _uniform(seed: int, question: str, position: int, stream: str) -> float:
    digest = hashlib.sha256(f"mirage-sim|{seed}|{stream}|{position}|{question}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _alternatives(right: str) -> str:
    return DIGITS.replace(right, "")


def simulate_output(question: str, p: float, seed: int = 0) -> str:
    """The simulated answer line: each character of :func:`answer_line` right with probability p.

    Example:
        >>> simulate_output("Q: What is 48 plus 76? A:", 1.0)
        ' 124\\n'
        >>> out = simulate_output("Q: What is 48 plus 76? A:", 0.0)
        >>> len(out), all(ch in "0123456789" for ch in out)
        (5, True)
    """
    ideal = answer_line(question)
    chars = []
    for i, right in enumerate(ideal):
        if _uniform(seed, question, i, "right") < p:
            chars.append(right)
        else:
            wrong = _alternatives(right)
            chars.append(wrong[int(_uniform(seed, question, i, "wrong") * len(wrong))])
    return "".join(chars)


def score_continuation(question: str, prefix: str, continuation: str, p: float, seed: int = 0) -> LoglikelihoodResult:
    """Log-likelihood of ``continuation`` after ``question + prefix`` under the simulation (one token a char).

    ``prefix`` is context text already after ``"A:"`` (e.g. a space): it must agree with the answer line.

    Example:
        >>> r = score_continuation("Q: What is 48 plus 76? A:", "", " 124\\n", 0.5)
        >>> r[0] == 5 * math.log(0.5), r[1] in (True, False), len(r.token_logprobs)
        (True, True, 5)
        >>> round(score_continuation("Q: What is 48 plus 76? A:", "", " 125\\n", 0.5)[0], 6)  # 4 log(0.5) + log(0.5 / 9)
        -5.66296
    """
    ideal = answer_line(question)
    if not ideal.startswith(prefix) or len(prefix) + len(continuation) > len(ideal):
        raise ValueError(
            f"mirage-sim scores only the answer line after 'A:' (here {ideal!r}); got text {prefix!r} "
            f"followed by the continuation {continuation!r}"
        )
    output = simulate_output(question, p, seed)
    logprobs, greedy = [], []
    for offset, ch in enumerate(continuation):
        i = len(prefix) + offset
        right = ideal[i]
        if ch == right:
            logprobs.append(math.log(p) if p > 0 else -math.inf)
        elif ch in DIGITS:
            wrong_p = (1.0 - p) / len(_alternatives(right))
            logprobs.append(math.log(wrong_p) if wrong_p > 0 else -math.inf)
        else:
            logprobs.append(-math.inf)
        greedy.append(ch == output[i])
    return LoglikelihoodResult(math.fsum(logprobs), all(greedy), logprobs, [ord(ch) for ch in continuation], greedy)


def _number(name: str, value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name}={value!r} must be a number") from None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ValueError(f"{name}={value!r} must be a number")
    return float(value)


class SimulatedLM(LM):
    """Harness backend ``mirage-sim``: the paper's model as a "model" (see the module docstring). SIMULATION."""

    def __init__(
        self,
        params: float | str | None = None,
        *,
        N: float | str | None = None,
        c: float | str = DEFAULT_C,
        alpha: float | str = DEFAULT_ALPHA,
        seed: int | str = 0,
        model: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        unknown = sorted(set(kwargs) - _HARNESS_KWARGS)
        if unknown:
            raise ValueError(
                f"mirage-sim: unknown model argument(s) {unknown}; accepted: params (or N), c, alpha, seed, model"
            )
        if (params is None) == (N is None):
            raise ValueError(
                "mirage-sim needs the model size: give exactly one of params=... or N=... (e.g. params=1.3e9)"
            )
        self.params = _number("params", params if params is not None else N)
        self.c = _number("c", c)
        self.alpha = _number("alpha", alpha)
        seed_value = _number("seed", seed)
        if seed_value != int(seed_value):
            raise ValueError(f"seed={seed!r} must be an integer")
        self.seed = int(seed_value)
        self.p = token_probability(self.params, self.c, self.alpha)
        # ``model=NAME`` is not used here: the harness names the results folder after it.

    def get_model_info(self) -> dict[str, Any]:
        """Recorded in the results file's config (the analysis reads the size from ``model_num_parameters``)."""
        return {
            "model_num_parameters": self.params,
            "simulation": {
                "backend": MODEL_NAME,
                "c": self.c,
                "alpha": self.alpha,
                "seed": self.seed,
                "token_probability": self.p,
            },
        }

    @property
    def tokenizer_name(self) -> str:
        return "mirage-sim-characters"

    def loglikelihood(self, requests: Sequence[Any], disable_tqdm: bool = False) -> list[LoglikelihoodResult]:
        results = []
        for request in requests:
            context, continuation = request.args[0], request.args[1]
            question, prefix = parse_last_question(context)
            results.append(score_continuation(question, prefix, continuation, self.p, self.seed))
        return results

    def generate_until(self, requests: Sequence[Any], disable_tqdm: bool = False) -> list[str]:
        results = []
        for request in requests:
            context, gen_kwargs = request.args[0], (request.args[1] if len(request.args) > 1 else {}) or {}
            question, prefix = parse_last_question(context)
            output = simulate_output(question, self.p, self.seed)
            if not output.startswith(prefix):
                raise ValueError(f"mirage-sim: the context after 'A:' ({prefix!r}) is not part of the answer line")
            text = output[len(prefix) :][: int(gen_kwargs.get("max_gen_toks", 256))]
            until = gen_kwargs.get("until") or []
            for stop in [until] if isinstance(until, str) else until:
                if stop and stop in text:
                    text = text[: text.index(stop)]
            results.append(text)
        return results

    def loglikelihood_rolling(self, requests: Sequence[Any], disable_tqdm: bool = False) -> list[float]:
        raise NotImplementedError(
            "mirage-sim models only answers to arithmetic questions, not free text (loglikelihood_rolling)"
        )


def register() -> None:
    """Make ``mirage-sim`` known to the harness (idempotent)."""
    import lm_eval.models  # noqa: F401  (fill the built-in registry first; see models/__init__.py)
    from lm_eval.api.registry import model_registry

    if MODEL_NAME not in model_registry:
        model_registry.register(MODEL_NAME, target=f"{__name__}:SimulatedLM")
