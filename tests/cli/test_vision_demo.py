"""``lm-eval-mirage vision-demo`` as a real subprocess, on the micro setting (seconds)."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from lm_eval_mirage.cli import vision_demo


def test_vision_demo_micro_end_to_end(run_cli, tmp_path):
    out = tmp_path / "report"
    proc = run_cli(
        ["lm-eval-mirage", "vision-demo", "--micro", "--out", str(out), "--n-boot", "50", "--formats", "png"]
    )
    assert "trained 3 autoencoders (322 to 4,192 parameters)" in proc.stdout
    for metric in ("mse", "pixel_accuracy", "reconstruction_c=1", "reconstruction_c=2", "subset_accuracy"):
        assert f"  {metric} " in proc.stdout, metric
    assert f"report: {out / 'report.md'} and {out / 'report.html'}" in proc.stdout
    assert "digits8x8: sigmoid autoencoder:" in proc.stdout  # the analysis' one-line summary
    assert "training autoencoders" in proc.stderr  # the tqdm bar
    for name in (
        "report.md",
        "report.html",
        "table.csv",
        "emergence.csv",
        "samples.csv",
        "run.json",
        "figures/digits8x8__side_by_side.png",
        "figures/digits8x8__overview.png",
    ):
        assert (out / name).is_file(), name
    assert not list(out.rglob("*.svg"))
    table = pd.read_csv(out / "table.csv")
    assert sorted(table["model"].unique()) == ["ae-w2", "ae-w32", "ae-w8"]
    assert json.loads((out / "run.json").read_text())["config"]["epochs"] == 3


def test_vision_demo_rejects_bad_arguments(run_main, tmp_path):
    proc = run_main(["lm-eval-mirage", "vision-demo", "--out", str(tmp_path), "--widths", "1,x"], check=False)
    assert proc.returncode == 2 and "expected comma-separated integers" in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing trained, nothing written


def test_help_has_runnable_examples(run_main):
    proc = run_main(["lm-eval-mirage", "vision-demo", "--help"])
    assert "lm-eval-mirage vision-demo --out" in proc.stdout and "--micro" in proc.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--micro"], {"widths": (2, 8, 32), "epochs": 3, "thresholds": (1.0, 2.0)}),
        (
            ["--micro", "--epochs", "5", "--thresholds", "0.5"],
            {"widths": (2, 8, 32), "epochs": 5, "thresholds": (0.5,)},
        ),
        (
            ["--widths", "4,1", "--seed", "7"],
            {"widths": (4, 1), "epochs": 200, "seed": 7, "thresholds": (0.1, 0.2, 0.5, 1.0)},
        ),
        (
            ["--lr", "0.01", "--tolerance", "0.0625", "--test-fraction", "0.5"],
            {"lr": 0.01, "tolerance": 0.0625, "test_fraction": 0.5},
        ),
    ],
)
def test_config_from_arguments(argv, expected):
    parser = argparse.ArgumentParser()
    vision_demo.add_arguments(parser)
    config = vision_demo._config(parser.parse_args(argv))
    for key, value in expected.items():
        assert getattr(config, key) == value, key


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--thresholds", "0"], "> 0"),
        (["--widths", "0,2"], ">= 1"),
        (["--thresholds", "a"], "numbers"),
        (["--formats", "gif"], "png, svg, pdf"),
    ],
)
def test_bad_lists_are_argparse_errors(argv, message, capsys):
    parser = argparse.ArgumentParser()
    vision_demo.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(argv)
    assert message in capsys.readouterr().err


def test_config_errors_exit_2(capsys):
    parser = argparse.ArgumentParser()
    vision_demo.add_arguments(parser)
    assert vision_demo.run(parser.parse_args(["--epochs", "0", "--out", "unused"])) == 2
    assert "epochs=0" in capsys.readouterr().err
