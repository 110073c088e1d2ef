"""Render the performance table (docs/performance.md) from the benchmark records; no number is typed by hand.

Reads every ``*.json`` record in a results folder (``run_all.py`` writes them to ``benchmarks/results/``),
groups them by the machine they ran on, and replaces the text between ``<!-- perf:start -->`` and
``<!-- perf:end -->`` in a Markdown page (default ``docs/performance.md``; ``--readme PATH`` names any other
file holding the markers), written atomically. Records of other scripts are accepted as long as they hold
``benchmark`` and ``figures`` (``name``, ``value``, ``unit``, optional ``ratio_vs_baseline``, ``baseline``,
``target``, ``meets_target``, ``noise``, ``headline``); known older layouts are adapted.

    python benchmarks/update_readme.py                             # replace the block of docs/performance.md
    python benchmarks/update_readme.py --readme OTHER.md           # ... of another page with the markers
    python benchmarks/update_readme.py --print                     # show the block only
    python benchmarks/update_readme.py --check                     # exit 1 if the page is not up to date
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, format_value, read_record  # noqa: E402

__all__ = ["START", "END", "PERF_PAGE", "load_records", "normalize", "machine_summary", "render", "replace_block"]

#: the page that holds the table; the README links to it
PERF_PAGE = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
START = "<!-- perf:start -->"
END = "<!-- perf:end -->"

#: the issue's figure number of each benchmark (likelihood holds two: by figure name)
FIGURE_OF_BENCHMARK = {"overhead": 1, "likelihood": 2, "startup": 4, "rescore": 5, "metrics_micro": 6, "analyze": 8}
FIGURE_OF_NAME = {"hf_loglikelihood": 3, "hf_mirage_vs_hf": 3}
#: rows shown for records whose figures carry no ``headline`` flag
FALLBACK_HEADLINES = {"rescore": ("rescore_samples_per_s", "rescore_samples_per_s_wall", "rescore_peak_rss")}
RESCORE_RATES = ("rescore_samples_per_s", "rescore_samples_per_s_wall")
#: short labels for the table (the JSON keeps the full description)
LABELS = {
    "gen_suite_plugin_metrics": "generation suite with the plugin's metrics",
    "plugin_metric_functions_share": "time in the plugin's metric functions",
    "ll_suite_speedup": "`_ll` suite vs generation suite (speed-up)",
    "ll_model_speedup": "`_ll` vs generation, model time only (speed-up)",
    "hf_mirage_vs_hf": "`hf-mirage` vs stock `hf`, same requests",
    "import_lm_eval_mirage": "`import lm_eval_mirage`",
    "ls_tasks_lm_eval_mirage": "`lm-eval-mirage ls tasks`",
    "plugin_startup_increment": "plugin's own start-up increment",
    "suite_data_generation": "generating all 32 tasks' data",
    "rescore_samples_per_s": "re-scoring throughput, one core (CPU time)",
    "rescore_samples_per_s_wall": "re-scoring throughput, one core (wall time)",
    "rescore_peak_rss": "re-scoring peak memory",
    "token_edit_distance_20d": "token edit distance, 20-digit answers",
    "ll_process_results_21tok": "`_ll` per-sample metrics, 21 tokens",
    "brier_score_4choices": "Brier score, 4 choices",
    **{
        f"analyze_cpu_per_line_{size}": f"`analyze` CPU per sample line, {size} lines"
        for size in ("64k", "512k", "10M")
    },
    **{f"analyze_peak_rss_{size}": f"`analyze` peak memory, {size} lines" for size in ("64k", "512k", "10M")},
    **{f"analyze_cached_cpu_{size}": f"`analyze` again, cached, {size} lines" for size in ("64k", "512k", "10M")},
}


def load_records(folder: str | Path) -> list[dict[str, Any]]:
    """Every record in ``folder`` (sorted by file name), normalized; an error names a bad file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"--results: {folder} is not a folder; run benchmarks/run_all.py first")
    records = []
    for path in sorted(folder.glob("*.json")):
        record = normalize(read_record(path))
        record["_file"] = path.name
        records.append(record)
    if not records:
        raise SystemExit(f"--results: no *.json records in {folder}")
    return records


