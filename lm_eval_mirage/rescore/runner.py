"""Re-score saved harness runs: find results files, stream their samples, write new results files.

For every ``results_<ts>.json`` under the given path (a file, a model folder or a tree of them) and its
``samples_<task>_<ts>.jsonl`` files beside it, the added metrics are computed per task and filter and written
to ``results_<ts>.rescored.json`` next to the original (or under ``out``, mirroring the tree): a copy of the
original with the new ``"metric,filter"``/``"metric_stderr,filter"`` entries in ``results[task]``, their
direction in ``higher_is_better[task]``, and a ``"rescore"`` block saying what was done. The name sorts right
after the original's under the harness's own ``get_latest_filename``, and a later real run sorts after both.
Originals are never written; outputs are written to a temporary file and renamed into place.

One bad value never costs the batch: a line that cannot be read or scored is reported as ``file:line:
reason`` and skipped, a task whose configuration cannot be scored as ``file: task 'name': reason`` (all its
lines counted as skipped), and the rest is written. Only a destination that cannot be written stops the run
(:class:`OutputError`). Temporary files are named and cleaned up by :mod:`lm_eval_mirage.rescore.output`.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lm_eval_mirage import harness_outputs as layout
from lm_eval_mirage.harness_outputs import RESCORED_SUFFIX, UnsafeTaskNameError, find_results_files, scan_results
from lm_eval_mirage.metrics.catalog import NOT_APPLICABLE, OUTPUT_TYPES, metrics_for
from lm_eval_mirage.rescore.aggregate import Accumulator
from lm_eval_mirage.rescore.output import AtomicLines, OutputError, check_writable, remove_stale_temporaries, write_text
from lm_eval_mirage.rescore.samples import SampleError, check_loglikelihoods, generation_fields, parse_sample
from lm_eval_mirage.rescore.scorers import make_scorer

__all__ = [
    "OutputError",
    "Problem",
    "RunReport",
    "RescoreReport",
    "RESCORED_SUFFIX",
    "find_results_files",
    "rescore",
    "rescore_results_file",
]

#: Problems kept in a results file's ``rescore`` block (all are counted).
MAX_RECORDED_PROBLEMS = 100
_MAX_KEPT_PROBLEMS = 1000  # per samples file, in memory
_MAX_REASON = 300  # characters of an exception message kept in a reason


@dataclass
class Problem:
    """Something skipped: a file, a line of it (1-based, or ``None`` for the whole file) and why."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}" if self.line is not None else f"{self.file}: {self.reason}"


@dataclass
class RunReport:
    """What re-scoring one results file did."""

    results_file: Path
    output_file: Path | None = None
    samples_outputs: list[Path] = field(default_factory=list)
    added: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> {"metric,filter": value, ...}
    unavailable: dict[str, dict[str, str]] = field(default_factory=dict)  # task -> {metric: reason}
    notes: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # the first ones of each file
    skipped: int = 0  # lines (or whole files) skipped, all counted
    skipped_by_file: dict[str, int] = field(default_factory=dict)  # file -> lines (or 1 for a whole file) skipped

    def count(self, file: str | os.PathLike, n: int) -> None:
        """Count ``n`` skipped lines (or one whole file) of ``file``."""
        if n > 0:
            self.skipped += n
            self.skipped_by_file[str(file)] = self.skipped_by_file.get(str(file), 0) + n


@dataclass
class RescoreReport:
    """The outcome of :func:`rescore` over a path."""

    runs: list[RunReport]

    @property
    def skipped(self) -> int:
        return sum(r.skipped for r in self.runs)

    @property
    def exit_status(self) -> int:
        """0 when everything was scored, 1 when anything was skipped."""
        return 1 if self.skipped else 0


