#!/usr/bin/env bash
# The GPU check in one call, from the repository root of a machine with CUDA (a workstation, a
# rented H100, a bare GPU image with torch, Triton, numba, transformers, numpy, scipy, pandas,
# pytest, pyyaml and jinja2 but no network):
#
#     bash benchmarks/gpu_check.sh            # output under $OUT if set, else benchmarks/out/gpu_check/
#
# Steps, each timed and under its own `timeout`, the whole within GPU_CHECK_BUDGET seconds
# (default 330: the check, a machine's start-up and a rerun fit in 15 minutes); a step gets
# min(its own limit, what is left) and is SKIPPED below 10 s.  The limits (in brackets) are caps
# that add up to more than the budget: typical steps take less.
#   preflight     versions; CUDA usable; numba and Triton import; one kernel launch that must give
#                 the definition's bits (python -m holograd.device_check cuda).  If it fails, nothing
#                 else runs and every step reports NOT RUN                              (45 s)
#   pytest_gpu    the tests marked gpu, collecting only the files that hold them; with
#                 HOLOGRAD_REQUIRE_GPU=1 a missing GPU fails them instead of skipping     (75 s)
#   bench_triton  the fused generator kernels beside torch.randn                         (25 s)
#   bit_identity  CPU <-> CUDA bit identity of 10^8 direction entries                    (30 s)
#   paper_shape   project and reconstruct at the paper's largest shape, E2's K = 33,200 and
#                 D = 3.32M, with their rates beside the H100 work model's               (25 s)
#   e8            the E8 protocol, 4 ranks on however many GPUs there are (NCCL with one GPU
#                 per rank, gloo where they share), 20 steps, token cache from the embedded
#                 corpus                                                                  (45 s)
#   e1_memory     E1's peak GPU memory at gpt2like, n = 50, batches of 32 (must be < 16 GiB) (40 s)
#   estimate      estimate_suite.py on config/paper.yaml measured on this GPU, and the
#                 analytical H100 model beside it                                          (90 s)
# E8 and the estimate need jsonschema (and referencing, rpds-py, attrs,
# jsonschema-specifications), which a bare image lacks: where pip works, run
# `bash benchmarks/gpu_check_wheels.sh` first, which puts their wheels in .whl/; this script
# installs them from $GPU_CHECK_WHEELS (default .whl) into a temporary folder.  Without them
# the two steps report NOT RUN.
# Python: $PYTHON, else .venv/bin/python if it imports torch, else python3, else python.
# GPU_CHECK_STEPS="e8 estimate" runs only those steps (after the preflight, which always runs).
# Files written (8 at most): gpu_check.log (everything), summary.txt, bench_triton.json,
# paper_shape.json, e8_result.json, e1_memory.json, estimate-paper-cuda.json,
# estimate-paper-h100.json.
# Exit status: 0 if every step run passed, 1 if one did not, 2 if the preflight failed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
STEPS=(pytest_gpu bench_triton bit_identity paper_shape e8 e1_memory estimate)
declare -A LIMIT=([preflight]=45 [pytest_gpu]=75 [bench_triton]=25 [bit_identity]=30 [paper_shape]=25 [e8]=45
    [e1_memory]=40 [estimate]=90) # seconds, each step's cap

find_python() {
    if [[ -n ${PYTHON:-} ]]; then
        echo "$PYTHON"
    elif [[ -x .venv/bin/python ]] && .venv/bin/python -c 'import torch' >/dev/null 2>&1; then
        echo .venv/bin/python
    elif command -v python3 >/dev/null 2>&1; then
        echo python3
    else
        echo python
    fi
}

# --- the steps (each run as `bash gpu_check.sh __step NAME` under timeout) ------------------------

step_preflight() {
    "$PY" - <<'EOF'
import importlib, platform, sys
from importlib import metadata
print("python", platform.python_version(), sys.executable)
needed = ("torch", "triton", "numba", "transformers", "numpy", "yaml")
missing = []
for name in (*needed, "scipy", "pandas", "jsonschema"):
    try:
        importlib.import_module(name)
        print(name, metadata.version("pyyaml" if name == "yaml" else name))
    except Exception as exc:  # noqa: BLE001
        print(f"{name} NOT IMPORTABLE: {type(exc).__name__}: {exc}")
        missing += [name] if name in needed else []
if missing:
    print(f"ImportError: the GPU check needs {', '.join(missing)}, which cannot be imported here")
    sys.exit(1)
import torch
print("torch built for CUDA", torch.version.cuda, "| devices", torch.cuda.device_count() if torch.cuda.is_available() else 0)
EOF
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 || true
    # the check every pipeline job makes: CUDA usable, Triton kernels compiled, launched, right bits
    "$PY" -m holograd.device_check cuda
}

