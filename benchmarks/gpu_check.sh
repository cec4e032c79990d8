#!/usr/bin/env bash
# The one script a session with a GPU runs for issue 13. Results go to $OUT (default ./gpu_out).
#
#   OUT=/some/dir benchmarks/gpu_check.sh             # on the GPU machine, from the repository root
#   DRY_RUN=1 OUT=/tmp/dry benchmarks/gpu_check.sh    # the same steps on the CPU at small sizes (checks the script)
#
# Steps (each with a time limit, so the whole run takes at most about 8 minutes; each runs even if an earlier one
# failed; "NAME rc=.. seconds=.." lines go to $OUT/status.txt, stdout to $OUT/NAME.txt, stderr to $OUT/NAME.err):
#   env          nvidia-smi, python, torch, triton versions
#   fused_check  each Triton kernel against its torch reference (states 1e-5), the EMA variance against theory,
#                the wired experiments on both engines (EMASTATS_ENGINE=torch|fused: |z| <= 5, same verdicts),
#                per-example gradients by vmap(grad) against a loop (1e-10)
#   bench        emastats bench --device cuda --format json (the form that failed before: cuda vs cuda:0)
#   verify_1/2   a full verify on the device, twice with the same seed: wall time (aim <= 20 s) and reproducibility
#   calibration  100 seeds of the statistical experiments on the device (quick budgets: 100/8 x the CPU's full ones)
#   pytest       the whole suite on the GPU machine
# Missing Python packages travel as wheels in .whl/ (benchmarks/gpu_wheels.sh fetches them on a networked machine).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-gpu_out}"
mkdir -p "$OUT"
: >"$OUT/status.txt"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1
if [ "${DRY_RUN:-0}" = 1 ]; then DEV=cpu; else DEV=cuda; fi

step() {  # step NAME LIMIT_SECONDS COMMAND...
  local name="$1" limit="$2"; shift 2
  local start=$SECONDS
  timeout -k 5 "$limit" "$@" >"$OUT/$name.txt" 2>"$OUT/$name.err"
  local rc=$?
  echo "$name rc=$rc seconds=$((SECONDS - start)) limit=$limit" | tee -a "$OUT/status.txt"
}

# setup: carried wheels, then emastats itself (editable, offline), only when it does not import yet
if ! "$PY" -c "import emastats.experiments, emastats.cli" 2>/dev/null; then
  if [ -d .whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation -e . >"$OUT/setup.txt" 2>&1
  echo "setup rc=$? (pip install -e .)" | tee -a "$OUT/status.txt"
fi

step env 30 bash -c "(nvidia-smi || echo 'no nvidia-smi'); uptime; nproc; $PY -c 'import sys, torch; print(sys.version); print(\"torch\", torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0) if torch.cuda.is_available() else \"no CUDA\")'; $PY -c 'import triton; print(\"triton\", triton.__version__)'"

if [ "$DEV" = cuda ]; then
  step fused_check 90 "$PY" benchmarks/fused_check.py --device cuda --json
  step bench 150 "$PY" -m emastats.cli bench --device cuda --format json
  VERIFY=(--device cuda)
else
  # the interpreter runs the kernels on CPU tensors (tiny sizes); the engines compare on the kernel's torch reference
  step fused_check 120 env TRITON_INTERPRET=1 "$PY" benchmarks/fused_check.py --device cpu --replicas 256 \
    --theory-replicas 2048 --claims none --json
  step fused_check_engines 120 "$PY" benchmarks/fused_check.py --device cpu --skip-kernels \
    --claims ema.bias.mean,noise.temperature.momentum,minibatch.covariance.with_replacement --json
  step bench 240 "$PY" -m emastats.cli bench --device cpu --quick --format json
  VERIFY=(--device cpu --quick --claim ema --claim minibatch)
fi

step verify_1 60 "$PY" -m emastats.cli verify "${VERIFY[@]}" --format json --no-report --store "$OUT/store1"
step verify_2 60 "$PY" -m emastats.cli verify "${VERIFY[@]}" --format json --no-report --store "$OUT/store2"
"$PY" - "$OUT" <<'PYEOF' | tee -a "$OUT/status.txt"
import json, sys
out = sys.argv[1]
def estimates(name):
    try:
        rows = json.load(open(f"{out}/{name}.txt"))["claims"]
    except Exception as exc:  # noqa: BLE001
        return f"unreadable: {exc}"
    return {r["id"]: [c["estimate"] for c in (r.get("empirical") or {}).get("checks", [])] for r in rows}
a, b = estimates("verify_1"), estimates("verify_2")
print("verify reproducible (same seed, same device):", isinstance(a, dict) and a == b,
      f"({len(a) if isinstance(a, dict) else a} claims)")
PYEOF

if [ "$DEV" = cuda ]; then
  step calibration 75 "$PY" benchmarks/calibration.py --seeds 100 --device cuda --json
  step pytest 170 "$PY" -m pytest -q -p no:cacheprovider
else
  step calibration 120 "$PY" benchmarks/calibration.py --seeds 2 --claim ema.bias.mean --device cpu --json
  step pytest 240 "$PY" -m pytest -q -p no:cacheprovider tests/test_fused_engine.py tests/test_kernels.py \
    tests/test_device.py
fi
echo "total seconds=$SECONDS" | tee -a "$OUT/status.txt"
