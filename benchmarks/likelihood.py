"""Issue 3's two speed figures: the ``_ll`` suite against the generation suite, and ``hf-mirage`` against ``hf``.

1. ``ll_suite_speedup``: the same arithmetic tasks, the same docs and the same loaded ``hf-mirage`` model, run
   through the unmodified harness (``lm_eval.simple_evaluate``) as the generation tasks and as their ``_ll``
   twins (one teacher-forced request per problem). Figure: time(generation suite) / time(_ll suite).
   Target: at least 3.
2. ``hf_mirage_vs_hf``: the ``_ll`` suite's loglikelihood requests (the same ``Instance`` objects) scored by
   stock ``hf`` and by ``hf-mirage``, same model folder and batch size. Figure: time(hf-mirage) / time(hf).
   Target: at most 1.05.

Batch size matters for figure 1: a teacher-forced pass and a KV-cached generation of L tokens do about the
same arithmetic, so the speedup comes from the L sequential decoding steps and their per-step overhead. It is
largest at the harness's default batch size 1 (measured ~4x in model time on CPU) and shrinks as batches grow
(~1.5x at 16). The default here is the harness's, 1; pass ``--batch-size`` to see the others.

Variants alternate (AB, BA, ...) after one warm-up each; figures are medians of paired ratios, judged only
when every round agrees. On CPU the default clock is this process's CPU time (robust on a shared machine;
one torch thread); ``--clock wall`` measures wall time. Model loading is outside every timing. Datasets are
built with ``num_problems = limit``, the same for both variants, so task building stays small.

    python benchmarks/likelihood.py --quick
    python benchmarks/likelihood.py                       # all 32 task pairs, 32 docs each
    python benchmarks/likelihood.py --model DIR --device cuda --batch-size 64 --clock wall
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    Figure,
    add_suite_args,
    alternated,
    base_parser,
    make_record,
    median,
    offline_env,
    print_figures,
    quiet_env,
    relative_spread,
    silence_loggers,
    suite_settings,
    write_record,
)  # noqa: E402

BENCHMARK = "likelihood"
TARGET_SPEEDUP = 3.0
TARGET_BACKEND_RATIO = 1.05


def judge(ratios: list[float], *, at_least: float | None = None, at_most: float | None = None) -> bool | None:
    """True if every paired ratio meets the bound, False if none does, None (within noise) otherwise.

    Example:
        >>> judge([3.5, 4.0], at_least=3), judge([1.01, 1.2], at_most=1.05), judge([1.1, 1.2], at_most=1.05)
        (True, None, False)
    """
    ok = [(at_least is None or r >= at_least) and (at_most is None or r <= at_most) for r in ratios]
    return True if all(ok) else False if not any(ok) else None


def spread_pick(items: list[str], n: int | None) -> list[str]:
    """``n`` items evenly spaced over ``items``, each from the middle of its stride, so a small pick is as
    representative of the whole as it can be (answer lengths drive figure 1); all when ``n`` is None or too large.

    Example:
        >>> spread_pick(list("abcdefgh"), 3)
        ['b', 'e', 'g']
    """
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise SystemExit(f"--tasks must be >= 1, got {n}")
    step = len(items) / n
    return [items[int((i + 0.5) * step)] for i in range(n)]


def build_parser():
    parser = add_suite_args(
        base_parser(BENCHMARK, __doc__), tasks_help="N task pairs evenly spread over the 32 (default: 3 quick, all)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=1,
        help="batch size of both backends (default: %(default)s, the harness's default)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    offline_env()
    quiet_env()
    settings = suite_settings(args)
    limit, repeats, n_tasks = settings.limit, settings.repeats, settings.n_tasks
    clock_name, clock = settings.clock_name, settings.clock
    unit = "s cpu" if clock_name == "cpu" else "s"

    import torch

    threads = settings.threads
    if threads:
        torch.set_num_threads(threads)
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from lm_eval_mirage import tasks_path
    from lm_eval_mirage.models import register
    from lm_eval_mirage.models.hf_mirage import HFMirageLM
    from lm_eval_mirage.tasks import configs

    register()
    work = Path(tempfile.mkdtemp(prefix="mirage-bench-likelihood-"))
    if args.model is None:
        from lm_eval_mirage.zoo import build_tiny_model

        model_path = build_tiny_model(work / "model", n_layer=args.n_layer, n_embd=args.n_embd, n_head=4, seed=0)
        model_desc = f"random GPT-2, {args.n_layer} layers x {args.n_embd} wide, character tokenizer"
    else:
        model_path, model_desc = args.model, str(args.model)
    common = {"pretrained": str(model_path), "device": args.device, "batch_size": args.batch_size}
    mirage, stock = HFMirageLM(**common), HFLM(**common)

    gen_tasks = spread_pick([t.name for t in configs.task_defs() if not t.is_loglikelihood], n_tasks)
    ll_tasks = [name + configs.LL_SUFFIX for name in gen_tasks]
    tm = TaskManager(
        include_path=tasks_path(),
        include_defaults=False,
        metadata={"num_problems": limit, "pretrained": str(model_path)},
    )
    silence_loggers()

    # 1. suites through the harness, one model; the time inside the model's request method is metered too
    model_time = {"s": 0.0}

    def metered(method):
        def wrapper(*a, **kw):
            t0 = clock()
            try:
                return method(*a, **kw)
            finally:
                model_time["s"] += clock() - t0

        return wrapper

    mirage.generate_until = metered(mirage.generate_until)
    mirage.loglikelihood = metered(mirage.loglikelihood)

    def suite(names: list[str]) -> dict[str, Any]:
        model_time["s"] = 0.0
        wall0, t0 = time.perf_counter(), clock()
        out = simple_evaluate(model=mirage, tasks=names, task_manager=tm, limit=limit, bootstrap_iters=0)
        return {
            "time": clock() - t0,
            "wall": time.perf_counter() - wall0,
            "model": model_time["s"],
            "results": out["results"],
        }

    # 2. the same loglikelihood requests, two backends
    requests = []
    for task in tm.load(ll_tasks)["tasks"].values():
        task.set_fewshot_seed(1234)
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        requests.extend(task.instances)

    def score(lm) -> dict[str, Any]:
        wall0, t0 = time.perf_counter(), clock()
        out = HFLM.loglikelihood(lm, requests, disable_tqdm=True)  # unmetered: the class method
        return {"time": clock() - t0, "wall": time.perf_counter() - wall0, "out": out}

    # The backends are compared chunk by chunk (AB, BA, ... within a round): a shared machine's drifts then
    # hit both alike, which whole-run alternation cannot promise when one run takes seconds.
    n_chunks = min(16, len(requests))
    chunks = [requests[i::n_chunks] for i in range(n_chunks)]

    def score_pair(round_: int) -> dict[str, dict[str, float]]:
        acc = {"hf": {"time": 0.0, "wall": 0.0}, "hf-mirage": {"time": 0.0, "wall": 0.0}}
        for i, chunk in enumerate(chunks):
            pair = [("hf", stock), ("hf-mirage", mirage)]
            for name, lm in pair if (i + round_) % 2 == 0 else pair[::-1]:
                wall0, t0 = time.perf_counter(), clock()
                HFLM.loglikelihood(lm, chunk, disable_tqdm=True)
                acc[name]["time"] += clock() - t0
                acc[name]["wall"] += time.perf_counter() - wall0
        for name, r in acc.items():
            progress(name, round_, r)
        return acc

    print(
        f"likelihood: {len(gen_tasks)} task pairs x {limit} docs ({len(requests)} ll requests), {model_desc}, device {args.device}, "
        f"batch {args.batch_size}, {repeats} rounds, clock {clock_name}",
        file=sys.stderr,
        flush=True,
    )

    def progress(name: str, round_: int, r: dict[str, Any]) -> None:
        print(
            f"  round {round_ + 1}/{repeats} {name:<10} {clock_name} {r['time']:.2f} s  wall {r['wall']:.2f} s",
            file=sys.stderr,
            flush=True,
        )

    variants = {
        "gen_suite": lambda: suite(gen_tasks),
        "ll_suite": lambda: suite(ll_tasks),
        "hf": lambda: score(stock),
        "hf-mirage": lambda: score(mirage),
    }
    warm = {name: fn() for name, fn in variants.items()}
    for a, b in zip(warm["hf"]["out"], warm["hf-mirage"]["out"], strict=True):
        if abs(a[0] - b[0]) > 1e-5 * max(1.0, abs(a[0])):
            raise SystemExit(
                f"hf and hf-mirage disagree on a request ({a} vs {b}): the comparison would be meaningless"
            )
    runs = alternated({k: variants[k] for k in ("gen_suite", "ll_suite")}, repeats, on_run=progress)
    pairs = [score_pair(r) for r in range(repeats)]
    runs.update({name: [p[name] for p in pairs] for name in ("hf", "hf-mirage")})

    def times(name: str, key: str = "time") -> list[float]:
        return [r[key] for r in runs[name]]

    speedups = [g / l for g, l in zip(times("gen_suite"), times("ll_suite"))]
    model_speedups = [g / l for g, l in zip(times("gen_suite", "model"), times("ll_suite", "model"))]
    wall_speedups = [g / l for g, l in zip(times("gen_suite", "wall"), times("ll_suite", "wall"))]
    backend = [m / h for m, h in zip(times("hf-mirage"), times("hf"))]
    wall_backend = [m / h for m, h in zip(times("hf-mirage", "wall"), times("hf", "wall"))]
    em = {t: warm["ll_suite"]["results"][t]["greedy_exact_match,none"] for t in ll_tasks}

    figures = [
        Figure(
            "gen_suite",
            median(times("gen_suite")),
            unit,
            1.0,
            baseline="itself",
            noise=f"rounds +-{relative_spread(times('gen_suite')):.1%}",
            description=f"harness run of {len(gen_tasks)} generation tasks x {limit} docs on hf-mirage",
        ),
        Figure(
            "ll_suite",
            median(times("ll_suite")),
            unit,
            median([1 / s for s in speedups]),
            baseline="generation suite, same docs and model",
            noise=f"rounds +-{relative_spread(times('ll_suite')):.1%}",
            description="the _ll twins of the same tasks, same docs, same model",
        ),
        Figure(
            "ll_suite_speedup",
            median(speedups),
            "x",
            median(speedups),
            baseline="generation suite / _ll suite",
            target=f">= {TARGET_SPEEDUP:g}",
            meets_target=judge(speedups, at_least=TARGET_SPEEDUP),
            headline=True,
            noise=f"paired {min(speedups):.2f}..{max(speedups):.2f}; wall {median(wall_speedups):.2f}",
            description="how many times faster the one-pass _ll suite runs than the generation suite",
        ),
        Figure(
            "ll_model_speedup",
            median(model_speedups),
            "x",
            median(model_speedups),
            baseline="generate_until / loglikelihood time",
            target=f">= {TARGET_SPEEDUP:g}",
            meets_target=judge(model_speedups, at_least=TARGET_SPEEDUP),
            headline=True,
            noise=f"paired {min(model_speedups):.2f}..{max(model_speedups):.2f}",
            description=f"the same suites, time inside the model's request method only (generation {median(times('gen_suite', 'model')):.3g} s, "
            f"loglikelihood {median(times('ll_suite', 'model')):.3g} s): the harness's per-doc work (prompt templating) is excluded",
        ),
        Figure(
            "hf_loglikelihood",
            median(times("hf")),
            unit,
            1.0,
            baseline="itself",
            noise=f"rounds +-{relative_spread(times('hf')):.1%}",
            description=f"stock hf scoring the _ll suite's {len(requests)} loglikelihood requests",
        ),
        Figure(
            "hf_mirage_vs_hf",
            median(times("hf-mirage")),
            unit,
            median(backend),
            baseline="stock hf, same requests",
            target=f"<= {TARGET_BACKEND_RATIO:g}",
            meets_target=judge(backend, at_most=TARGET_BACKEND_RATIO),
            headline=True,
            noise=f"paired {min(backend):.3f}..{max(backend):.3f}; wall {median(wall_backend):.3f}",
            description="hf-mirage (per-token values kept) over stock hf on the same requests, compared chunk by chunk",
        ),
    ]
    print_figures(figures)
    params = {
        "tasks": gen_tasks,
        "limit": limit,
        "ll_requests": len(requests),
        "repeats": repeats,
        "model": model_desc,
        "device": args.device,
        "batch_size": args.batch_size,
        "torch_threads": threads,
        "clock": clock_name,
        "greedy_exact_match": em,
    }
    for name in runs:
        if "suite" in name:
            params[f"{name}_model_{clock_name}_s"] = [round(x, 5) for x in times(name, "model")]
        params[f"{name}_{clock_name}_s"] = [round(x, 5) for x in times(name)]
        params[f"{name}_wall_s"] = [round(x, 5) for x in times(name, "wall")]
    record = make_record(
        BENCHMARK,
        figures,
        mode="quick" if args.quick else "full",
        params=params,
        wall_seconds=time.perf_counter() - started,
    )
    print(f"record: {write_record(args.record, record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
