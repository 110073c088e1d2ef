#!/usr/bin/env bash
# Figure 7: benchmarks 1-3 on one NVIDIA GPU with no network, on a randomly initialised GPT-NeoX of
# Pythia-410M's shape built locally (no hub), with --device cuda and --batch-size auto; prints tokens/s and
# the ratios, and writes benchmarks/results/gpu_overhead.json and gpu_likelihood.json.
#
# The GPU machine needs only torch (with CUDA), transformers and accelerate. lm-eval and this package
# travel as wheels, prepared on a machine WITH network, from the repository root, with the GPU machine's
# Python version:
#
#   (on the GPU machine, optional)  python3 -m pip list --format=freeze > gpu-pip-freeze.txt
#   python benchmarks/gpu.py wheels --dest .whl --python-version 3.12 [--have gpu-pip-freeze.txt]
#
# which runs, for this package:   pip wheel --no-deps -w .whl .
# and for each requirement the GPU machine lacks (lm-eval, datasets, evaluate, ...; pinned to the versions
# installed here; torch, transformers, accelerate and their own requirements are never included):
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 ... --platform manylinux2014_x86_64 -d .whl NAME==VERSION
#   (falling back to `pip wheel --no-deps -w .whl NAME==VERSION` for pure-Python sdists)
# Add --dry-run to see the commands. Copy the repository with .whl/ to the GPU machine, then there:
#
#   bash benchmarks/gpu.sh                 # full: all 32 generation tasks / task pairs, 32 docs each
#   QUICK=1 bash benchmarks/gpu.sh         # a few minutes less
#
# gpu.sh installs the wheels with `pip install --no-index --no-deps --target $SITE .whl/*.whl` (nothing is
# fetched; the environment's own packages are left alone) when lm_eval / lm_eval_mirage are not importable.
# Settings (environment): PYTHON (python3), SHAPE (pythia-410m | pythia-160m | tiny), DEVICE (cuda),
# DTYPE (float16), BATCH (auto, benchmark 1), LL_BATCH (64, benchmarks 2-3: one fixed size for both
# backends), MODEL (a folder to reuse), RESULTS (benchmarks/results), WHEELS (.whl), SITE (/tmp/mirage-site).
# CPU smoke test of this script: DEVICE=cpu SHAPE=tiny DTYPE=float32 BATCH=16 LL_BATCH=16 QUICK=1 RESULTS=/tmp/r bash benchmarks/gpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-python3}"
SHAPE="${SHAPE:-pythia-410m}"
DEVICE="${DEVICE:-cuda}"
DTYPE="${DTYPE:-float16}"
BATCH="${BATCH:-auto}"
LL_BATCH="${LL_BATCH:-64}"
RESULTS="${RESULTS:-benchmarks/results}"
WHEELS="${WHEELS:-.whl}"
SITE="${SITE:-/tmp/mirage-site}"
QFLAG=()
[ -n "${QUICK:-}" ] && QFLAG=(--quick)
export PYTHONUNBUFFERED=1

if ! "$PY" -c "import lm_eval, lm_eval_mirage" 2>/dev/null; then
    if ! ls "$WHEELS"/*.whl >/dev/null 2>&1; then
        echo "gpu.sh: lm_eval / lm_eval_mirage are not importable and $WHEELS/ holds no wheels; build them first (see the top of this file)" >&2
        exit 2
    fi
    echo "== installing $(ls "$WHEELS"/*.whl | wc -l) wheels from $WHEELS into $SITE (no index)"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$WHEELS"/*.whl
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    "$PY" -c "import lm_eval, lm_eval_mirage"
fi

export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
export HF_HOME="${HF_HOME:-$(mktemp -d)}"
if [ "$DEVICE" != "cpu" ]; then
    "$PY" -c "import torch, sys; ok = torch.cuda.is_available(); print('== torch', torch.__version__, 'GPU:', torch.cuda.get_device_name(0) if ok else None); sys.exit(0 if ok else 3)" \
        || { echo "gpu.sh: torch sees no CUDA device (DEVICE=$DEVICE)" >&2; exit 3; }
fi

MODEL="${MODEL:-$(mktemp -d)/$SHAPE-random}"
if [ ! -f "$MODEL/config.json" ]; then
    echo "== building a random $SHAPE in $MODEL"
    "$PY" benchmarks/gpu.py build-model "$MODEL" --shape "$SHAPE" --device "$DEVICE" --dtype "$DTYPE"
fi
mkdir -p "$RESULTS"

echo "== figure 1: plugin metrics vs exact_match only (batch $BATCH)"
"$PY" benchmarks/overhead.py ${QFLAG[@]+"${QFLAG[@]}"} --model "$MODEL" --device "$DEVICE" --batch-size "$BATCH" --record "$RESULTS/gpu_overhead.json"

records=("$RESULTS/gpu_overhead.json")
if [ -f benchmarks/likelihood.py ]; then
    echo "== figures 2-3: _ll suite vs generation suite, hf-mirage vs hf (batch $LL_BATCH)"
    "$PY" benchmarks/likelihood.py ${QFLAG[@]+"${QFLAG[@]}"} --model "$MODEL" --device "$DEVICE" --batch-size "$LL_BATCH" --record "$RESULTS/gpu_likelihood.json"
    records+=("$RESULTS/gpu_likelihood.json")
else
    echo "== figures 2-3 skipped: benchmarks/likelihood.py not found"
fi

echo "== summary (figure 7)"
"$PY" benchmarks/gpu.py summary "${records[@]}"