def normalize(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with figure numbers, headline flags and targets filled in where it lacks them.

    Example:
        >>> r = normalize({"benchmark": "rescore", "target_samples_per_s": 50000, "meets_target": True,
        ...                "figures": [{"name": "rescore_samples_per_s", "value": 6e4, "unit": "samples/s"},
        ...                            {"name": "json_loads_only_baseline", "value": 1e5, "unit": "samples/s"}]})
        >>> [(f["name"], f["figure"], f["headline"], f.get("target"), f.get("meets_target")) for f in r["figures"]]
        [('rescore_samples_per_s', 5, True, '>= 50,000', True), ('json_loads_only_baseline', 5, False, None, None)]
    """
    record = copy.deepcopy(record)
    if "machine" in record and not isinstance(
        record["machine"], dict
    ):  # e.g. platform.machine(): not the machine record
        record["machine_raw"] = record.pop("machine")
    bench = record["benchmark"]
    figures = record["figures"]
    flagged = any("headline" in f for f in figures)
    fallback = FALLBACK_HEADLINES.get(bench)
    for fig in figures:
        if fig.get("figure") is None:
            fig["figure"] = FIGURE_OF_NAME.get(fig["name"], FIGURE_OF_BENCHMARK.get(bench))
        if not flagged:
            fig["headline"] = fig["name"] in fallback if fallback is not None else True
    if bench == "rescore":  # rescore.py keeps its target at the top level
        target = record.get("target_samples_per_s")
        for fig in figures:
            if fig["name"] in RESCORE_RATES and fig.get("target") is None and isinstance(target, (int, float)):
                fig["target"] = f">= {target:,}"
                # the record's own verdict where it gives one, else value against target (both from the record)
                verdict = record.get(
                    "meets_target_wall_time" if fig["name"].endswith("_wall") else "meets_target_cpu_time",
                    record.get("meets_target"),
                )
                fig["meets_target"] = bool(fig["value"] >= target) if verdict is None else verdict
            if fig["name"].startswith("rescore") and not fig.get("baseline"):
                fig["baseline"] = "json.loads of each line only"
    return record


def machine_summary(machine: dict[str, Any] | None, loads: Sequence[float] = ()) -> str:
    """One line: CPU, cores, load (``loads``: the 1-minute loads of all runs, else the machine's), GPU, versions.

    Example:
        >>> machine_summary({"cpu_model": "Xeon", "cpu_cores": 2, "cpu_cores_usable": 2, "load_average": [5.5, 5, 4],
        ...                  "gpu": None, "python": "3.11.7", "versions": {"torch": "2.13.0", "lm_eval": "0.4.13"}})
        'Xeon, 2 cores (load 5.5 while measured); Python 3.11.7, torch 2.13.0, lm_eval 0.4.13'
    """
    if not machine:
        return "machine not recorded"
    usable, total = machine.get("cpu_cores_usable"), machine.get("cpu_cores")
    cores = f"{total} cores" if usable in (None, total) else f"{usable} of {total} cores"
    text = f"{machine.get('cpu_model', 'unknown CPU')}, {cores}"
    if not loads and machine.get("load_average"):
        loads = [machine["load_average"][0]]
    if loads:
        low, high = min(loads), max(loads)
        text += f" (load {low:g} while measured)" if low == high else f" (load {low:g} to {high:g} while measured)"
    gpu = machine.get("gpu")
    if gpu:
        text += f", GPU {gpu.get('name')}" + (f" ({gpu['memory_gib']:g} GiB)" if gpu.get("memory_gib") else "")
    versions = ", ".join(f"{k} {v}" for k, v in (machine.get("versions") or {}).items() if v)
    text += f"; Python {machine.get('python', '?')}" + (f", {versions}" if versions else "")
    return text


def _machine_key(machine: dict[str, Any] | None) -> tuple:
    if not machine:
        return ("",)
    gpu = machine.get("gpu") or {}
    return (machine.get("cpu_model"), machine.get("cpu_cores"), gpu.get("name"))


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _verdict(fig: dict[str, Any]) -> str:
    if fig.get("target") is None:
        return ""
    return {True: "met", False: "**missed**"}.get(fig.get("meets_target"), "within noise: not judged")


def _rows(records: Iterable[dict[str, Any]], include_all: bool) -> list[tuple[int, str, str]]:
    rows = []
    for record in records:
        for fig in record["figures"]:
            if not (include_all or fig.get("headline")):
                continue
            ratio = fig.get("ratio_vs_baseline")
            label = LABELS.get(fig["name"], fig["name"])
            cells = [
                str(fig.get("figure") or ""),
                f"{label} (`{fig['name']}`)" if label != fig["name"] else f"`{fig['name']}`",
                f"{format_value(fig['value'])} {fig['unit']}",
                "" if ratio is None else format_value(ratio),
                fig.get("baseline") or "",
                fig.get("target") or "",
                _verdict(fig),
                fig.get("noise") or "",
            ]
            rows.append(
                (int(fig.get("figure") or 99), record["benchmark"], "| " + " | ".join(_cell(c) for c in cells) + " |")
            )
    return sorted(rows, key=lambda r: (r[0], r[1]))


def render(records: Sequence[dict[str, Any]], *, include_all: bool = False) -> str:
    """The Markdown block: per machine, one line naming it and the runs, then the table."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(_machine_key(record.get("machine")), []).append(record)
    parts = [
        "<!-- generated by benchmarks/update_readme.py from benchmarks/results/*.json; edit those, not this block -->"
    ]
    for recs in groups.values():
        machine = recs[0].get("machine")
        loads = [r["machine"]["load_average"][0] for r in recs if (r.get("machine") or {}).get("load_average")]
        runs = ", ".join(f"{r['benchmark']} ({r.get('mode', '?')}, {str(r.get('date', '?'))[:10]})" for r in recs)
        title = "GPU (figure 7)" if machine and machine.get("gpu") else "CPU"
        parts.append(f"**{title}: {_cell(machine_summary(machine, loads))}.** Runs: {runs}.")
        parts.append("")
        parts.append("| # | figure | measured | ratio | baseline (same run) | target | verdict | noise |")
        parts.append("|---|---|---|---|---|---|---|---|")
        parts.extend(row for _, _, row in _rows(recs, include_all))
        parts.append("")
    return "\n".join(parts).rstrip("\n")


def replace_block(text: str, block: str, *, where: str = "the page") -> str:
    """``text`` with everything between the markers replaced by ``block`` (markers kept).

    Example:
        >>> replace_block("a\\n<!-- perf:start -->\\nold\\n<!-- perf:end -->\\nb", "new")
        'a\\n<!-- perf:start -->\\nnew\\n<!-- perf:end -->\\nb'
    """
    starts, ends = text.count(START), text.count(END)
    if starts != 1 or ends != 1:
        raise ValueError(
            f"{where}: expected exactly one {START} and one {END}, found {starts} and {ends}; add them where the table goes"
        )
    head, rest = text.split(START)
    if END not in rest:
        raise ValueError(f"{where}: {END} comes before {START}")
    _, tail = rest.split(END)
    return f"{head}{START}\n{block}\n{END}{tail}"


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--results", type=Path, default=RESULTS_DIR, help="folder of JSON records (default: %(default)s)"
    )
    parser.add_argument(
        "--readme",
        "--page",
        dest="page",
        type=Path,
        default=PERF_PAGE,
        metavar="PATH",
        help="the Markdown file holding the markers (default: %(default)s)",
    )
    parser.add_argument("--all", action="store_true", help="every figure, not only the headline ones")
    parser.add_argument("--print", action="store_true", help="print the block instead of writing it")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page's block differs from the records")
    args = parser.parse_args(argv)
    block = render(load_records(args.results), include_all=args.all)
    if args.print:
        print(block)
        return 0
    page = args.page
    try:
        old = page.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"--readme: cannot read {page} ({exc})") from exc
    try:
        new = replace_block(old, block, where=str(page))
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    if args.check:
        if new != old:
            print(
                f"{page}: the performance block is out of date; run benchmarks/update_readme.py --readme {page}",
                file=sys.stderr,
            )
            return 1
        return 0
    if new != old:
        _write_atomic(page, new)
    print(f"{page}: performance block {'updated' if new != old else 'already up to date'} from {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