class _SeenIds:
    """Duplicate ``(doc_id, filter)`` detection in about one byte per doc id."""

    def __init__(self) -> None:
        self.bits: dict[str, bytearray] = {}
        self.other: set[tuple[str, Any]] = set()

    def add(self, doc_id: Any, filter_key: str) -> bool:
        """Record the pair; False when it was seen before."""
        if isinstance(doc_id, int) and not isinstance(doc_id, bool) and 0 <= doc_id < 1 << 28:
            bits = self.bits.setdefault(filter_key, bytearray())
            if doc_id >= len(bits):
                bits.extend(bytes(max(doc_id + 1 - len(bits), len(bits))))
            if bits[doc_id]:
                return False
            bits[doc_id] = 1
            return True
        key = (filter_key, json.dumps(doc_id, sort_keys=True, default=str))
        if key in self.other:
            return False
        self.other.add(key)
        return True


def _score_samples_file(
    path: Path,
    scorer: Any,
    acc: Accumulator,
    *,
    strict: bool,
    writer: AtomicLines | None,
    progress: Callable[[Iterator], Iterator] | None,
    check: Callable[[Any], None] | None = None,
) -> tuple[int, int, list[Problem]]:
    """Stream one samples file into ``acc``; returns (lines, skipped, first problems).

    ``check`` validates a fully parsed sample's ``filtered_resps`` before scoring (log-likelihoods). A line
    that cannot be read or scored, for whatever reason, is skipped and named; the next line goes on."""
    problems: list[Problem] = []
    skipped = lines = 0
    seen = _SeenIds()
    fast = scorer.fast and not strict and writer is None
    shown = str(path)

    def skip(lineno: int, reason: str) -> None:
        nonlocal skipped
        skipped += 1
        if len(problems) < _MAX_KEPT_PROBLEMS:
            problems.append(Problem(shown, lineno, reason))

    bitmaps = seen.bits  # the common case (int doc ids) inlined: this loop runs once per line
    with open(path, "rb") as fh:
        numbered = enumerate(fh, 1)
        for lineno, raw in progress(numbered) if progress else numbered:
            if raw.isspace():
                continue
            lines += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                skip(lineno, f"invalid UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            try:
                fields = generation_fields(text) if fast else None
                sample = None
                if fields is None:
                    sample = parse_sample(text)
                    for key in ("doc_id", "filter"):
                        if key not in sample:
                            raise SampleError(f"missing field {key!r}")
                    doc_id, filter_key = sample["doc_id"], sample["filter"]
                else:
                    doc_id, target, filtered, filter_key = fields
                if type(filter_key) is not str:
                    raise SampleError(f"filter must be a string, got {_short(filter_key)}")
                bits = bitmaps.get(filter_key)
                if type(doc_id) is int and bits is not None and 0 <= doc_id < len(bits):
                    if bits[doc_id]:
                        raise SampleError(f"duplicate sample (doc_id {doc_id!r}, filter {filter_key!r})")
                    bits[doc_id] = 1
                elif not seen.add(doc_id, filter_key):
                    raise SampleError(f"duplicate sample (doc_id {doc_id!r}, filter {filter_key!r})")
                if sample is None:
                    scores = scorer.score_fields(target, filtered)
                else:
                    if check is not None:
                        check(sample.get("filtered_resps"))
                    scores = scorer.score(sample)
            except SampleError as exc:
                skip(lineno, str(exc))
                continue
            except RecursionError:
                skip(lineno, "cannot be scored: a value nested deeper than Python allows")
                continue
            except Exception as exc:  # noqa: BLE001 - one bad value must not cost the batch; named, counted
                skip(lineno, f"cannot be scored: {_describe(exc)}")
                continue
            acc.add(filter_key, scores)
            if writer is not None:
                line = _sample_line(sample, scores)
                try:
                    writer.write(line)
                except UnicodeEncodeError:  # a lone surrogate (valid JSON "\ud800"): written escaped, same value
                    writer.write(json.dumps(sample, ensure_ascii=True) + "\n")
    return lines, skipped, problems


def _describe(exc: BaseException) -> str:
    """``exc`` as a one-line reason (type and message, cut to a few hundred characters)."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 3] + "..."
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, ValueError) or not text else text


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - e.g. an int too long for str()
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _sample_line(sample: dict[str, Any], scores: dict[str, Any]) -> str:
    added = {k: (list(v) if isinstance(v, tuple) else v) for k, v in scores.items() if k != "token_logprobs"}
    names = list(sample.get("metrics") or [])
    sample["metrics"] = names + [k for k in added if k not in names]
    sample.update(added)
    return json.dumps(sample, ensure_ascii=False) + "\n"


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as fh:
            return sum(1 for raw in fh if raw.strip())
    except OSError:
        return 0


#: One sample of each output type that any working scorer scores: when a task's scorer fails on it, the
#: task's configuration is at fault (e.g. an unknown metric option), and the task is reported once.
_PROBES: dict[str, dict[str, Any]] = {
    "generate_until": {"doc_id": 0, "target": "1", "filtered_resps": ["1"], "filter": "none"},
    "loglikelihood": {"doc_id": 0, "target": " 1", "filtered_resps": [["-1.0", "True"]], "filter": "none"},
    "multiple_choice": {
        "doc_id": 0,
        "target": "0",
        "filtered_resps": [["-1.0", "False"], ["-2.0", "False"]],
        "filter": "none",
    },
}


def _probe(output_type: str, scorer: Any) -> str | None:
    """``None`` when ``scorer`` scores a plain valid sample, else why not (a task-level reason)."""
    try:
        scorer.score(dict(_PROBES[output_type]))
    except Exception as exc:  # noqa: BLE001
        return f"cannot be scored with its configuration: {_describe(exc)}"
    return None


def rescore_results_file(
    results_file: Path,
    *,
    out_dir: Path | None = None,
    metrics: tuple[str, ...] | None = None,
    write_samples: bool = False,
    strict: bool = False,
    tokenizer: str | None = None,
    progress: Callable[[Iterator, str], Iterator] | None = None,
) -> RunReport:
    """Re-score one results file and its samples files; see the module docstring."""
    results_file = Path(results_file)
    report = RunReport(results_file)
    try:
        original = json.loads(results_file.read_text(encoding="utf-8"))
        if not isinstance(original, dict) or not isinstance(original.get("configs"), dict):
            raise ValueError("no 'configs' object: not a harness results file")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        report.problems.append(Problem(str(results_file), None, f"cannot read results file: {exc}"))
        report.skipped += 1
        return report
    if isinstance(original.get("rescore"), dict):
        report.notes.append(f"{results_file} was written by rescore; left alone")
        return report

    ts = layout.date_id(results_file)
    folder = results_file.parent
    target_dir = out_dir if out_dir is not None else folder
    report.notes.extend(remove_stale_temporaries(target_dir))
    new = json.loads(json.dumps(original))  # a deep copy that stays plain JSON
    new.setdefault("results", {})
    new.setdefault("higher_is_better", {})
    bootstrap_iters = (original.get("config") or {}).get("bootstrap_iters", 100000)
    bootstrap_iters = bootstrap_iters if isinstance(bootstrap_iters, int) else 100000
    block: dict[str, Any] = {
        "tool": "lm-eval-mirage rescore",
        "version": _version(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_results": results_file.name,
        "source_samples": {},
        "added": {},
        "replaced": {},
        "unavailable": {},
        "counts": {},
    }
    run_problems: list[Problem] = []

    expected_names = {f"samples_{task}_{ts}.jsonl" for task in original["configs"]}
    for stray in sorted(folder.glob(f"samples_*_{glob.escape(ts)}.jsonl")):
        if stray.name not in expected_names:
            run_problems.append(
                Problem(str(stray), None, "samples file of a task the results file does not list; skipped")
            )
            report.skipped += 1

    for task, config in original["configs"].items():
        try:  # task names are data: one that would name a file outside the run folder is refused
            samples_path = layout.samples_path(folder, task, ts)
        except UnsafeTaskNameError as exc:
            run_problems.append(Problem(str(results_file), None, f"{exc}; task skipped"))
            report.skipped += 1
            continue
        output_type = config.get("output_type") if isinstance(config, dict) else None
        if output_type in NOT_APPLICABLE:
            report.notes.append(f"{task}: no re-scoring metrics for output type {output_type}; left as is")
            continue
        if not samples_path.is_file():
            run_problems.append(
                Problem(
                    str(samples_path),
                    None,
                    f"no samples file for task {task!r} (was the run logged with --log_samples?)",
                )
            )
            report.skipped += 1
            continue
        if output_type not in OUTPUT_TYPES:
            n = _count_lines(samples_path)
            run_problems.append(
                Problem(str(samples_path), None, f"unknown output_type {_short(output_type)}: {n} lines skipped")
            )
            report.count(samples_path, max(n, 1))
            continue
        specs = metrics_for(output_type, metrics)
        if not specs:
            report.notes.append(f"{task}: none of the requested metrics applies to output type {output_type}")
            continue
        try:
            scorer = make_scorer(output_type, config, specs, tokenizer=tokenizer)
            unsupported = scorer.unsupported or _probe(output_type, scorer)
        except Exception as exc:  # noqa: BLE001 - a task's configuration costs that task, not the batch
            unsupported = f"cannot be scored: {_describe(exc)}"
        if unsupported:
            n = _count_lines(samples_path)
            run_problems.append(Problem(str(samples_path), None, f"task {task!r}: {unsupported}: {n} lines skipped"))
            report.count(samples_path, max(n, 1))
            block["counts"][task] = {"lines": n, "skipped": n, "scored": {}, "values": {}}
            continue

        acc = Accumulator(specs)
        writer = AtomicLines(layout.samples_path(target_dir, task, ts, rescored=True)) if write_samples else None
        try:
            wrap = (lambda it, _t=task: progress(it, _t)) if progress else None
            check = check_loglikelihoods if output_type != "generate_until" else None
            lines, skipped, problems = _score_samples_file(
                samples_path, scorer, acc, strict=strict, writer=writer, progress=wrap, check=check
            )
            if writer is not None:
                writer.commit()
                report.samples_outputs.append(writer.path)
        except OSError as exc:
            if writer is not None:
                writer.abort()
            if isinstance(exc, OutputError):
                raise
            run_problems.append(Problem(str(samples_path), None, f"cannot read samples file: {exc.strerror or exc}"))
            report.count(samples_path, 1)
            continue
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        report.count(samples_path, skipped)
        run_problems.extend(problems)

        task_results = original.get("results", {}).get(task, {})
        expected = task_results.get("sample_len") if isinstance(task_results, dict) else None
        n_filters = max(len(acc.filters), 1)
        if isinstance(expected, int) and lines < expected * n_filters:
            missing = expected * n_filters - lines
            run_problems.append(
                Problem(
                    str(samples_path),
                    None,
                    f"{missing} samples missing: the results file reports {expected} per filter, the samples file has {lines} lines",
                )
            )
            report.count(samples_path, missing)

        added = acc.results(bootstrap_iters=bootstrap_iters)
        target = new["results"].setdefault(task, {"name": task, "alias": task})
        replaced = {k: target[k] for k in added if k in target}
        target.update(added)
        hib = new["higher_is_better"].setdefault(task, {})
        for spec in specs:
            if any(k.startswith(spec.name + ",") for k in added):
                hib[spec.name] = spec.higher_is_better
        unavailable = {
            spec.name: scorer.missing_reason.get(spec.name, "no sample could be scored")
            for spec in specs
            if not any(k.startswith(spec.name + ",") for k in added)
        }
        report.added[task] = {k: v for k, v in added.items() if "_stderr," not in k}
        if unavailable:
            report.unavailable[task] = unavailable
        block["source_samples"][task] = samples_path.name
        block["added"][task] = [k for k in added if "_stderr," not in k]
        if replaced:
            block["replaced"][task] = replaced
        if unavailable:
            block["unavailable"][task] = unavailable
        block["counts"][task] = {
            "lines": lines,
            "skipped": skipped,
            "scored": dict(acc.filters),
            "values": {
                f"{s.name},{f}": acc.count(s.name, f) for f in acc.filters for s in specs if acc.count(s.name, f)
            },
        }

    report.problems = run_problems
    for p in run_problems:  # whole files reported by discovery (no samples file, a stray one): one each
        if p.line is None and p.file not in report.skipped_by_file:
            report.skipped_by_file[p.file] = 1
    block["skipped"] = report.skipped
    block["skipped_by_file"] = {Path(f).name: n for f, n in report.skipped_by_file.items()}
    block["problems"] = [
        {"file": p.file, "line": p.line, "reason": p.reason} for p in run_problems[:MAX_RECORDED_PROBLEMS]
    ]
    block["notes"] = list(report.notes)
    new["rescore"] = block
    output = layout.rescored_results_path(results_file, target_dir)
    if output.resolve() == results_file.resolve():  # pragma: no cover - the suffix makes this impossible
        raise RuntimeError(f"refusing to overwrite the original {results_file}")
    text = json.dumps(new, indent=2, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from the original (valid JSON, not UTF-8): escaped
        text = json.dumps(new, indent=2, ensure_ascii=True, default=str)
    write_text(output, text)
    report.output_file = output
    return report


def rescore(
    path: str | os.PathLike,
    *,
    metrics: tuple[str, ...] | None = None,
    out: str | os.PathLike | None = None,
    write_samples: bool = False,
    strict: bool = False,
    tokenizer: str | None = None,
    progress: Callable[[Iterator, str], Iterator] | None = None,
) -> RescoreReport:
    """Re-score every harness run under ``path`` (a results file, a model folder or a tree).

    Args:
        path: what ``lm_eval --output_path`` wrote (the folder, a model folder below it, or a results file).
        metrics: names from :data:`~lm_eval_mirage.metrics.catalog.METRICS` (default: all that apply).
        out: write under this folder (mirroring the tree) instead of next to the originals.
        write_samples: also write ``samples_<task>_<ts>.rescored.jsonl`` with the per-sample values.
        strict: parse every line fully as JSON (default: the fast path for generation samples).
        tokenizer: count edit distances in this tokenizer's tokens (a transformers name or folder).
        progress: wraps each samples file's line iterator (e.g. a tqdm bar); gets the task name.

    Returns:
        A :class:`RescoreReport`; its ``exit_status`` is 1 when anything was skipped.

    Raises:
        FileNotFoundError: ``path`` does not exist or holds no results files.
        OutputError: ``out`` (or a folder written into) cannot be written; checked for ``out`` before any
            work.
    """
    path = Path(path)
    if not (path.is_file() or path.is_dir()):
        raise FileNotFoundError(f"OUTPUT_PATH {str(path)!r} is neither a results file nor a folder")
    runs = []
    if path.is_file():
        files = [path]
    else:  # results files by content, whatever their names; rescore's own copies left out
        found, unreadable = scan_results([path], rescored=False)
        files = [r.path for r in found]
        for exc in unreadable:
            unread = RunReport(
                exc.path, problems=[Problem(str(exc.path), None, f"cannot read results file: {exc.reason}")]
            )
            unread.count(exc.path, 1)
            runs.append(unread)
    if not files and not runs:
        raise FileNotFoundError(
            f"no results_*.json files under {str(path)!r} (write them with lm_eval --output_path DIR --log_samples)"
        )
    root = path if path.is_dir() else path.parent
    if out is not None:
        check_writable(Path(out))
    for results_file in files:
        out_dir = None if out is None else Path(out) / results_file.parent.relative_to(root)
        try:
            run = rescore_results_file(
                results_file,
                out_dir=out_dir,
                metrics=metrics,
                write_samples=write_samples,
                strict=strict,
                tokenizer=tokenizer,
                progress=progress,
            )
        except OutputError:
            raise
        except Exception as exc:  # noqa: BLE001 - one results file must not cost the others; named, counted
            run = RunReport(results_file)
            run.problems.append(Problem(str(results_file), None, f"cannot be re-scored: {_describe(exc)}"))
            run.count(results_file, 1)
        runs.append(run)
    return RescoreReport(runs)


def _version() -> str:
    from lm_eval_mirage import __version__

    return __version__
