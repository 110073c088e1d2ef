"""Run every benchmark script, one after the other, and collect their JSON records in one folder.

Scripts run sequentially (never in parallel: they would measure each other) as subprocesses of this Python,
each with ``--record <results>/<name>.json`` (and ``--quick`` in quick mode); their lines are passed through.
A record that lacks the machine it ran on (a script not using ``_common``) gets it added here, marked
``"machine_added_by": "run_all"``. A failing script is reported and the others still run; the exit status is
1 if any failed. ``gpu.sh`` is not run here (it needs an NVIDIA GPU): see benchmarks/README.md.

    python benchmarks/run_all.py --quick                      # every script, quick mode
    python benchmarks/run_all.py --only overhead,startup      # full mode, two scripts
    python benchmarks/run_all.py --quick --readme             # then refresh the table of docs/performance.md
    python benchmarks/run_all.py --quick --readme OTHER.md    # ... or of another page with the markers
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BENCH_DIR, RESULTS_DIR, machine_info, read_record, write_record  # noqa: E402
from update_readme import PERF_PAGE  # noqa: E402
from update_readme import main as update_page  # noqa: E402

#: benchmark name -> script, in the order of the issue's figures
SCRIPTS = {
    "overhead": "overhead.py",
    "likelihood": "likelihood.py",
    "startup": "startup.py",
    "rescore": "rescore.py",
    "metrics_micro": "metrics_micro.py",
    "analyze": "analyze.py",
}


def plan(only: list[str] | None, skip: list[str]) -> list[tuple[str, Path]]:
    """The (name, script) pairs to run: known names only, scripts that exist (others are reported).

    Example:
        >>> [name for name, _ in plan(["startup", "overhead"], [])]
        ['overhead', 'startup']
    """
    unknown = [n for n in [*(only or []), *skip] if n not in SCRIPTS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(SCRIPTS)}")
    chosen = []
    for name, script in SCRIPTS.items():
        if (only and name not in only) or name in skip:
            continue
        path = BENCH_DIR / script
        if not path.is_file():
            print(f"run_all: {script} not found, skipped", file=sys.stderr)
            continue
        chosen.append((name, path))
    return chosen


def complete_record(path: Path, *, mode: str) -> None:
    """Add the machine, date and mode to a record written by a script that does not record them."""
    record = read_record(path)
    changed = False
    if not isinstance(record.get("machine"), dict):  # absent, or a bare string such as platform.machine()
        if "machine" in record:
            record["machine_raw"] = record["machine"]
        record["machine"] = machine_info()
        record["machine_added_by"] = "run_all"
        changed = True
    if "date" not in record:
        record["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(path.stat().st_mtime))
        changed = True
    if "mode" not in record:
        record["mode"] = mode
        changed = True
    if changed:
        write_record(path, record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script")
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="folder for the records (default: %(default)s)"
    )
    parser.add_argument(
        "--only", type=lambda s: [x for x in s.split(",") if x], help=f"comma-separated subset of: {', '.join(SCRIPTS)}"
    )
    parser.add_argument(
        "--skip",
        type=lambda s: [x for x in s.split(",") if x],
        default=[],
        help="comma-separated benchmarks to leave out",
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per script (default: %(default)s)")
    parser.add_argument(
        "--readme",
        "--page",
        dest="page",
        type=Path,
        nargs="?",
        const=PERF_PAGE,
        metavar="PATH",
        help=f"afterwards, refresh the performance block of this Markdown file (no PATH: {PERF_PAGE})",
    )
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    args.results.mkdir(parents=True, exist_ok=True)
    summary = []
    for name, script in plan(args.only, args.skip):
        record = args.results / f"{name}.json"
        cmd = [sys.executable, str(script), "--record", str(record), *(["--quick"] if args.quick else [])]
        print(f"== {name}: {' '.join(cmd)}", flush=True)
        start = time.perf_counter()
        try:
            status = subprocess.run(cmd, timeout=args.timeout, check=False).returncode
        except subprocess.TimeoutExpired:
            status = "timeout"
        wall = time.perf_counter() - start
        if status == 0:
            try:
                complete_record(record, mode=mode)
            except (OSError, ValueError) as exc:
                status = f"bad record: {exc}"
        summary.append((name, status, wall))
    print("== run_all summary")
    for name, status, wall in summary:
        print(f"  {name:<14} {'ok' if status == 0 else f'FAILED ({status})':<24} {wall:7.1f} s")
    failed = [name for name, status, _ in summary if status != 0]
    if args.page is not None and not failed:
        update_page(["--results", str(args.results), "--readme", str(args.page)])
    print(json.dumps({"results": str(args.results), "mode": mode, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
