#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (see benchmarks/gpu/prepare.sh, which builds the binaries here
# and prints the device-tool call). Runs, each step under its own `timeout`, within 8 minutes in all:
#   1. the gpu tests (gpu_cuda_backends: the kernel matrix against cpu-ref, the U-Net layers against the
#      naive kernel, the out-of-memory message) and test_cuda_backends (cuda-emu and cuda side by side)
#   2. compute-sanitizer memcheck and racecheck on test_cuda_backends (small shapes)
#   3. tint bench at batch 1 and 8: the training step by phase, against the same U-Net in PyTorch (python3) in
#      the same invocation, and a profile of each batch size (table in train_step.log, Chrome/Perfetto traces
#      profile_b1.json and profile_b8.json, NVTX names for Nsight); then the same step with the "tree"
#      reductions (--reduce-variant tree, train_step_tree.log), to set beside the default "block" ones
#   4. bench_gpu_conv at batch 1 and batch 8: every conv variant (igemm3, the cp.async pipeline, included) and
#      product against cuDNN, GB/s of the rest, the reductions under each reduce variant
#   5. the choice: the fastest conv variant per batch and product (summed over the U-Net's layers) and the
#      fastest reduce variant per kernel, from the JSON, in choice.log (the defaults are changed by hand, in a
#      commit that cites it)
# Step limits can be tightened for a short lease: T_GPU_TESTS, T_EMU_TESTS, T_MEMCHECK, T_RACECHECK,
# T_TRAIN_STEP, T_TRAIN_TREE (seconds each) and T_TOTAL (the whole run's budget, which the benchmark fills).
# Everything is written under $OUT (default ./out-gpu); a short table is printed last.
# Without a GPU it says so and exits 0 (nothing to run). Exit code: 0 when every step passed, 1 otherwise.
# Binaries: .carry/gpu (from prepare.sh); if absent, a fallback build with cmake/ninja/nvcc there, using the
# headers in .carry/prefix.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/out-gpu}
mkdir -p "$OUT"
T0=$(date +%s)
LOG=$OUT/check.log
: > "$LOG"
say() { echo "[check +$(( $(date +%s) - T0 ))s] $*" | tee -a "$LOG"; }
declare -a SUMMARY=()
FAILED=0
record() {  # name, exit code, what 0 means
  local status=PASS
  case "$2" in
    0) status=PASS ;;
    77) status=SKIP ;;
    124|137) status="TIMEOUT"; FAILED=1 ;;
    *) status="FAIL(rc=$2)"; FAILED=1 ;;
  esac
  SUMMARY+=("$(printf '%-34s %s' "$1" "$status")")
  say "$1: $status"
}

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  say "NO GPU: nvidia-smi is missing or lists no device; nothing to run (this is the dry run)."
  exit 0
fi
nvidia-smi >> "$LOG" 2>&1

BIN=.carry/gpu
# The emulated half of test_cuda_backends runs on one host thread: small shapes, and deterministic there.
export TINT_EMU_THREADS=1
if [ ! -x "$BIN/gpu_cuda_backends" ] || [ ! -x "$BIN/bench_gpu_conv" ] || [ ! -x "$BIN/tint" ]; then
  say "no carried binaries in $BIN: building here (fallback)"
  BUILD=build-gpu-fallback
  export PATH=/usr/local/cuda/bin:$PATH
  timeout 300 cmake -S . -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
      -DCMAKE_PREFIX_PATH="$PWD/.carry/prefix" -DCMAKE_CXX_FLAGS="-I$PWD/.carry/prefix/include" >> "$LOG" 2>&1 &&
    timeout 300 cmake --build $BUILD --target gpu_cuda_backends gpu_engine test_cuda_backends bench_gpu_conv tint -j"$(nproc)" >> "$LOG" 2>&1
  record "fallback build" $?
  mkdir -p "$BIN"
  cp $BUILD/tests/gpu_cuda_backends $BUILD/tests/gpu_engine $BUILD/tests/test_cuda_backends $BUILD/benchmarks/gpu/bench_gpu_conv \
    $BUILD/tools/tint "$BIN"/ 2>/dev/null
fi
[ -f "$BIN/COMMIT" ] && say "binaries built from commit $(cat $BIN/COMMIT)"

# cuDNN for the baseline: beside the toolkit, or in PyTorch's site-packages.
for sp in $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) /usr/local/cuda/lib64; do
  for d in "$sp/nvidia/cudnn/lib" "$sp"; do
    if ls "$d"/libcudnn.so.9* >/dev/null 2>&1; then CUDNN_DIR=$d; break 2; fi
  done
done
if [ -n "${CUDNN_DIR:-}" ]; then
  export LD_LIBRARY_PATH="$CUDNN_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "cuDNN from $CUDNN_DIR"
else
  say "cuDNN not found: the benchmark times tint's kernels only"
fi

# 1. tests
{ echo "== gpu_cuda_backends"; timeout ${T_GPU_TESTS:-150} "$BIN/gpu_cuda_backends" -d yes; } > "$OUT/tests.log" 2>&1
record "gpu_cuda_backends" $?
{ echo "== test_cuda_backends"; timeout ${T_EMU_TESTS:-60} "$BIN/test_cuda_backends" -d yes; } >> "$OUT/tests.log" 2>&1
record "test_cuda_backends (emu + cuda)" $?
if [ -x "$BIN/gpu_engine" ]; then
  { echo "== gpu_engine"; timeout ${T_GPU_TESTS:-150} "$BIN/gpu_engine" -d yes; } >> "$OUT/tests.log" 2>&1
  record "gpu_engine (training on cuda = cpu)" $?
