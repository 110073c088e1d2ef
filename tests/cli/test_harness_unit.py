from __future__ import annotations

import pytest

from lm_eval_mirage.cli.harness import (
    _plugin_only,
    combined_include_root,
    include_paths,
    split_add_metrics,
    unknown_task_message,
)


@pytest.fixture(scope="module")
def plugin_index():
    from lm_eval.tasks import TaskManager

    return set(TaskManager(include_path=include_paths(None)[0], include_defaults=False).all_tasks)


@pytest.mark.parametrize(
    "names, expected",
    [
        (["mirage_arith_add_1d", "mirage_paper_mul_2d"], True),
        (["mirage_arith_*"], True),
        (["mirage_arith"], True),  # a tag of the plugin
        (["*arith*"], False),  # would also match the harness's own arithmetic_* tasks
        (["arc_easy"], False),
        (["mirage_arith_add_1d", "hellaswag"], False),
        (["/some/task.yaml"], False),
        ([], False),
    ],
)
def test_builtin_index_is_skipped_only_when_it_cannot_matter(plugin_index, names, expected):
    assert _plugin_only(names, plugin_index) is expected


def test_user_include_path_comes_after_the_plugin(tmp_path):
    assert include_paths(str(tmp_path))[1] == str(tmp_path)
    assert include_paths([str(tmp_path), "/x"])[1:] == [str(tmp_path), "/x"]


def test_add_metrics_needs_a_value():
    with pytest.raises(SystemExit, match="needs a comma-separated list"):
        split_add_metrics(["run", "--add_metrics"])
    with pytest.raises(SystemExit, match="needs a comma-separated list"):
        split_add_metrics(["run", "--add_metrics", "--tasks", "x"])


def test_unknown_task_message_names_the_closest_plugin_tasks():
    msg = unknown_task_message(
        ["mirage_arith_ad_2d", "zzz"], ["mirage_arith_add_2d", "mirage_arith_add_3d", "mirage_paper_mul_2d"]
    )
    assert "\n" not in msg
    assert "mirage_arith_ad_2d (closest: mirage_arith_add_2d, mirage_arith_add_3d" in msg and "; zzz;" in msg


def test_one_include_folder_keeps_the_precedence_recipes_user_plugin(tmp_path):
    """The harness takes one --include_path: recipes beat the user's folder, which beats the plugin's."""
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._yaml_loader import load_yaml

    user = tmp_path / "user"
    (user / "sub").mkdir(parents=True)
    (user / "sub" / "mine.yaml").write_text("include: ../base.yaml_tpl\ntask: mirage_arith_add_1d\nnum_fewshot: 7\n")
    (user / "base.yaml_tpl").write_text("output_type: generate_until\n")
    root = tmp_path / "root"
    (root / "0_add_metrics").mkdir(parents=True)
    combined_include_root(root, include_paths(str(user)), recipes=root / "0_add_metrics")
    tm = TaskManager(include_path=str(root), include_defaults=False)
    assert "mirage_arith_add_2d" in tm.all_subtasks and "mirage_arith" in tm.all_tags  # the plugin's, via shims
    assert load_yaml(tm.task_index["mirage_arith_add_1d"].yaml_path)["num_fewshot"] == 7  # the user's wins
    (root / "0_add_metrics" / "r.yaml").write_text(
        f"include: {user / 'sub' / 'mine.yaml'}\ntask: mirage_arith_add_1d\nnum_fewshot: 9\n"
    )
    tm = TaskManager(include_path=str(root), include_defaults=False)
    assert load_yaml(tm.task_index["mirage_arith_add_1d"].yaml_path)["num_fewshot"] == 9  # the recipe wins


def test_misspelt_plugin_task_is_one_line_with_the_closest_names(run_main):
    proc = run_main(
        ["lm-eval-mirage", "run", "--model", "hf", "--tasks", "mirage_arith_add_2", "--limit", "1"], check=False
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line, no traceback
    assert "unknown task mirage_arith_add_2 (closest: mirage_arith_add_2d" in proc.stderr


@pytest.mark.slow
def test_misspelt_builtin_task_is_one_line_too(run_main, run_cli):
    # a plugin name is checked before the harness starts (in this process); a built-in one by the harness
    proc = run_main(
        ["lm-eval-mirage", "run", "--model", "hf", "--tasks", "mirage_arith_add_2d_l", "--limit", "1"], check=False
    )
    assert proc.returncode == 2 and "closest: mirage_arith_add_2d_ll" in proc.stderr
    proc = run_cli(["lm-eval-mirage", "run", "--model", "hf", "--tasks", "arc_eazy", "--limit", "1"], check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("lm-eval-mirage: unknown task arc_eazy")


def test_run_help_shows_the_plugin_options_first(run_main):
    proc = run_main(["lm-eval-mirage", "run", "--help"])
    head, _, harness = proc.stdout.partition("The harness's own options follow.")
    assert "--add_metrics" in head and "brier_score" in head and "token_edit_distance" in head
    for name in ("hf-mirage", "vllm-mirage", "mirage-sim", "mirage_arith_add_1d", "mirage_arith"):
        assert name in head
    assert "--model_args" in harness and "--include_path" in harness


def test_tasks_from_a_config_file_are_checked_too(tmp_path, run_main):
    config = tmp_path / "run.yaml"
    config.write_text("tasks: [mirage_arith_add_1x]\nmodel: hf\n")
    proc = run_main(["lm-eval-mirage", "run", "--config", str(config)], check=False)
    assert proc.returncode == 2 and "unknown task mirage_arith_add_1x (closest: mirage_arith_add_1d" in proc.stderr


def test_a_missing_include_path_is_a_usage_error(tmp_path, run_main):
    proc = run_main(["lm-eval-mirage", "run", "--include_path", str(tmp_path / "nope"), "--tasks", "x"], check=False)
    assert (
        proc.returncode == 2
        and proc.stderr.strip() == f"lm-eval-mirage: --include_path {tmp_path / 'nope'}: not a folder"
    )
