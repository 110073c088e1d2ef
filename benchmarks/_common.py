"""Shared helpers of the benchmark scripts: timing, the printed line, the JSON record, the machine.

Every script prints one line per figure::

    name  value  unit  ratio_vs_baseline=R  [target ..., met|MISSED]  (noise ...)

and writes one JSON record (schema below) that ``update_readme.py`` renders into the table of docs/performance.md, so no
number is ever typed by hand. Records written by other scripts (``rescore.py``, ``likelihood.py``) follow
the same core: ``{"benchmark": str, "figures": [{"name", "value", "unit", "ratio_vs_baseline"}, ...]}``;
the other keys are optional.

Record schema (version 1)::

    {"schema": 1, "benchmark": "overhead", "mode": "quick" | "full", "date": "2026-...Z",
     "machine": {...machine_info()...}, "params": {...}, "wall_seconds": 41.2,
     "figures": [{"name": ..., "value": ..., "unit": ..., "ratio_vs_baseline": ... | null,
                  "baseline": "what the ratio divides by", "target": "< 1.02" | null,
                  "meets_target": true | false | null, "noise": "..." | null, "figure": 1,
                  "headline": true, "description": "..."}]}

Only the standard library is imported at module level (``update_readme.py`` and the tests use this module
without torch or lm_eval).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "BENCH_DIR",
    "RESULTS_DIR",
    "SCHEMA_VERSION",
    "Figure",
    "alternated",
    "base_parser",
    "format_line",
    "format_value",
    "judge_below",
    "machine_info",
    "make_record",
    "median",
    "offline_env",
    "package_versions",
    "print_figures",
    "quiet_env",
    "read_record",
    "relative_spread",
    "run_child",
    "silence_loggers",
    "timed",
    "write_record",
]

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SCHEMA_VERSION = 1

T = TypeVar("T")


@dataclass
class Figure:
    """One measured figure: a value and its ratio against a baseline measured in the same run."""

    name: str
    value: float
    unit: str
    ratio_vs_baseline: float | None = None
    baseline: str | None = None
    target: str | None = None
    meets_target: bool | None = None
    noise: str | None = None
    figure: int | None = None
    headline: bool = False
    description: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if not data["extra"]:
            data.pop("extra")
        return data


def format_value(value: float | int | None) -> str:
    """Four significant digits, thousands separated; ``None`` and NaN print as ``n/a``.

    Example:
        >>> [format_value(v) for v in (1234567.8, 12.3456, 0.000123456, 0, None)]
        ['1,234,568', '12.35', '0.0001235', '0', 'n/a']
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= 3:
        return f"{value:,.0f}"
    decimals = max(0, 3 - magnitude)
    return f"{value:.{decimals}f}"


def format_line(fig: Figure) -> str:
    """The printed line of one figure: ``name value unit ratio_vs_baseline=R`` plus target and noise.

    Example:
        >>> format_line(Figure("edit_distance_20d", 1.234, "us/sample", 0.5, target="< 5", meets_target=True))
        'edit_distance_20d                           1.234 us/sample   ratio_vs_baseline=0.5000  [target < 5: met]'
    """
    ratio = "n/a" if fig.ratio_vs_baseline is None else format_value(fig.ratio_vs_baseline)
    line = f"{fig.name:<36} {format_value(fig.value):>12} {fig.unit:<11} ratio_vs_baseline={ratio}"
    if fig.target is not None:
        verdict = {True: "met", False: "MISSED", None: "not judged"}[fig.meets_target]
        line += f"  [target {fig.target}: {verdict}]"
    if fig.noise:
        line += f"  (noise: {fig.noise})"
    return line


