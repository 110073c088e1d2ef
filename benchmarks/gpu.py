"""Driver of ``gpu.sh`` (figure 7): a real family's shape built offline, the wheelhouse, the summary.

Subcommands:

- ``build-model DIR --shape pythia-410m``: a randomly initialised GPT-NeoX with Pythia-410M's shape (24 layers,
  1024 wide, 16 heads, 4096 MLP, 50,304-token vocabulary, float16), saved as a Hugging Face folder with a
  character tokenizer padded to the model's vocabulary (no hub: the real Pythia tokenizer is not needed to
  measure speed; prompts are about 2.5x longer in characters than in Pythia's BPE tokens, so tokens/s is
  comparable and requests/s is pessimistic).
- ``wheels --dest .whl``: on a machine WITH network, the wheels the GPU machine lacks (lm-eval, this package
  and their requirements, minus torch, transformers, accelerate and what they need, minus ``--have``).
- ``summary RECORD...``: the figures of the GPU records, one line each.

    python benchmarks/gpu.py build-model /tmp/pythia-410m-random --shape pythia-410m --device cuda
    python benchmarks/gpu.py wheels --dest .whl --python-version 3.12 --have gpu-pip-freeze.txt
    python benchmarks/gpu.py summary benchmarks/results/gpu_*.json
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, format_line, read_record  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

#: GPT-NeoX shapes of the Pythia suite (Biderman et al. 2023), plus a tiny one for a CPU smoke test.
SHAPES: dict[str, dict[str, int]] = {
    "pythia-410m": {
        "hidden_size": 1024,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "intermediate_size": 4096,
        "vocab_size": 50304,
    },
    "pythia-160m": {
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "vocab_size": 50304,
    },
    "tiny": {
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 256,
        "vocab_size": 512,
    },
}
#: What the GPU machine is promised to have; these and everything they require never go into the wheelhouse.
PRESENT = ("torch", "transformers", "accelerate")
MANYLINUX = (
    "manylinux_2_28_x86_64",
    "manylinux_2_27_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
)


def padded_char_tokenizer(vocab_size: int):
    """The package's character tokenizer with filler tokens ``<|x123|>`` up to ``vocab_size`` ids.

    A random model emits any id of its vocabulary; without fillers those ids would decode to nothing.

    Example:
        >>> tok = padded_char_tokenizer(120)
        >>> len(tok), tok.decode(tok.encode("Q: 12")), tok.decode([119])
        (120, 'Q: 12', '<|x119|>')
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from lm_eval_mirage.zoo.tiny import CHARSET, SPECIAL_TOKENS

    vocab = {"<unk>": 0, "<pad>": 1, "<|endoftext|>": 2}
    for ch in CHARSET:
        vocab.setdefault(ch, len(vocab))
    if vocab_size < len(vocab):
        raise ValueError(f"vocab_size must be >= {len(vocab)} (the characters and special tokens), got {vocab_size}")
    while len(vocab) < vocab_size:
        vocab[f"<|x{len(vocab)}|>"] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, clean_up_tokenization_spaces=False, **SPECIAL_TOKENS)


def build_model(
    folder: Path, shape: str, *, device: str = "cpu", dtype: str = "float16", seed: int = 0
) -> dict[str, Any]:
    """Save a randomly initialised GPT-NeoX of ``shape`` with the padded character tokenizer to ``folder``."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    if shape not in SHAPES:
        raise SystemExit(f"--shape must be one of {', '.join(SHAPES)}, got {shape!r}")
    torch.manual_seed(seed)
    config = GPTNeoXConfig(
        **SHAPES[shape],
        max_position_embeddings=2048,
        use_parallel_residual=True,
        tie_word_embeddings=False,
        bos_token_id=2,
        eos_token_id=2,
        pad_token_id=1,
    )
    with torch.device(device):  # initialising 400M parameters on the GPU takes seconds, on a CPU a minute
        model = GPTNeoXForCausalLM(config)
    model = model.to(getattr(torch, dtype))
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    padded_char_tokenizer(config.vocab_size).save_pretrained(folder)
    n_params = sum(p.numel() for p in model.parameters())
    return {"shape": shape, "parameters": n_params, "dtype": dtype, "folder": str(folder)}


def closure(roots: list[str]) -> dict[str, str]:
    """``name -> installed version`` of ``roots`` and everything they require here (extras followed)."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: dict[str, set[str]] = {}
    versions: dict[str, str] = {}
    stack = [Requirement(r) for r in roots]
    while stack:
        req = stack.pop()
        key = canonicalize_name(req.name)
        extras = set(req.extras)
        if key in seen and extras <= seen[key]:
            continue
        seen.setdefault(key, set()).update(extras)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError as exc:
            raise SystemExit(
                f"{req.name} is not installed here; install the project first (pip install -e .) so its closure can be read"
            ) from exc
        versions[key] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in ["", *sorted(seen[key])]):
                stack.append(sub)
    return versions


