"""Why a job failed and whether to retry it, read from its log (lm_eval_mirage/sweep/failure.py).

``data/failed_job.err`` is the stderr log of a real job: ``lm-eval-mirage sweep --executor local`` on a model
path that does not exist, two tasks (lm-eval 0.4.13, transformers 5; recorded for these tests).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lm_eval_mirage.sweep.failure import failure_cause, is_deterministic, read_log_tail

LOG = (Path(__file__).parent / "data" / "failed_job.err").read_text(encoding="utf-8")
FOLDER = "__tmp__h3fail__no-such-model"
TASKS = ["mirage_arith_add_1d", "mirage_arith_sub_1d"]


def test_the_cause_is_the_harness_error_not_submitits_wrapper():
    assert failure_cause(LOG) == (
        "OSError: Repo id must be in the form 'repo_name' or 'namespace/repo_name': '/tmp/h3fail/no-such-model'. "
        "Use `repo_type` argument if needed."
    )


def test_a_bad_model_path_is_deterministic():
    assert is_deterministic(LOG, FOLDER, TASKS)


@pytest.mark.parametrize(
    "change",
    [
        lambda log: log.replace("OSError: Repo id", "torch.OutOfMemoryError: CUDA out of memory. Repo id"),
        lambda log: log.replace(
            "the harness exited 1\nsubmitit", "the harness exited -9\nsubmitit"
        ),  # killed by a signal
        lambda log: log.replace("OSError: Repo id", "requests.exceptions.ConnectionError: Connection reset. Repo id"),
        lambda log: log.replace("OSError: Repo id", "huggingface_hub.errors.HfHubHTTPError: 503 Server Error. Repo id"),
        lambda log: (
            log.split("submitit ERROR")[0]
            + "slurmstepd: error: *** JOB 5 ON n1 CANCELLED AT 10:00 DUE TO TIME LIMIT ***\n"
        ),
        lambda log: log[: log.index("[sweep 09:29:53]")],  # killed before the second task was reported
    ],
)
def test_transient_or_unfinished_failures_are_retried(change):
    assert not is_deterministic(change(LOG), FOLDER, TASKS)


def test_only_the_missing_tasks_matter_and_only_this_folders_lines():
    assert is_deterministic(LOG, FOLDER, TASKS[1:])
    assert not is_deterministic(LOG, "other-folder", TASKS)
    assert not is_deterministic(LOG, FOLDER, [*TASKS, "mirage_arith_mul_1d"])
    assert not is_deterministic(LOG, FOLDER, [])


def test_a_log_without_an_error_line_falls_back_to_the_step_line_or_none():
    assert (
        failure_cause("[sweep 10:00:00] m t: FAILED: no samples file for task 't'\n")
        == "[sweep 10:00:00] m t: FAILED: no samples file for task 't'"
    )
    assert failure_cause("all fine\n") is None and failure_cause("") is None
    assert len(failure_cause("ValueError: " + "x" * 1000)) == 300


def test_read_log_tail_reads_only_the_end_and_survives_missing_files(tmp_path):
    path = tmp_path / "log.err"
    path.write_bytes(b"start\n" + b"x" * 5000 + b"\n\xff\xfeValueError: end\n")
    assert read_log_tail(path, max_bytes=100).endswith("ValueError: end\n") and "start" not in read_log_tail(
        path, max_bytes=100
    )
    assert read_log_tail(tmp_path / "missing") == "" and read_log_tail(None) == ""