def print_figures(figures: Iterable[Figure], file=None) -> None:
    for fig in figures:
        print(format_line(fig), file=file or sys.stdout, flush=True)


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence.

    Example:
        >>> median([3.0, 1.0, 2.0, 10.0])
        2.5
    """
    if not values:
        raise ValueError("median: values is empty; need at least one measurement")
    return float(statistics.median(values))


def relative_spread(values: Sequence[float]) -> float:
    """Half the range of ``values`` over their median: a plain, pessimistic noise figure.

    Example:
        >>> relative_spread([0.9, 1.0, 1.1])
        0.1
    """
    mid = median(values)
    if mid == 0:
        return float("nan")
    return round((max(values) - min(values)) / 2 / abs(mid), 12)


def judge_below(ratios: Sequence[float], limit: float) -> bool | None:
    """Judge a target "ratio < limit" from paired ratios: True if every round is below, False if every round
    is at or above, None ("within noise", not judged) when the rounds disagree.

    Example:
        >>> judge_below([1.01, 0.99], 1.02), judge_below([1.03, 1.05], 1.02), judge_below([0.95, 1.06], 1.02)
        (True, False, None)
    """
    if not ratios:
        raise ValueError("judge_below: ratios is empty; need at least one paired measurement")
    if all(r < limit for r in ratios):
        return True
    if all(r >= limit for r in ratios):
        return False
    return None


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """``(seconds, result)`` of one call, wall clock (``time.perf_counter``)."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run_child(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 600) -> dict[str, float]:
    """Run ``cmd`` to completion (output discarded); ``{"wall": s, "cpu": s}`` (the child's user + system time).

    The child's CPU time counts its own work only, so it moves far less than wall time when other jobs share
    the machine. Raises with the command's error output when it fails.
    """
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stderr[-4000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu}


