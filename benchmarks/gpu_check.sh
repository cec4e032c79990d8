#!/usr/bin/env bash
# One run on a GPU machine: everything issue 13 still has to measure there. Results go to $OUT (default ./gpu_out).
# Usage, from the repository root: OUT=/some/dir benchmarks/gpu_check.sh   (about 5-8 minutes on an H200)
# Each step runs even if an earlier one failed; the exit status of each is in $OUT/status.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_out}"
mkdir -p "$OUT"
PY="${PYTHON:-python}"
step() {  # step NAME COMMAND...: run, stdout in $OUT/NAME.txt, stderr in $OUT/NAME.err, status and wall seconds
  local name="$1"; shift
  local start=$SECONDS
  "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err"
  local rc=$?
  echo "$name rc=$rc seconds=$((SECONDS - start))" | tee -a "$OUT/status.txt"
}
: >"$OUT/status.txt"
step env bash -c "nvidia-smi; $PY -c 'import torch, sys; print(sys.version); print(\"torch\", torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))'; $PY -c 'import triton; print(\"triton\", triton.__version__)'"
# 1. the fused kernels against the torch reference on the GPU (exactness) and against theory
step fused_check "$PY" benchmarks/fused_check.py --device cuda --json
# 2. bench: --device cuda is the form that failed before (cuda vs cuda:0); JSON for the figures, text to read
step bench_cuda_json "$PY" -m emastats.cli bench --device cuda --format json
step bench_cuda_text "$PY" -m emastats.cli bench --device cuda --quick
# 3. a full verify on the GPU, end to end (aim: <= 20 s), and the same seed twice must reproduce
step verify_cuda "$PY" -m emastats.cli verify --device cuda --format json --no-report --store "$OUT/store1"
step verify_cuda_again "$PY" -m emastats.cli verify --device cuda --format json --no-report --store "$OUT/store2"
"$PY" - "$OUT" <<'PYEOF' >>"$OUT/status.txt" 2>&1
import json, sys
out = sys.argv[1]
def estimates(name):
    try:
        rows = json.load(open(f"{out}/{name}.txt"))["claims"]
    except Exception as exc:  # noqa: BLE001
        return f"unreadable: {exc}"
    return {r["id"]: [c["estimate"] for c in (r["empirical"] or {}).get("checks", [])] for r in rows}
a, b = estimates("verify_cuda"), estimates("verify_cuda_again")
print("verify reproducible on cuda:", a == b)
PYEOF
# 4. calibration at full budgets on the GPU (100 seeds)
step calibration "$PY" benchmarks/calibration.py --seeds 100 --full --device cuda --json
# 5. the test suite on the GPU machine (it must pass there too)
step pytest "$PY" -m pytest -q -p no:cacheprovider -x
cat "$OUT/status.txt"
