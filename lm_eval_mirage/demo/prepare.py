"""The checkpoints each trained family evaluates, for ``lm-eval-mirage demo`` and ``lm-eval-mirage control``.

A seed whose every size ships with the package uses the shipped checkpoints; other seeds (and every seed
with ``retrain``) are trained into the cache, or reused from it when a member of the same recipe, seed and
thread count is there. Every member is then checked (:func:`lm_eval_mirage.zoo.checkpoints.verify_member`:
safetensors weights only, their SHA-256 against the metadata) before anything is evaluated. A damaged member
is an error that says how to repair it, never retrained silently: the cache is written atomically, so damage
means something outside the package changed the files, and a verdict must not rest on them unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from lm_eval_mirage.zoo.checkpoints import shipped_checkpoints, verify_member

__all__ = ["shipped_or_trained", "verified", "prepare_recall", "prepare_modadd", "prepare_carry", "prepare_steps"]


def verified(members: Sequence[Any], *, retrain_option: bool) -> list[Any]:
    """``members``, each checked by :func:`~lm_eval_mirage.zoo.checkpoints.verify_member`.

    ``retrain_option``: whether ``--retrain`` rebuilds this family (the error then offers it as a repair).

    Raises:
        CheckpointError: one line naming the damaged file and how to repair it.
    """
    shipped = shipped_checkpoints()
    retrain = " or run with --retrain" if retrain_option else ""
    for m in members:
        folder = Path(m.folder)
        if folder.resolve().is_relative_to(shipped):
            fix = f"the installed package is damaged: reinstall lm-eval-mirage{retrain.replace(' or', ', or')}"
        else:
            fix = f"delete the cached member {folder} (the next run trains it again){retrain}"
        verify_member(folder, m.metadata, fix=fix)
    return list(members)


def _source(seeds: Sequence[int], missing: Sequence[int], *, retrain: bool, cache: Path) -> str:
    """Where a family's members came from, for the terminal and the report."""
    if not missing:
        return f"shipped checkpoints ({shipped_checkpoints()})"
    if retrain:
        return f"seeds {list(missing)} trained now (--retrain) into {cache}"
    kept = [s for s in seeds if s not in missing]
    trained = f"seeds {list(missing)} trained or reused in {cache}"
    return f"shipped checkpoints for seeds {kept}, {trained}" if kept else trained


def shipped_or_trained(
    load: Callable[..., list[Any]],
    build: Callable[..., list[Any]],
    *,
    root: Path,
    sizes: Sequence[int],
    size_of: Callable[[Any], int],
    seeds: Sequence[int],
    retrain: bool,
    threads: int,
    progress: bool,
    recipe: Any,
) -> tuple[list[Any], list[int]]:
    """A family's members, sorted by seed then size, and the seeds trained (or reused) in ``root``.

    ``load(folder, recipe=, seeds=)`` finds saved members, ``build(root, recipe=, seeds=, ...)`` trains the
    missing ones; a seed uses the shipped checkpoints when every size of it ships (never with ``retrain``).
    """
    shipped = [] if retrain else load(shipped_checkpoints(), recipe=recipe, seeds=seeds)
    have = {(size_of(m), m.seed) for m in shipped}
    missing = [s for s in seeds if any((z, s) not in have for z in sizes)]
    trained = (
        build(root, recipe=recipe, seeds=missing, threads=threads, progress=progress, retrain=retrain)
        if missing
        else []
    )
    members = sorted([m for m in shipped if m.seed not in missing] + trained, key=lambda m: (m.seed, size_of(m)))
    return members, missing


