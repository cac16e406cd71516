#!/usr/bin/env bash
# One-call GPU check (issue 18, item 6): run from the repository root on a machine with CUDA.
#
#     bash benchmarks/gpu_check.sh            # output under $OUT if set, else benchmarks/out/gpu_check/
#
# Steps, each timed and under its own `timeout` (budget in seconds), the whole within
# GPU_CHECK_BUDGET (default 470 s, i.e. under 8 minutes; a step gets min(its budget, what is left)
# and is skipped below 10 s):
#   1. pytest_gpu      python -m pytest -q -m gpu tests/                        (90 s)
#   2. bench_triton    the fused generator kernels against torch.randn          (45 s)
#   3. bit_identity    CPU <-> CUDA bit identity of 10^8 direction entries      (75 s)
#   4. nccl_e8         the E8 protocol for 20 steps, backend nccl, on min(4, GPUs) processes,
#                      token cache made from the embedded corpus (no internet)  (75 s)
#   5. estimate        estimate_suite.py on config/paper.yaml with unit costs measured on this GPU
#                      (no WikiText-2 needed: random tokens of GPT-2's vocabulary), then the
#                      analytical H100 model beside it                          (150 s)
#   6. bench_core      bench_core.py --device cuda --quick                      (45 s)
# Files written (at most 8, as the device runner collects): gpu_check.log (everything), summary.txt,
# bench_triton.json, e8_result.json, estimate-paper-cuda.json, estimate-paper-h100.json, core.json.
# Python: $PYTHON, else .venv/bin/python if it imports torch, else python.  GPU_CHECK_STEPS="a b"
# runs only those steps (e.g. a rerun).  Exit status: 0 if every step run passed, 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

if [[ -n ${PYTHON:-} ]]; then
    PY=$PYTHON
