"""Benchmark of ``lm-eval-mirage analyze`` at sweep scale (issue 16): CPU time per sample line, peak memory.

Simulated families in the harness layout (:func:`lm_eval_mirage.analysis.simulated_results.simulate_results`,
8 generation tasks and their 8 ``_ll`` twins: 16 samples files per model) at 64k and 512k sample lines (and
10.24M in full mode). Each figure is measured in a fresh process, after its imports: the analysis (collect,
emergence table with 1000 bootstrap replicates, fits, report without figures: ``analyze --no-plots``) and,
as the baseline of the same run on the same files, ``json.loads`` of every line and nothing else.

Figures per size: analysis CPU time per line and its ratio to ``json.loads`` (target <= 3); peak RSS (VmHWM)
and its ratio to that at the smallest size (target <= 1.5 at 512k; <= 1,500 MB at 10M); re-analysis with a
warm cache (CPU time, ratio to the first analysis); wall time with one process per core (ratio to one process).
``--baseline-src DIR`` also measures another checkout's analysis (e.g. the code before issue 16) on the same
files; ``--parsers`` adds the JSON readers compared when choosing one (us per line).

    python benchmarks/analyze.py --quick    # 64k and 512k lines
    python benchmarks/analyze.py            # and 10.24M lines (some 4 GB of samples files, minutes)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, base_parser, make_record, print_figures, write_record  # noqa: E402

#: size label -> (models, problems per task); 16 samples files per model
SIZES = {"64k": (4, 1000), "512k": (16, 2000), "10M": (64, 10000)}
TASKS = {f"bench_arith_{i}": (2 + i % 4, 3 + i % 4) for i in range(8)}

_CHILD = r"""
import glob, json, os, resource, sys, time
mode, folder, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
files = sorted(glob.glob(os.path.join(folder, "*", "samples_*.jsonl")))
lines = 0
if mode == "json_loads":
    loads = json.loads
    t, c = time.perf_counter(), time.process_time()
    for f in files:
        with open(f, "rb") as fh:
            for raw in fh:
                loads(raw.decode("utf-8")); lines += 1
    wall, cpu = time.perf_counter() - t, time.process_time() - c
elif mode == "parsers":
    import msgspec, orjson
    from lm_eval_mirage.analysis.sample_arrays import read_samples
    sample = []
    for f in files[:32]:
        with open(f, "rb") as fh:
            sample.extend(fh.readlines())
    def clock(fn):
        c = time.process_time(); fn(); return (time.process_time() - c) * 1e6 / len(sample)
    out = {"json.loads": clock(lambda: [json.loads(r.decode()) for r in sample]),
           "orjson.loads": clock(lambda: [orjson.loads(r) for r in sample]),
           "msgspec (any)": clock(lambda: [msgspec.json.decode(r) for r in sample])}
    try:
        import pyarrow.json as pj, io
        blob = b"".join(sample)
        out["pyarrow read_json"] = clock(lambda: pj.read_json(io.BytesIO(blob)))
    except ImportError:
        pass
    c = time.process_time()
    n = 0
    for f in files[:32]:
        m = ["exact_match", "token_edit_distance", "normalized_edit_distance", "digit_accuracy"] if "_ll_" not in f else ["greedy_exact_match", "target_logprob", "target_prob", "per_token_logprob", "per_token_prob", "target_tokens"]
        n += read_samples(f, m).lines
    out["read_samples (msgspec struct)"] = (time.process_time() - c) * 1e6 / n
    print(json.dumps({"parsers": out}))
    sys.exit(0)
