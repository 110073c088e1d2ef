"""Sweep file loading: the pydantic validator (``lm_eval_mirage.sweep.config``) against the hand-written one it
replaced (the same module at ``--baseline-rev``, read from git), side by side in one run, alternated, medians.

- ``load_sweep`` (read + validate; the new one reads with libyaml when present) and ``parse_sweep`` (the
  validator alone, on the same parsed data) on the recorded multi-GPU sweep of the tests (5 models, 2 revisions) and on a large one
  (40 models x 154 revisions from ranges, 10 tasks: 6,160 jobs), in-process, after a warm-up call;
- the import of the module in a fresh interpreter (the new one brings pydantic; the CLI pays it once).

    python benchmarks/sweep_config.py --quick
    python benchmarks/sweep_config.py --record /tmp/sweep_config.json
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Figure,
    alternated,
    base_parser,
    make_record,
    median,
    print_figures,
    relative_spread,
    run_child,
    write_record,
)  # noqa: E402

BENCHMARK = "sweep_config"
ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "sweep" / "data" / "multi_gpu.yaml"


def baseline_module(rev: str, folder: Path):
    """The hand-written validator of ``rev``, imported from a copy (it needs only yaml and the standard library)."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:lm_eval_mirage/sweep/config.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = folder / "baseline_sweep_config.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("baseline_sweep_config", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module, path


def large_sweep(folder: Path) -> Path:
    import yaml

    models = [
        {
            "name": f"m{i}",
            "path": f"org/model-{i}",
            "params": 10**6 * (i + 1),
            "model_args": {"dtype": "float16"},
            "revisions": [{"format": "step{}", "start": 1000, "stop": 154000, "step": 1000}],
        }
        for i in range(40)
    ]
    data = {
        "name": "large",
        "output": "out",
        "tasks": [f"task_{i}" for i in range(10)],
        "harness": {"num_fewshot": 2, "batch_size": "auto"},
        "resources": {"gpus": 1, "cpus": 8, "mem_gb": 64, "time_min": 240, "slurm": {"qos": "normal"}},
        "models": models,
    }
    path = folder / "large.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def main() -> int:
    parser = base_parser(BENCHMARK, __doc__)
    parser.add_argument(
        "--baseline-rev", default="847d13d", help="git revision with the hand-written validator (default 847d13d)"
    )
    parser.set_defaults(record=None)  # a record only when asked (--record PATH): not one of the README figures
    args = parser.parse_args()
    repeats = 5 if args.quick else 21
    import yaml

    from lm_eval_mirage.sweep import config as new

    started = time.perf_counter()
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        old, old_path = baseline_module(args.baseline_rev, Path(tmp))
        for label, sweep in (("small", SMALL), ("large", large_sweep(Path(tmp)))):
            assert (
                new.load_sweep(sweep).models[0].revisions == old.load_sweep(sweep).models[0].revisions
            )  # same result, warmed up
            data = yaml.safe_load(sweep.read_text(encoding="utf-8"))
            kwargs = {"base_dir": sweep.parent, "source": sweep}
            for what, fn_new, fn_old in (
                ("load_sweep", lambda: new.load_sweep(sweep), lambda: old.load_sweep(sweep)),
                ("parse_sweep", lambda: new.parse_sweep(data, **kwargs), lambda: old.parse_sweep(data, **kwargs)),
            ):
                runs = alternated({"new": lambda: run_timed(fn_new), "old": lambda: run_timed(fn_old)}, repeats)
                value, base = median(runs["new"]), median(runs["old"])
                figures.append(
                    Figure(
                        f"{what}_{label}",
                        value * 1e3,
                        "ms",
                        value / base,
                        baseline="hand-written validator, same file",
                        noise=f"spread {relative_spread(runs['new']):.0%}/{relative_spread(runs['old']):.0%}",
                    )
                )
        # both import the package first (lm_eval_mirage/__init__ registers with the harness): the difference is the validator's
        import_new = [sys.executable, "-c", "import lm_eval_mirage; import lm_eval_mirage.sweep.config"]
        import_old = [sys.executable, "-c", f"import lm_eval_mirage; import runpy; runpy.run_path({str(old_path)!r})"]
        runs = alternated(
            {"new": lambda: run_child(import_new)["wall"], "old": lambda: run_child(import_old)["wall"]},
            max(3, repeats // 3),
        )
        value, base = median(runs["new"]), median(runs["old"])
        figures.append(
            Figure(
                "import_sweep_config",
                value * 1e3,
                "ms",
                value / base,
                baseline="hand-written validator's import (fresh interpreter, package imported in both)",
            )
        )
    print_figures(figures)
    if args.record:
        write_record(
            args.record,
            make_record(
                BENCHMARK,
                figures,
                mode="quick" if args.quick else "full",
                params={"baseline_rev": args.baseline_rev},
                wall_seconds=time.perf_counter() - started,
            ),
        )
    return 0


def run_timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    raise SystemExit(main())