step_pytest_gpu() {
    local files
    mapfile -t files < <(grep -l 'pytest.mark.gpu' tests/test_*.py)
    echo "test files with gpu tests: ${files[*]}"
    HOLOGRAD_REQUIRE_GPU=1 "$PY" -m pytest -q -m gpu -p no:cacheprovider "${files[@]}"
}

step_bench_triton() {
    "$PY" benchmarks/bench_triton.py --repeats 5 --out "$OUT_DIR/bench_triton.json"
}

step_bit_identity() {
    "$PY" benchmarks/gpu_bit_identity.py --seeds 100 --dim 1000000
}

step_paper_shape() {
    "$PY" benchmarks/bench_triton.py --paper-shape --repeats 3 --out "$OUT_DIR/paper_shape.json"
}

step_e8() {
    local gpus tmp
    gpus=$("$PY" -c 'import torch; print(torch.cuda.device_count())')
    tmp=$(mktemp -d)
    "$PY" -c "from holograd.data import prepare_token_cache as p; print(p('embedded', '$tmp/tokens.pt', vocab_size=1024))"
    cat >"$tmp/run.yaml" <<EOF
# a short slice of config/paper.yaml's distributed.run: 4 workers, the tiny model, random K, PoGP
workers: 4
model: tiny
block_size: 64
batch_size: 8
steps: 20
strategy: random
lr: 0.01
options: {k: 16, chunk_elements: 16777216}
byzantine: {ranks: [3], attack: sign_flip}
pogp: {p: 0.25, eps: 1.0e-4}
eval_every: 10
eval_batches: 2
checkpoint_every: 10
threads: 2
device: cuda
EOF
    cat "$tmp/run.yaml"
    "$PY" -m holograd.distributed.launch --config "$tmp/run.yaml" --tokens "$tmp/tokens.pt" \
        --out "$OUT_DIR/e8_result.json" --run-dir "$tmp/run" --max-restarts 0
    "$PY" - "$OUT_DIR/e8_result.json" "$gpus" <<'EOF'
import json, sys
result, gpus = json.load(open(sys.argv[1])), int(sys.argv[2])
expected = "nccl" if gpus >= 4 else "gloo"
print(
    f"E8 slice: 4 ranks on {gpus} GPU(s), backend {result['backend']} (expected {expected}); "
    f"{result['timing']['steps_this_attempt']} steps in {result['timing']['wall_seconds_this_attempt']} s; "
    f"slashed {result['verifier']['slashed']}; theta {result['theta_sha256'][:16]}...; {result['placement']}"
)
sys.exit(0 if result["backend"] == expected and result["verifier"]["slashed"] == [3] else 1)
EOF
}

step_e1_memory() {
    "$PY" benchmarks/bench_e1_memory.py --device cuda --n 50 --batch 32 --out "$OUT_DIR/e1_memory.json"
    "$PY" -c "import json, sys; r = json.load(open('$OUT_DIR/e1_memory.json')); sys.exit(0 if r['peak_bytes'] < 16 * 2**30 else 1)"
}

step_estimate() {
    "$PY" benchmarks/estimate_suite.py --config config/paper.yaml --device cuda \
        --out "$OUT_DIR/estimate-paper-cuda.json"
    "$PY" benchmarks/estimate_suite.py --config config/paper.yaml --units h100 \
        --out "$OUT_DIR/estimate-paper-h100.json"
    "$PY" - "$OUT_DIR/estimate-paper-cuda.json" "$OUT_DIR/estimate-paper-h100.json" <<'EOF'
import json, sys
measured, model = (json.load(open(p)) for p in sys.argv[1:3])
def e2(d):
    return sum(r["seconds"] for r in d["by_experiment"] if r["experiment"] == "e2_kd_ratio")
print(
    f"estimate: suite {measured['suite_gpu_hours']:.2f} GPU-h measured on {measured['device_name']}, "
    f"{model['suite_gpu_hours']:.2f} GPU-h by the H100 model; E2 {e2(measured) / 3600:.2f} h measured, "
    f"{e2(model) / 3600:.2f} h modelled"
)
EOF
}

if [[ ${1:-} == __step ]]; then
    "step_$2"
    exit $?
fi

# --- the driver -----------------------------------------------------------------------------------

