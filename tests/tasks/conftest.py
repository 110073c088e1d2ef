"""Local copies of real harness tasks (their original YAMLs, included unchanged; data from fixtures/)."""

from __future__ import annotations

from pathlib import Path

import lm_eval
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
HARNESS_TASKS = Path(lm_eval.__file__).parent / "tasks"
ORIGINALS = {
    "arc_easy": ("arc/arc_easy.yaml", ("train", "validation", "test"), "arc"),
    "sciq": ("sciq/sciq.yaml", ("train", "validation", "test"), "sciq"),
    "gsm8k": ("gsm8k/gsm8k.yaml", ("train", "test"), "gsm8k"),
    "lambada_openai": ("lambada/lambada_openai.yaml", ("test",), "lambada"),
}


def write_local_copies(folder: Path) -> None:
    """Each original task file, included unchanged, with its hub dataset replaced by a local fixture."""
    for task, (rel, splits, stem) in ORIGINALS.items():
        files = "".join(f"    {s}: {FIXTURES / f'{stem}_{s}.jsonl'}\n" for s in splits)
        (folder / f"{task}_local.yaml").write_text(
            f"include: {HARNESS_TASKS / rel}\ntask: {task}_local\ntag: []\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n{files}"
        )


@pytest.fixture
def local_tasks(tmp_path) -> Path:
    """A task folder holding the local copies (``<task>_local``)."""
    folder = tmp_path / "tasks"
    folder.mkdir()
    write_local_copies(folder)
    return folder