def prepare_recall(
    *,
    cache: Path,
    seeds: Sequence[int],
    retrain: bool,
    threads: int,
    progress: bool,
    recipe: Any = None,
    retrain_option: bool = True,
) -> tuple[list[Any], str]:
    """The recall family's members, verified; ``(members, where they came from)``.

    ``retrain_option``: whether the command's ``--retrain`` retrains this family (``control`` does not).
    """
    from lm_eval_mirage.zoo import recall

    recipe = recipe or recall.RECIPE
    members, missing = shipped_or_trained(
        recall.load_family,
        recall.build_family,
        root=cache / "families" / recipe.fingerprint,
        sizes=recipe.widths,
        size_of=lambda m: m.width,
        seeds=seeds,
        retrain=retrain,
        threads=threads,
        progress=progress,
        recipe=recipe,
    )
    return verified(members, retrain_option=retrain_option), _source(seeds, missing, retrain=retrain, cache=cache)


def prepare_modadd(
    *, cache: Path, seeds: Sequence[int], retrain: bool, threads: int, progress: bool, recipe: Any = None
) -> tuple[list[Any], str]:
    """The modadd family's members, verified; ``(members, where they came from)``."""
    from lm_eval_mirage.zoo import modadd

    recipe = recipe or modadd.MODADD_RECIPE
    members, missing = shipped_or_trained(
        modadd.load_modadd_family,
        modadd.build_modadd_family,
        root=cache / "families" / f"modadd-{recipe.fingerprint}",
        sizes=recipe.widths,
        size_of=lambda m: m.width,
        seeds=seeds,
        retrain=retrain,
        threads=threads,
        progress=progress,
        recipe=recipe,
    )
    return verified(members, retrain_option=True), _source(seeds, missing, retrain=retrain, cache=cache)


def prepare_carry(
    *, cache: Path, seeds: Sequence[int], retrain: bool, threads: int, progress: bool, recipe: Any = None
) -> tuple[list[Any], str]:
    """The carry family's members (over depth), verified; ``(members, where they came from)``."""
    from lm_eval_mirage.zoo import carry

    recipe = recipe or carry.CONTROL_RECIPE
    members, missing = shipped_or_trained(
        carry.load_control_family,
        carry.build_control_family,
        root=cache / "families" / f"carry-{recipe.fingerprint}",
        sizes=recipe.depths,
        size_of=lambda m: m.depth,
        seeds=seeds,
        retrain=retrain,
        threads=threads,
        progress=progress,
        recipe=recipe,
    )
    return verified(members, retrain_option=True), _source(seeds, missing, retrain=retrain, cache=cache)


def prepare_steps(
    *,
    cache: Path,
    seeds: Sequence[int],
    retrain: bool,
    threads: int,
    recipe: Any = None,
    grid: Sequence[int] | None = None,
) -> tuple[list[Any], str]:
    """The carry-steps checkpoints, verified: shipped where every step of the grid ships, else trained into
    ``cache`` (reused there when every step of ``grid``, default :data:`~lm_eval_mirage.zoo.carry.STEP_GRID`, is)."""
    from lm_eval_mirage.zoo import carry

    recipe = recipe or carry.CONTROL_RECIPE
    steps = set(grid or carry.STEP_GRID)

    def complete(found: Sequence[Any], seed: int) -> bool:
        return steps <= {m.metadata["step"] for m in found if m.seed == seed and m.metadata.get("threads") == threads}

    shipped = [] if retrain else carry.load_step_checkpoints(shipped_checkpoints(), recipe=recipe, seeds=seeds)
    missing = [s for s in seeds if not complete(shipped, s)]
    root = cache / "families" / f"carrysteps-{recipe.fingerprint}"
    cached = carry.load_step_checkpoints(root, recipe=recipe, seeds=missing)
    for s in missing:
        if retrain or not complete(cached, s):
            carry.train_step_checkpoints(root, recipe=recipe, seed=s, threads=threads, grid=sorted(steps))
    trained = carry.load_step_checkpoints(root, recipe=recipe, seeds=missing)
    members = [m for m in shipped if m.seed not in missing] + trained
    members = sorted((m for m in members if m.metadata["step"] in steps), key=lambda m: (m.seed, m.metadata["step"]))
    return verified(members, retrain_option=True), _source(seeds, missing, retrain=retrain, cache=cache)