def wheel_commands(dest: Path, python_version: str, have: set[str]) -> list[tuple[str, list[str], list[str] | None]]:
    """(package, pip download command, pip wheel fallback) for each package the GPU machine lacks."""
    from packaging.utils import canonicalize_name

    needed = closure(["lm-eval-mirage"])
    skip = set(closure(list(PRESENT))) | {canonicalize_name(h) for h in have}
    pip = [sys.executable, "-m", "pip"]
    platforms = [arg for p in MANYLINUX for arg in ("--platform", p)]
    commands = [("lm-eval-mirage", [*pip, "wheel", "--no-deps", "-w", str(dest), str(REPO)], None)]
    for name, version in sorted(needed.items()):
        if name in skip or name == "lm-eval-mirage":
            continue
        spec = f"{name}=={version}"
        download = [
            *pip,
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--python-version",
            python_version,
            "--implementation",
            "cp",
            *platforms,
            "-d",
            str(dest),
            spec,
        ]
        commands.append(
            (name, download, [*pip, "wheel", "--no-deps", "-w", str(dest), spec])
        )  # sdist-only: pure Python, built here
    return commands


def cmd_wheels(args: argparse.Namespace) -> int:
    have: set[str] = set()
    if args.have:
        for line in Path(args.have).read_text(encoding="utf-8").splitlines():
            name = line.split("==")[0].split(" ")[0].strip()
            if name and not name.startswith("#"):
                have.add(name)
    args.dest.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, download, fallback in wheel_commands(args.dest, args.python_version, have):
        print("+ " + " ".join(download), flush=True)
        if args.dry_run:
            continue
        if subprocess.run(download, check=False).returncode != 0:
            if fallback is None or subprocess.run(fallback, check=False).returncode != 0:
                failed.append(name)
    if failed:
        print(f"no wheel for: {', '.join(failed)}", file=sys.stderr)
        return 1
    if not args.dry_run:
        total = sum(p.stat().st_size for p in args.dest.glob("*.whl")) / 2**20
        print(f"{len(list(args.dest.glob('*.whl')))} wheels, {total:.1f} MiB in {args.dest}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    info = build_model(args.folder, args.shape, device=args.device, dtype=args.dtype, seed=args.seed)
    print(f"built {info['shape']}: {info['parameters'] / 1e6:.1f}M parameters, {info['dtype']}, in {info['folder']}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    for path in args.records:
        record = read_record(path)
        gpu = (record.get("machine") or {}).get("gpu") or {}
        print(f"== {record['benchmark']} ({record.get('mode', '?')}) on {gpu.get('name', 'no GPU seen')}: {path}")
        for fig in record["figures"]:
            known = {k: fig.get(k) for k in ("ratio_vs_baseline", "baseline", "target", "meets_target", "noise")}
            print("   " + format_line(Figure(fig["name"], fig["value"], fig["unit"], **known)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build-model", help="save a random GPT-NeoX of a Pythia shape with a character tokenizer")
    b.add_argument("folder", type=Path)
    b.add_argument("--shape", default="pythia-410m", choices=sorted(SHAPES))
    b.add_argument("--device", default="cpu", help="where to initialise the weights (cuda is much faster)")
    b.add_argument(
        "--dtype",
        default="float16",
        choices=("float16", "bfloat16", "float32"),
        help="saved dtype (Pythia ships float16)",
    )
    b.add_argument("--seed", type=int, default=0)
    b.set_defaults(fn=cmd_build)
    w = sub.add_parser(
        "wheels", help="download/build the wheels the GPU machine lacks (run where pip reaches an index)"
    )
    w.add_argument("--dest", type=Path, default=REPO / ".whl")
    w.add_argument(
        "--python-version",
        default=f"{sys.version_info.major}.{sys.version_info.minor}",
        help="the GPU machine's Python (default: this one's)",
    )
    w.add_argument(
        "--have", type=Path, help="`python3 -m pip list --format=freeze` of the GPU machine: these are skipped"
    )
    w.add_argument("--dry-run", action="store_true", help="print the pip commands only")
    w.set_defaults(fn=cmd_wheels)
    s = sub.add_parser("summary", help="print the figures of benchmark records")
    s.add_argument("records", nargs="+", type=Path)
    s.set_defaults(fn=cmd_summary)
    args = parser.parse_args(argv)
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
