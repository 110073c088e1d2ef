from __future__ import annotations

import fnmatch
from pathlib import Path

from lm_eval_mirage.tasks import configs, tasks_path


def test_checked_in_task_files_match_the_generator():
    rendered = configs.render()
    on_disk = {p.name: p.read_text() for p in configs.FOLDER.glob("mirage_*.yaml")}
    assert on_disk == rendered, "run `python -m lm_eval_mirage.tasks.configs` and commit the result"


def test_every_operation_and_digit_count_has_a_task():
    names = {t.name for t in configs.task_defs()}
    for op in ("add", "sub", "mul"):
        for n in range(1, 11):
            assert f"mirage_arith_{op}_{n}d" in names
    assert {"mirage_paper_mul_2d", "mirage_paper_add_4d"} <= names


def test_index_has_tasks_and_tags_and_the_glob_has_no_duplicates():
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=tasks_path(), include_defaults=False)
    assert {"mirage_arith", "mirage_arith_add", "mirage_arith_sub", "mirage_arith_mul", "mirage_paper"} <= set(
        tm.all_tags
    )
    matched = tm.match_tasks(["mirage_arith_*"])
    # No group (only tags) matches, so the harness cannot raise its duplicate-task error.
    assert not set(matched) & set(tm.all_groups)
    gen = [m for m in matched if fnmatch.fnmatch(m, "mirage_arith_*_*d")]
    assert len(gen) == 30


def test_template_is_not_indexed_as_a_task():
    assert not any(p.suffix == ".yaml" for p in Path(configs.FOLDER).glob("_*"))


def test_template_metadata_carries_the_generator_data_version():
    import yaml

    from lm_eval_mirage.tasks.arithmetic import DATA_VERSION

    for base in ("_arith_gen_yaml", "_arith_ll_yaml"):
        text = (configs.FOLDER / base).read_text().split("metadata:", 1)[1]
        metadata = yaml.safe_load("metadata:" + text)["metadata"]
        assert metadata["data_version"] == DATA_VERSION, base
        assert metadata["version"] == 2.0, f"{base}: bump metadata.version with the data (CHANGELOG.md)"