def alternated(
    variants: Mapping[str, Callable[[], T]], repeats: int, *, on_run: Callable[[str, int, T], None] | None = None
) -> dict[str, list[T]]:
    """Run each variant ``repeats`` times, rotating the order each round (AB, BA, AB, ...).

    Alternating spreads slow drifts of a shared machine (other jobs, thermal state) over all variants
    instead of charging them to whichever ran last. Returns ``name -> [result of each round]``.

    Example:
        >>> calls = []
        >>> out = alternated({"a": lambda: calls.append("a") or 1, "b": lambda: calls.append("b") or 2}, 3)
        >>> calls, out
        (['a', 'b', 'b', 'a', 'a', 'b'], {'a': [1, 1, 1], 'b': [2, 2, 2]})
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    names = list(variants)
    results: dict[str, list[T]] = {name: [] for name in names}
    for round_ in range(repeats):
        order = names if round_ % 2 == 0 else names[::-1]
        for name in order:
            result = variants[name]()
            results[name].append(result)
            if on_run is not None:
                on_run(name, round_, result)
    return results


def offline_env() -> str:
    """Make Hugging Face libraries work offline with a private cache; returns ``HF_HOME``.

    Existing settings are kept, so a user's own ``HF_HOME`` (with real models) still works.
    """
    home = os.environ.get("HF_HOME") or tempfile.mkdtemp(prefix="mirage-bench-hf-")
    defaults = {
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HOME": home,
        "HF_DATASETS_CACHE": os.path.join(home, "datasets"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return os.environ["HF_HOME"]


def quiet_env() -> None:
    """No progress bars (tqdm honours ``TQDM_DISABLE``): the scripts print their own one-line progress."""
    os.environ.setdefault("TQDM_DISABLE", "1")


def silence_loggers(
    names: Sequence[str] = ("lm_eval", "lm_eval_mirage", "transformers", "datasets"), level: int = 40
) -> None:
    """Raise these loggers to ``level`` (default ERROR): per-task warnings would drown the figures."""
    import logging

    for name in names:
        logging.getLogger(name).setLevel(level)


def package_versions(
    names: Sequence[str] = ("lm-eval-mirage", "lm_eval", "torch", "transformers", "accelerate", "datasets"),
) -> dict[str, str | None]:
    """Installed versions from package metadata (nothing is imported)."""
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _gpu() -> dict[str, Any] | None:
    # Only when torch is already imported by the script: the machine record must not pay a CUDA init.
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            return {
                "name": props.name,
                "count": torch.cuda.device_count(),
                "memory_gib": round(props.total_memory / 2**30, 1),
                "cuda": torch.version.cuda,
            }
    except Exception:  # noqa: BLE001 - a broken driver must not lose the measurements
        return None
    return None


def machine_info() -> dict[str, Any]:
    """What the figures were measured on: CPU model and cores, load, GPU (if torch sees one), versions."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        usable = os.cpu_count()
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    torch = sys.modules.get("torch")
    return {
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": usable,
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "load_average": load,
        "gpu": _gpu(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": package_versions(),
    }


def make_record(
    benchmark: str,
    figures: Sequence[Figure],
    *,
    mode: str,
    params: Mapping[str, Any] | None = None,
    wall_seconds: float | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """A JSON-ready record of one benchmark run (see the module docstring for the schema)."""
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    return {
        "schema": SCHEMA_VERSION,
        "benchmark": benchmark,
        "mode": mode,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_info(),
        "params": dict(params or {}),
        "wall_seconds": None if wall_seconds is None else round(wall_seconds, 2),
        "notes": list(notes),
        "figures": [fig.to_json() for fig in figures],
    }


def write_record(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Write ``record`` as indented JSON, atomically (temp file + ``os.replace``); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh, indent=2, sort_keys=False, default=_json_default)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item"):  # numpy / torch scalars
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_record(path: str | Path) -> dict[str, Any]:
    """Load a record and check its core keys; the error names the file and what is missing."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc})") from exc
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("benchmark"), str)
        or not isinstance(data.get("figures"), list)
    ):
        raise ValueError(
            f"{path}: not a benchmark record; expected an object with 'benchmark' (str) and 'figures' (list)"
        )
    for i, fig in enumerate(data["figures"]):
        missing = [k for k in ("name", "value", "unit") if not isinstance(fig, dict) or k not in fig]
        if missing:
            raise ValueError(f"{path}: figures[{i}] lacks {', '.join(missing)}")
    return data


def base_parser(benchmark: str, description: str | None) -> argparse.ArgumentParser:
    """A parser with the options every script shares: ``--quick`` and ``--record``."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="a smaller run that finishes in under a minute on 2 CPU cores"
    )
    parser.add_argument(
        "--record",
        type=Path,
        default=RESULTS_DIR / f"{benchmark}.json",
        help="where to write the JSON record (default: %(default)s)",
    )
    return parser


def add_suite_args(parser: argparse.ArgumentParser, *, tasks_help: str) -> argparse.ArgumentParser:
    """Options of the scripts that run task suites through the harness on one model (figures 1-3)."""
    parser.add_argument(
        "--model",
        type=Path,
        help="a Hugging Face model folder (default: build a random GPT-2 with the character tokenizer)",
    )
    parser.add_argument("--n-layer", type=int, default=4, help="layers of the default model (default: %(default)s)")
    parser.add_argument("--n-embd", type=int, default=128, help="width of the default model (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: 1 on cpu: on a shared machine more threads add noise, not speed)",
    )
    parser.add_argument("--limit", type=int, default=None, help="docs per task (default: 16 quick, 32 full)")
    parser.add_argument("--tasks", type=int, default=None, help=tasks_help)
    parser.add_argument(
        "--repeats", type=int, default=None, help="alternated rounds after the warm-up (default: 3 quick, 5 full)"
    )
    parser.add_argument(
        "--clock",
        choices=("cpu", "wall"),
        default=None,
        help="what the headline figures time: this process's CPU time (default on cpu: robust on a shared machine) or wall time (default otherwise)",
    )
    return parser


@dataclass(frozen=True)
class SuiteSettings:
    """The defaults of :func:`add_suite_args` resolved for quick or full mode."""

    limit: int
    repeats: int
    n_tasks: int | None
    clock_name: str
    clock: Any
    threads: int | None


def suite_settings(args: argparse.Namespace) -> SuiteSettings:
    clock_name = args.clock or ("cpu" if args.device == "cpu" else "wall")
    return SuiteSettings(
        limit=args.limit or (16 if args.quick else 32),
        repeats=args.repeats or (3 if args.quick else 5),
        n_tasks=args.tasks or (3 if args.quick else None),
        clock_name=clock_name,
        clock=time.process_time if clock_name == "cpu" else time.perf_counter,
        threads=args.threads or (1 if args.device == "cpu" else None),
    )
