"""``lm-eval-mirage demo`` and ``control`` refuse a damaged checkpoint before anything is evaluated.

The cache holds a second seed of a family, built here in seconds without training: the shipped seed-0
members copied with ``seed`` 1 in their metadata (their weights and SHA-256 unchanged), exactly where the
commands look for seed 1. One member is then damaged the ways a cache gets damaged (weights scaled by 0.7,
a pickle instead of the weights, a pickle named ``model.safetensors``, a header claiming 10**18 elements,
another width's weights). Each run must stop with exit status 2 and one line naming the file and how to
repair it, before the harness runs (no ``runs/`` folder in the cache, no report), and must never unpickle.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from lm_eval_mirage.cli.main import main
from lm_eval_mirage.zoo.carry import CONTROL_RECIPE
from lm_eval_mirage.zoo.checkpoints import METADATA_FILE, WEIGHTS_FILE, shipped_checkpoints
from lm_eval_mirage.zoo.recall import RECIPE

#: (command, --families, the family's folder prefix, its cache folder under families/, the member to damage)
DEMO = ("demo", "trained", "recall", RECIPE.fingerprint, "recall-w4-s1")
CONTROL = ("control", "carry", "carry", f"carry-{CONTROL_RECIPE.fingerprint}", "carry-d1-s1")


class Canary:
    """Unpickling this creates ``path``: proof that a pickle was loaded."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _cache_with_seed_1(cache: Path, prefix: str, folder: str) -> Path:
    """``cache/families/{folder}`` holding every shipped ``{prefix}-*-s0`` member again as seed 1."""
    root = cache / "families" / folder
    for member in sorted(shipped_checkpoints().glob(f"{prefix}-*-s0")):
        name = member.name.removesuffix("-s0") + "-s1"
        copy = shutil.copytree(member, root / name)
        meta = json.loads((copy / METADATA_FILE).read_text())
        (copy / METADATA_FILE).write_text(json.dumps({**meta, "seed": 1, "name": name}))
    return root


def _scaled(weights: Path, canary: Path) -> None:
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(weights))
    save_file({k: v * 0.7 for k, v in tensors.items()}, str(weights), metadata={"format": "pt"})


def _pickle_instead(weights: Path, canary: Path) -> None:
    weights.unlink()
    (weights.parent / "pytorch_model.bin").write_bytes(pickle.dumps(Canary(canary)))


def _pickle_named_safetensors(weights: Path, canary: Path) -> None:
    weights.write_bytes(pickle.dumps(Canary(canary), protocol=4))


def _huge_header(weights: Path, canary: Path) -> None:
    header = json.dumps({"transformer.wte.weight": {"dtype": "F32", "shape": [10**9, 10**9], "data_offsets": [0, 64]}})
    weights.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(64))


def _other_width(weights: Path, canary: Path) -> None:
    donor = sorted(shipped_checkpoints().glob(f"{weights.parent.name.split('-')[0]}-*-s0"))[-1]  # the largest
    shutil.copy(donor / WEIGHTS_FILE, weights)


DAMAGE = {
    "scaled by 0.7": (_scaled, WEIGHTS_FILE, "the weights' SHA-256 is"),
    "a pickle instead": (_pickle_instead, "pytorch_model.bin", "a pickled weights file"),
    "a pickle named model.safetensors": (_pickle_named_safetensors, WEIGHTS_FILE, "a pickle (torch.save) file"),
    "a header claiming 10**18 elements": (_huge_header, WEIGHTS_FILE, f"claims {10**18} elements of F32"),
    "another width": (_other_width, WEIGHTS_FILE, "weights, the member's metadata records params="),
}


def _damaged_cache(tmp_path: Path, command: tuple, damage: str) -> tuple[Path, Path, Path, Path]:
    """A cache with seed 1 of the command's family, one member damaged; (cache, damaged file, member, canary)."""
    _, _, prefix, folder, member = command
    cache = tmp_path / "cache"
    root = _cache_with_seed_1(cache, prefix, folder)
    damage_fn, bad_file, _ = DAMAGE[damage]
    canary = tmp_path / "unpickled"
    damage_fn(root / member / WEIGHTS_FILE, canary)
    return cache, root / member / bad_file, root / member, canary


def _args(command: tuple, cache: Path, out: Path) -> list[str]:
    name, families = command[:2]
    return [
        name,
        "--families",
        families,
        "--seeds",
        "2",
        "--cache-dir",
        str(cache),
        "--out",
        str(out),
        "--quiet",
        "--no-plots",
    ]


def _assert_refused(
    stderr: str, bad_file: Path, member: Path, problem: str, cache: Path, out: Path, canary: Path
) -> None:
    (line,) = [ln for ln in stderr.splitlines() if "error:" in ln]
    assert line.startswith("lm-eval-mirage ") and f"error: {bad_file}: " in line and problem in line, stderr
    assert f"delete the cached member {member} (the next run trains it again) or run with --retrain" in line
    assert "Traceback" not in stderr
    assert not (cache / "runs").exists() and not (out / "report.md").exists()  # nothing was evaluated
    assert not canary.exists()  # no pickle was loaded