fi

# 2. compute-sanitizer (small shapes: the test binary's cuda backend; the emulated half is host code)
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if [ -n "$CS" ]; then
  { echo "== memcheck"; timeout ${T_MEMCHECK:-120} "$CS" --tool memcheck --leak-check no --error-exitcode 9 \
      "$BIN/test_cuda_backends"; } > "$OUT/sanitizer.log" 2>&1
  record "compute-sanitizer memcheck" $?
  { echo "== racecheck"; timeout ${T_RACECHECK:-100} "$CS" --tool racecheck --error-exitcode 9 \
      "$BIN/test_cuda_backends" "[conv],[reduce],*sum*,*bias*,*losses*"; } >> "$OUT/sanitizer.log" 2>&1
  record "compute-sanitizer racecheck" $?
else
  SUMMARY+=("compute-sanitizer                  not found")
fi

# 3. the training step through the engine on the GPU, batch 1 against 8, with the same U-Net in PyTorch in the
#    same invocation (its default kernels, fp32, TF32 off) and a profile of each batch size (CUDA events)
if [ -x "$BIN/tint" ]; then
  timeout ${T_TRAIN_STEP:-150} "$BIN/tint" bench --device cuda --batches 1,8 --peer python3 \
    --json "$OUT/train_step.json" --profile "$OUT/profile.json" > "$OUT/train_step.log" 2>&1
  record "tint bench (batch 1 vs 8, PyTorch, profile)" $?
  timeout ${T_TRAIN_TREE:-60} "$BIN/tint" bench --device cuda --batches 1,8 --reduce-variant tree \
    --json "$OUT/train_step_tree.json" > "$OUT/train_step_tree.log" 2>&1
  record "tint bench --reduce-variant tree" $?
fi

# 4. conv benchmark: batch 1 then batch 8 (separate runs, so a timeout in one keeps the other's JSON)
for b in 1 8; do
  left=$(( ${T_TOTAL:-470} - ($(date +%s) - T0) ))
  if [ $left -lt 30 ]; then SUMMARY+=("bench batch $b                      skipped (time)"); continue; fi
  limit=$(( b == 1 ? (left < 150 ? left : 150) : left ))
  timeout $limit "$BIN/bench_gpu_conv" --batches $b --json "$OUT/bench_b$b.json" > "$OUT/bench_b$b.log" 2>&1
  record "bench_gpu_conv batch $b" $?
done

# 5. the fastest variants, from the JSON (python3 only reads it; nothing is changed here)
if command -v python3 >/dev/null 2>&1; then
  python3 - "$OUT" > "$OUT/choice.log" 2>&1 <<'PY'
import json, os, sys
from collections import defaultdict
out = sys.argv[1]
for b in (1, 8):
    path = os.path.join(out, f"bench_b{b}.json")
    if not os.path.exists(path):
        print(f"batch {b}: no {path}")
        continue
    data = json.load(open(path))
    totals = defaultdict(float)  # (product, impl) -> ms over the layers
    counts = defaultdict(int)
    for r in data["conv"]:
        if r["ms"] is not None:
            totals[(r["product"], r["impl"])] += r["ms"]
            counts[(r["product"], r["impl"])] += 1
    layers = max(counts.values()) if counts else 0
    for product in sorted({p for p, _ in totals}):
        cands = {i: t for (p, i), t in totals.items() if p == product and i.startswith("tint:") and counts[(p, i)] == layers}
        if not cands:
            continue
        best = min(cands, key=cands.get)
        cudnn = totals.get((product, "cudnn"))
        ratio = f", cudnn/tint {cudnn / cands[best]:.2f}" if cudnn else ""
        print(f"conv batch {b} {product:<10} fastest {best} {cands[best]:.3f} ms{ratio}; "
              + ", ".join(f"{i[5:]} {t:.3f}" for i, t in sorted(cands.items(), key=lambda x: x[1])))
    if b == 8:
        red = defaultdict(dict)
        for r in data.get("memory_kernels", []):
            name = r["kernel"]
            if name.endswith("]") and " [" in name:
                kernel, variant = name[:-1].split(" [")
                red[kernel][variant] = r["ms"]
        for kernel, v in red.items():
            best = min(v, key=lambda k: v[k])
            print(f"reduce {kernel:<22} fastest {best}; " + ", ".join(f"{k} {ms:.4f} ms" for k, ms in v.items()))
PY
  record "variant choice (choice.log)" $?
fi

say "done in $(( $(date +%s) - T0 )) s"
echo
echo "================ summary ================"
for b in 1 8; do
  [ -f "$OUT/bench_b$b.log" ] && sed -n '/^sum over the U-Net layers/,/^json:/p' "$OUT/bench_b$b.log" | grep -v '^json:'
done
grep -h "^device:\|^cuDNN" "$OUT/bench_b1.log" 2>/dev/null | head -2
if [ -f "$OUT/train_step.log" ]; then
  grep -A14 "^profile:" "$OUT/train_step.log"        # the top of each batch size's profile
  sed -n '/^batch  /,$p' "$OUT/train_step.log" | grep -v "^json:"   # tint bench's table and the peer
fi
[ -f "$OUT/train_step_tree.log" ] && { echo "reduce variant tree:"; sed -n '/^batch  /,$p' "$OUT/train_step_tree.log" | grep -v "^json:"; }
[ -f "$OUT/choice.log" ] && cat "$OUT/choice.log"
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" "$OUT/sanitizer.log" 2>/dev/null
grep -h "^All tests passed\|^test cases:" "$OUT/tests.log" 2>/dev/null
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