elif [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import torch' >/dev/null 2>&1; then
    PY=.venv/bin/python
else
    PY=python
fi
OUT_DIR=${OUT:-benchmarks/out/gpu_check}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
LOG=$OUT_DIR/gpu_check.log
SUMMARY=$OUT_DIR/summary.txt
export PY OUT_DIR LOG
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1   # no internet on the GPU machine

# --- the steps (each run as `bash gpu_check.sh __step NAME` under timeout) -----------------------

step_pytest_gpu() {
    "$PY" -m pytest -q -m gpu -p no:cacheprovider tests/
}

step_bench_triton() {
    "$PY" benchmarks/bench_triton.py --out "$OUT_DIR/bench_triton.json"
}

step_bit_identity() {
    "$PY" benchmarks/gpu_bit_identity.py --seeds 100 --dim 1000000
}

step_nccl_e8() {
    local gpus workers tmp byzantine
    gpus=$("$PY" -c 'import torch; print(torch.cuda.device_count())')
    workers=${E8_WORKERS:-$((gpus < 4 ? gpus : 4))}
    if ((workers < 1)); then
        echo "no CUDA device: NCCL not checked"
        return 2
    fi
    tmp=$(mktemp -d)
    "$PY" -c "from holograd.data import prepare_token_cache as p; print(p('embedded', '$tmp/tokens.pt', vocab_size=1024))"
    byzantine=""
    if ((workers >= 2)); then
        byzantine="byzantine: {ranks: [$((workers - 1))], attack: sign_flip}"
    fi
    cat >"$tmp/run.yaml" <<EOF
# a short slice of config/paper.yaml's distributed.run: the tiny model, random K, PoGP, on NCCL
workers: $workers
model: tiny
block_size: 64
batch_size: 8
steps: 20
strategy: random
lr: 0.01
options: {k: 16, chunk_elements: 16777216}
pogp: {p: 0.25, eps: 1.0e-4}
eval_every: 10
eval_batches: 2
checkpoint_every: 10
threads: 2
device: ${E8_DEVICE:-cuda}
$byzantine
EOF
    cat "$tmp/run.yaml"
    "$PY" -m holograd.distributed.launch --config "$tmp/run.yaml" --tokens "$tmp/tokens.pt" \
        --out "$OUT_DIR/e8_result.json" --run-dir "$tmp/run" --max-restarts 0
    "$PY" - "$OUT_DIR/e8_result.json" "${E8_DEVICE:-cuda}" <<'EOF'
import json
import sys

result = json.load(open(sys.argv[1]))
expected = "nccl" if sys.argv[2].startswith("cuda") else "gloo"
print(
    f"E8 slice: backend {result['backend']}, {result['config']['workers']} worker(s) on {result['device']}, "
    f"{result['timing']['steps_this_attempt']} steps in {result['timing']['wall_seconds_this_attempt']} s, "
    f"theta {result['theta_sha256'][:16]}..."
)
sys.exit(0 if result["backend"] == expected else 1)
EOF
}

step_estimate() {
    "$PY" benchmarks/estimate_suite.py --config config/paper.yaml --device cuda \
        --out "$OUT_DIR/estimate-paper-cuda.json"
    "$PY" benchmarks/estimate_suite.py --config config/paper.yaml --units h100 \
        --out "$OUT_DIR/estimate-paper-h100.json"
}

step_bench_core() {
    "$PY" benchmarks/bench_core.py --device cuda --quick --out "$OUT_DIR/core.json"
}

if [[ ${1:-} == __step ]]; then
    "step_$2"
    exit $?
fi

# --- the driver -----------------------------------------------------------------------------------

BUDGET=${GPU_CHECK_BUDGET:-470}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
: >"$LOG"
RESULTS=()
FAILED=0

log() { echo "$*" | tee -a "$LOG"; }

run_step() {
    local name=$1 budget=$2 now left limit t0 rc status
    if [[ -n ${GPU_CHECK_STEPS:-} && " $GPU_CHECK_STEPS " != *" $name "* ]]; then
        return 0 # not among the steps asked for
    fi
    now=$(date +%s)
    left=$((DEADLINE - now))
    limit=$((budget < left ? budget : left))
    if ((limit < 10)); then
        RESULTS+=("$(printf '%-14s %-10s %5s s  (limit %s s)' "$name" SKIPPED 0 "$limit")")
        FAILED=1
        log "=== $name: skipped, ${left} s of the ${BUDGET} s budget left"
        return 0
    fi
    log "=== $name (limit ${limit} s) $(date -u +%H:%M:%S)"
    t0=$(date +%s)
    set +e
    timeout --kill-after=10 "$limit" bash "${BASH_SOURCE[0]}" __step "$name" 2>&1 | tee -a "$LOG"
    rc=${PIPESTATUS[0]}
    set -e
    case $rc in
        0) status=ok ;;
        124 | 137) status=TIMEOUT ;;
        *) status="FAILED($rc)" ;;
    esac
    [[ $status == ok ]] || FAILED=1
    RESULTS+=("$(printf '%-14s %-10s %5s s  (limit %s s)' "$name" "$status" $(($(date +%s) - t0)) "$limit")")
    log "=== $name: $status in $(($(date +%s) - t0)) s"
}

log "gpu_check.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), python $PY, output $OUT_DIR, budget ${BUDGET} s"
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])' 2>&1 | tee -a "$LOG" || true
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$LOG" || true

run_step pytest_gpu 90
run_step bench_triton 45
run_step bit_identity 75
run_step nccl_e8 75
run_step estimate 150
run_step bench_core 45

{
    echo "gpu_check.sh summary ($(($(date +%s) - START)) s of ${BUDGET} s; log: $LOG)"
    printf '%s\n' ${RESULTS[@]+"${RESULTS[@]}"}
    echo "--- key lines"
    grep -E '^[0-9]+ (passed|failed)|passed|failed' "$LOG" | grep -E '^(=+ )?[0-9]+ (passed|failed|skipped)' | tail -n 1 || true
    grep -E 'project_partials|reconstruct  ' "$LOG" | grep -E '^ +64 ' || true
    grep -E '^(differing|[0-9]+ seeds x)' "$LOG" || true
    grep -E '^E8 slice:' "$LOG" || true
    grep -E '^(suite:|E8 \(systems|estimated tuning)' "$LOG" || true
    grep -E 'project\+reconstruct K=64|jvp_vs_forward_backward' "$LOG" || true
    if ((FAILED)); then echo "RESULT: some step did not pass"; else echo "RESULT: every step passed"; fi
} | tee "$SUMMARY" | tee -a "$LOG"
exit "$FAILED"