@pytest.mark.parametrize("command", [DEMO, CONTROL], ids=["demo", "control"])
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cached_member_stops_the_command_before_evaluation(tmp_path, capsys, command, damage):
    cache, bad_file, member, canary = _damaged_cache(tmp_path, command, damage)
    out = tmp_path / "out"
    assert main(_args(command, cache, out)) == 2
    _assert_refused(capsys.readouterr().err, bad_file, member, DAMAGE[damage][2], cache, out, canary)


def _console(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lm-eval-mirage"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    full_env = {k: v for k, v in os.environ.items() if k not in ("LM_EVAL_MIRAGE_CACHE", "PYTHONPATH")}
    full_env.update({"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), **env})
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600, env=full_env)


@pytest.mark.parametrize(
    ("command", "damage"),
    [(DEMO, "scaled by 0.7"), (CONTROL, "a pickle named model.safetensors")],
    ids=["demo-scaled-weights", "control-pickle"],
)
def test_the_console_command_prints_one_line_and_exits_2(tmp_path, command, damage):
    cache, bad_file, member, canary = _damaged_cache(tmp_path, command, damage)
    out = tmp_path / "out"
    worktree = str(Path(__file__).resolve().parents[2])  # the code under test, wherever it is installed
    proc = _console(_args(command, cache, out), tmp_path, PYTHONPATH=worktree)
    assert proc.returncode == 2, proc.stderr[-4000:]
    _assert_refused(proc.stderr, bad_file, member, DAMAGE[damage][2], cache, out, canary)


def test_a_damaged_shipped_member_asks_for_a_reinstall(tmp_path):
    """The shipped checkpoints of a copy of the package, one scaled: the demo names it and says reinstall."""
    package = Path(__file__).resolve().parents[2] / "lm_eval_mirage"
    copy = shutil.copytree(package, tmp_path / "site" / "lm_eval_mirage", ignore=shutil.ignore_patterns("__pycache__"))
    weights = copy / "zoo" / "checkpoints" / "recall-w4-s0" / WEIGHTS_FILE
    _scaled(weights, tmp_path / "unused")
    cache, out = tmp_path / "cache", tmp_path / "out"
    args = ["demo", "--families", "trained", "--cache-dir", str(cache), "--out", str(out), "--quiet", "--no-plots"]
    proc = _console(args, tmp_path, PYTHONPATH=str(tmp_path / "site"))
    assert proc.returncode == 2, proc.stderr[-4000:]
    (line,) = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert f"error: {weights}: the weights' SHA-256 is" in line, proc.stderr
    assert line.endswith("the installed package is damaged: reinstall lm-eval-mirage, or run with --retrain")
    assert "Traceback" not in proc.stderr and not (cache / "runs").exists()


def test_an_intact_cached_seed_is_reused_without_training(tmp_path):
    """The copied seed is a valid cache entry: it is what the damaged-member tests above really exercise."""
    from lm_eval_mirage.demo.prepare import prepare_carry

    cache = tmp_path / "cache"
    root = _cache_with_seed_1(cache, "carry", CONTROL[3])
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob(WEIGHTS_FILE)}
    members, source = prepare_carry(cache=cache, seeds=[0, 1], retrain=False, threads=1, progress=False)
    assert [(m.seed, m.depth) for m in members] == [(s, d) for s in (0, 1) for d in CONTROL_RECIPE.depths]
    assert all(m.folder.parent == root for m in members if m.seed == 1)
    assert source == f"shipped checkpoints for seeds [0], seeds [1] trained or reused in {cache}"
    assert stamps == {p: p.stat().st_mtime_ns for p in root.rglob(WEIGHTS_FILE)}  # nothing retrained


def test_retrain_replaces_a_damaged_cached_member(tmp_path):
    """``--retrain`` is the repair the message offers: it trains over the damaged member (a 5-step recipe)."""
    from lm_eval_mirage.demo.prepare import prepare_recall
    from lm_eval_mirage.zoo.checkpoints import CheckpointError
    from lm_eval_mirage.zoo.recall import FamilyRecipe

    recipe = FamilyRecipe(widths=(4,), steps=5, batch_size=4, warmup_steps=1, num_keys=6, digits=3, n_positions=32)
    kwargs = {"cache": tmp_path, "seeds": [0], "threads": 1, "progress": False, "recipe": recipe}
    first, _ = prepare_recall(retrain=False, **kwargs)
    weights = first[0].folder / WEIGHTS_FILE
    _scaled(weights, tmp_path / "unused")
    expected = re.escape(f"{weights}: the weights' SHA-256 is ") + ".* or run with --retrain$"
    with pytest.raises(CheckpointError, match=expected):
        prepare_recall(retrain=False, **kwargs)
    again, source = prepare_recall(retrain=True, **kwargs)
    assert "--retrain" in source
    assert [m.metadata["state_sha256"] for m in again] == [m.metadata["state_sha256"] for m in first]
    shutil.rmtree(first[0].folder)  # the other repair the message offers: delete the member, it is trained again
    third, _ = prepare_recall(retrain=False, **kwargs)
    assert [m.metadata["state_sha256"] for m in third] == [m.metadata["state_sha256"] for m in first]