else:
    import argparse
    import lm_eval_mirage.analysis.collect, lm_eval_mirage.analysis.report, lm_eval_mirage.analysis.plots  # noqa: F401
    from lm_eval_mirage.cli import analyze
    p = argparse.ArgumentParser(); analyze.add_arguments(p)
    args = p.parse_args([folder, "--out", extra["out"], "--no-plots", "--quiet", *extra["args"]])
    for f in files:
        with open(f, "rb") as fh:
            lines += sum(1 for _ in fh)
    import contextlib, io
    t, c = time.perf_counter(), time.process_time()
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    with contextlib.redirect_stdout(io.StringIO()):
        status = analyze.run(args)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu += (after.ru_utime - kids.ru_utime) + (after.ru_stime - kids.ru_stime)
    assert status == 0, status
with open("/proc/self/status") as fh:
    rss = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
import lm_eval_mirage
src = os.path.dirname(os.path.dirname(os.path.abspath(lm_eval_mirage.__file__)))
print(json.dumps({"lines": lines, "wall": wall, "cpu": cpu, "rss_mb": rss, "src": src}))
"""


def make_family(folder: Path, size: str) -> Path:
    """The simulated family of ``size`` in ``folder/size`` (reused when complete)."""
    from lm_eval_mirage.analysis.simulated_results import simulate_results

    n_models, n_problems = SIZES[size]
    target = folder / size
    done = target / "complete.json"
    if done.is_file() and json.loads(done.read_text()) == [n_models, n_problems]:
        return target
    models = {f"sim/bench-{i:03d}": 1e8 * 1.35**i for i in range(n_models)}
    simulate_results(target, models=models, tasks=TASKS, n_problems=n_problems, logprob_noise=0.1, seed=0)
    done.write_text(json.dumps([n_models, n_problems]))
    return target


def measure(mode: str, folder: Path, extra: dict, *, src: Path | None = None, repeat: int = 1) -> dict:
    """Best (least CPU) of ``repeat`` fresh processes."""
    src = (src or Path(__file__).resolve().parents[1]).resolve()
    env = dict(os.environ, PYTHONPATH=str(src), TQDM_DISABLE="1")
    runs = []
    for _ in range(repeat):  # cwd: the checkout measured (python -c puts the working folder first on sys.path)
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, mode, str(folder), json.dumps(extra)],
            capture_output=True,
            text=True,
            env=env,
            cwd=src,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{mode} {folder} failed:\n{proc.stderr[-4000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        assert runs[-1].get("src", str(src)) == str(src), (runs[-1], src)
    return min(runs, key=lambda r: r.get("cpu", 0))


def main(argv: list[str] | None = None) -> int:
    parser = base_parser("analyze", __doc__)
    parser.add_argument(
        "--workdir", type=Path, help="where the simulated families are written (default: a temporary folder)"
    )
    parser.add_argument("--sizes", help=f"comma-separated subset of {', '.join(SIZES)}")
    parser.add_argument(
        "--baseline-src", type=Path, help="also measure the analysis of this checkout (e.g. main before issue 16)"
    )
    parser.add_argument("--parsers", action="store_true", help="also time the JSON readers (us per line)")
    parser.add_argument("--repeat", type=int, default=1, help="fresh processes per figure, best kept (default: 1)")
    args = parser.parse_args(argv)
    sizes = args.sizes.split(",") if args.sizes else (["64k", "512k"] if args.quick else list(SIZES))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="analyze-bench-"))
    start = time.perf_counter()
    figures: list[Figure] = []
    notes = [f"load average at start {os.getloadavg()}"]
    first_rss = None
    cores = len(os.sched_getaffinity(0))
    for size in sizes:
        folder = make_family(workdir, size)
        out = Path(tempfile.mkdtemp(prefix="out-", dir=workdir)) / "report"
        cache = Path(tempfile.mkdtemp(prefix="cache-", dir=workdir))
        base = measure("json_loads", folder, {}, repeat=args.repeat)
        cold = measure("analyze", folder, {"out": str(out), "args": ["--jobs", "1", "--cache", str(cache)]}, repeat=1)
        warm = measure(
            "analyze", folder, {"out": str(out), "args": ["--jobs", "1", "--cache", str(cache)]}, repeat=args.repeat
        )
        par = measure("analyze", folder, {"out": str(out), "args": ["--jobs", str(cores), "--no-cache"]}, repeat=1)
        n = base["lines"]
        assert cold["lines"] == n, (cold, base)
        first_rss = first_rss or cold["rss_mb"]
        per = 1e6 / n
        figures += [
            Figure(
                f"json_loads_cpu_per_line_{size}",
                base["cpu"] * per,
                "us/line",
                1.0,
                baseline="json.loads of each line only",
                description=f"json.loads of the {n:,} sample lines, nothing else",
            ),
            Figure(
                f"analyze_cpu_per_line_{size}",
                cold["cpu"] * per,
                "us/line",
                cold["cpu"] / base["cpu"],
                baseline="json.loads of each line only",
                target="<= 3",
                meets_target=cold["cpu"] / base["cpu"] <= 3,
                headline=size != "64k",
                description=f"analyze --no-plots --jobs 1, {n:,} lines, CPU time after imports",
            ),
            Figure(
                f"analyze_peak_rss_{size}",
                cold["rss_mb"],
                "MB",
                cold["rss_mb"] / first_rss,
                baseline=f"analyze peak RSS at {sizes[0]}",
                target="<= 1500 MB" if size == "10M" else ("<= 1.5" if size != sizes[0] else None),
                meets_target=(cold["rss_mb"] <= 1500)
                if size == "10M"
                else (cold["rss_mb"] / first_rss <= 1.5 if size != sizes[0] else None),
                headline=True,
                description=f"VmHWM of the analysis process, {n:,} lines",
            ),
            Figure(
                f"analyze_cached_cpu_{size}",
                warm["cpu"],
                "s cpu",
                warm["cpu"] / cold["cpu"],
                baseline="first analysis (cache filled)",
                headline=size == sizes[-1],
                description="re-analysis of unchanged files: arrays from the cache (content hashes checked)",
            ),
            Figure(
                f"analyze_jobs_{cores}_wall_{size}",
                par["wall"],
                "s",
                par["wall"] / cold["wall"],
                baseline="wall time with --jobs 1",
                description=f"--jobs {cores} --no-cache (load {os.getloadavg()[0]:.1f})",
            ),
        ]
        if args.baseline_src and size != "10M":
            old = measure("analyze", folder, {"out": str(out), "args": []}, src=args.baseline_src, repeat=1)
            figures += [
                Figure(
                    f"before_analyze_cpu_per_line_{size}",
                    old["cpu"] * per,
                    "us/line",
                    old["cpu"] / base["cpu"],
                    baseline="json.loads of each line only",
                    description=f"the analysis of {args.baseline_src}",
                ),
                Figure(
                    f"before_analyze_peak_rss_{size}",
                    old["rss_mb"],
                    "MB",
                    old["rss_mb"] / cold["rss_mb"],
                    baseline="this analysis, same size",
                    description=f"the analysis of {args.baseline_src}",
                ),
            ]
        print_figures(figures[-7:] if args.baseline_src and size != "10M" else figures[-5:])
    if args.parsers:
        found = measure("parsers", make_family(workdir, sizes[0]), {})
        for name, us in found["parsers"].items():
            figures.append(
                Figure(f"parser {name}", us, "us/line", us / found["parsers"]["json.loads"], baseline="json.loads")
            )
        print_figures(figures[-len(found["parsers"]) :])
    notes.append(f"load average at end {os.getloadavg()}")
    record = make_record(
        "analyze",
        figures,
        mode="quick" if args.quick else "full",
        wall_seconds=time.perf_counter() - start,
        params={"sizes": {s: SIZES[s] for s in sizes}, "tasks": len(TASKS) * 2, "workdir": str(workdir)},
        notes=notes,
    )
    print(f"record: {write_record(args.record, record)}  ({'; '.join(notes)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