PY=$(find_python)
OUT_DIR=${OUT:-benchmarks/out/gpu_check}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
LOG=$OUT_DIR/gpu_check.log
SUMMARY=$OUT_DIR/summary.txt
export PY OUT_DIR LOG
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 # no network on a GPU image
export PYTHONUNBUFFERED=1

BUDGET=${GPU_CHECK_BUDGET:-330}
START=$(date +%s)
DEADLINE=$((START + BUDGET))
: >"$LOG"
RESULTS=()
FAILED=0
PREFLIGHT="" # its error line, when it failed
declare -A WHY_NOT=() # step -> why it cannot run here

log() { echo "$*" | tee -a "$LOG"; }
row() { RESULTS+=("$(printf '%-13s %-34s %5s s  (limit %s s)' "$1" "$2" "$3" "$4")"); }

selected() {
    [[ -z ${GPU_CHECK_STEPS:-} || " $GPU_CHECK_STEPS " == *" $1 "* ]]
}

run_step() { # name budget: run it under timeout; its status goes to RESULTS
    local name=$1 budget=$2 now left limit t0 rc status
    now=$(date +%s)
    left=$((DEADLINE - now))
    limit=$((budget < left ? budget : left))
    if ((limit < 10)); then
        row "$name" SKIPPED 0 "$limit"
        FAILED=1
        log "=== $name: skipped, ${left} s of the ${BUDGET} s budget left"
        return 1
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
    row "$name" "$status" $(($(date +%s) - t0)) "$limit"
    log "=== $name: $status in $(($(date +%s) - t0)) s"
    [[ $status == ok ]]
}

log "gpu_check.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), python $PY, output $OUT_DIR, budget ${BUDGET} s"

# wheels of the pure-Python packages a bare image lacks, if they were brought
WHEELS=${GPU_CHECK_WHEELS:-.whl}
if ! "$PY" -c 'import jsonschema, referencing' >/dev/null 2>&1 && compgen -G "$WHEELS/*.whl" >/dev/null; then
    SITE=$(mktemp -d)
    log "installing $(ls "$WHEELS"/*.whl | wc -l) wheel(s) from $WHEELS into $SITE"
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$WHEELS"/*.whl \
        2>&1 | tee -a "$LOG"; then
        export PYTHONPATH="$PYTHONPATH:$SITE"
    fi
fi
if ! "$PY" -c 'import jsonschema, referencing' >/dev/null 2>&1; then
    for name in e8 estimate; do
        WHY_NOT[$name]="NOT RUN (no jsonschema: see header)"
    done
    log "jsonschema is not importable: e8 and estimate will not run (bash benchmarks/gpu_check_wheels.sh where pip works, then bring .whl)"
fi

PREFLIGHT_OK=0
if run_step preflight "${LIMIT[preflight]}"; then
    PREFLIGHT_OK=1
    for name in "${STEPS[@]}"; do
        selected "$name" || continue
        if [[ -n ${WHY_NOT[$name]:-} ]]; then
            row "$name" "${WHY_NOT[$name]}" 0 -
            FAILED=1
            continue
        fi
        run_step "$name" "${LIMIT[$name]}" || true
    done
else
    PREFLIGHT=$(grep -E '^[A-Za-z]+Error: ' "$LOG" | tail -n 1 || true)
    for name in "${STEPS[@]}"; do
        selected "$name" && row "$name" "NOT RUN (preflight failed)" 0 -
    done
fi

{
    echo "gpu_check.sh summary ($(($(date +%s) - START)) s of ${BUDGET} s; log: $LOG)"
    printf '%s\n' ${RESULTS[@]+"${RESULTS[@]}"}
    echo "--- key lines"
    grep -E '^cuda(:[0-9]+)?: ' "$LOG" || true
    grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$LOG" | tail -n 1 || true
    grep -E '^ +64 +[0-9]+ .*(project_partials|reconstruct) ' "$LOG" || true
    grep -E '^(differing|[0-9]+ seeds x)' "$LOG" || true
    grep -E '^(paper shape|E8 slice:|E1 |estimate:)' "$LOG" || true
    if ((!PREFLIGHT_OK)); then
        echo "RESULT: not run (preflight failed${PREFLIGHT:+: $PREFLIGHT})"
    elif ((FAILED)); then
        echo "RESULT: some step did not pass"
    else
        echo "RESULT: every step passed"
    fi
} | tee "$SUMMARY" | tee -a "$LOG"
((PREFLIGHT_OK)) || exit 2
exit "$FAILED"
