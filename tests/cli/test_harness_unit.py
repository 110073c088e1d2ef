from __future__ import annotations

import pytest

from lm_eval_mirage.cli.harness import _plugin_only, include_paths, split_add_metrics


@pytest.fixture(scope="module")
def paths():
    return include_paths(None)


@pytest.mark.parametrize(
    "tasks, expected",
    [
        (["mirage_arith_add_1d,mirage_paper_mul_2d"], True),
        (["mirage_arith_*"], True),
        (["mirage_arith"], True),  # a tag of the plugin
        (["*arith*"], False),  # would also match the harness's own arithmetic_* tasks
        (["arc_easy"], False),
        (["mirage_arith_add_1d", "hellaswag"], False),
        (["/some/task.yaml"], False),
        (None, False),
    ],
)
def test_builtin_index_is_skipped_only_when_it_cannot_matter(paths, tasks, expected):
    assert _plugin_only(tasks, paths) is expected


def test_user_include_path_comes_after_the_plugin(tmp_path):
    assert include_paths(str(tmp_path))[1] == str(tmp_path)
    assert include_paths([str(tmp_path), "/x"])[1:] == [str(tmp_path), "/x"]


def test_add_metrics_needs_a_value():
    with pytest.raises(SystemExit, match="needs a comma-separated list"):
        split_add_metrics(["run", "--add_metrics"])
    with pytest.raises(SystemExit, match="needs a comma-separated list"):
        split_add_metrics(["run", "--add_metrics", "--tasks", "x"])
