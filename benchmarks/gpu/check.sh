#!/usr/bin/env bash
# The one prepared run for a lent GPU machine (see benchmarks/gpu/prepare.sh, which builds the binaries here
# and prints the device-tool call). Steps run most important first, each under its own `timeout`, within
# T_TOTAL seconds (default 480) in all; a step that would get under 20 s is skipped and says so:
#   1. the gpu tests (gpu_cuda_backends: the kernel matrix against cpu-ref, the U-Net layers against the
#      naive kernel, the out-of-memory message), test_cuda_backends (its native half: CI runs the emulated one) and
#      gpu_engine (training on cuda against cpu)
#   2. bench_gpu_conv at batch 8 and batch 1: the conv variants in BENCH_VARIANTS (default: those still in
#      contention, the tensor-core ones included) and product against cuDNN (and cuDNN with TF32 allowed), GB/s
#      of the rest, the reductions under each reduce variant
#   3. tint bench at batch 1 and 8: the training step by phase against the same U-Net in PyTorch (python3) in
#      the same invocation, with a profile (Chrome/Perfetto traces profile_<variant>_b<N>.json, NVTX names for
#      Nsight), under the default conv variant and then each of WINO_VARIANTS (default winograd4-tf32x3, fp32-accurate on tensor cores); then
#      --precision tf32 against PyTorch with allow_tf32 (T_TRAIN_TF32). The step runs with CUDA graphs (the
#      default; the profiled steps op by op), and once against the same binary with --graph off as its
#      interleaved peer (T_TRAIN_GRAPH)
#   4. with TRAIN_DATA=DIR (DIR/train, DIR/val): a colorizer trained on the GPU for T_TRAIN seconds (default
#      120; width TRAIN_WIDTH 32, lr TRAIN_LR 1e-3, batch 8 at 256 px, conv variant TRAIN_VARIANT winograd4
#      when the gpu tests passed, else igemm2), exported as F16 to model16.safetensors
#   5. compute-sanitizer racecheck, synccheck and initcheck on test_cuda_backends (small shapes; memcheck runs right after the
#      tests, being quick), and the step with the one-block reductions (--reduce-variant block) beside the
#      default "tree" ones
#   6. the choice: the fastest conv variant per batch and product (summed over the U-Net's layers), the
#      fastest per layer, and the fastest reduce variant per kernel, from the JSON, in choice.log (the
#      defaults are changed by hand, in a commit that cites it)
# Step limits: T_GPU_TESTS, T_EMU_TESTS, T_BENCH8, T_BENCH1, T_TRAIN_STEP, T_TRAIN_GRAPH, T_TRAIN_TF32, T_TRAIN, T_MEMCHECK,
# T_RACECHECK, T_SYNC_INIT (each of synccheck and initcheck), T_TRAIN_BLOCK (seconds each).
# Everything is written under $OUT (default ./out-gpu); a short table is printed last. The device tool
# brings back at most 8 files: benchmarks/gpu/lease.sh runs this with OUT elsewhere and packs the logs.
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
# The native half only: the emulated half is CI's (with one host thread it now takes over 100 s, past the
# limit, for nothing the GPU adds).
{ echo "== test_cuda_backends"; TINT_TEST_SKIP_EMU=1 timeout ${T_EMU_TESTS:-60} "$BIN/test_cuda_backends" -d yes; } \
  >> "$OUT/tests.log" 2>&1
record "test_cuda_backends (cuda)" $?
if [ -x "$BIN/gpu_engine" ]; then
  { echo "== gpu_engine"; timeout ${T_GPU_TESTS:-150} "$BIN/gpu_engine" -d yes; } >> "$OUT/tests.log" 2>&1
  record "gpu_engine (training on cuda = cpu)" $?
fi

# Seconds left of the run's budget (T_TOTAL), and a step's limit: its own, or what is left if less. Steps
# run most important first; one that would get under 20 s is skipped and says so.
left() { echo $(( ${T_TOTAL:-480} - ($(date +%s) - T0) )); }
cap() { local l; l=$(left); echo $(( l < $1 ? l : $1 )); }
skip() { SUMMARY+=("$(printf '%-34s %s' "$1" "skipped (time)")"); say "$1: skipped (time)"; }

# memcheck early: it is quick, and it covers every kernel the later steps time
CS=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)
if [ -n "$CS" ]; then
  limit=$(cap ${T_MEMCHECK:-120})
  if [ "$limit" -lt 20 ]; then skip "compute-sanitizer memcheck"; else
    { echo "== memcheck"; TINT_TEST_SKIP_EMU=1 timeout $limit "$CS" --tool memcheck --leak-check no --error-exitcode 9 \
        "$BIN/test_cuda_backends"; } > "$OUT/sanitizer.log" 2>&1
    record "compute-sanitizer memcheck" $?
  fi
fi

# 2. conv benchmark: batch 8 then batch 1 (separate runs, so a timeout in one keeps the other's JSON).
#    BENCH_VARIANTS: the conv variants timed ("all", or a list); by default those still in contention, as
#    naive, igemm, igemm-nosplit and igemm3 lost everywhere in benchmarks/results/2026-11-30-h200-winograd.
BENCH_VARIANTS=${BENCH_VARIANTS:-igemm2,igemm2w,winograd4,winograd2,winograd4-tf32,winograd2-tf32,winograd4-tf32x3}
for b in 8 1; do
  limit=$(cap $(( b == 8 ? ${T_BENCH8:-200} : ${T_BENCH1:-90} )))
  if [ "$limit" -lt 20 ]; then skip "bench_gpu_conv batch $b"; continue; fi
  vflag=(); [ "$BENCH_VARIANTS" != all ] && vflag=(--variants "$BENCH_VARIANTS")
  timeout $limit "$BIN/bench_gpu_conv" --batches $b "${vflag[@]}" --json "$OUT/bench_b$b.json" > "$OUT/bench_b$b.log" 2>&1
  record "bench_gpu_conv batch $b" $?
done

# 3. the training step through the engine on the GPU, batch 1 against 8, with the same U-Net in PyTorch in the
#    same invocation (its default kernels, fp32, TF32 off) and a profile of each batch size (CUDA events);
#    then the same under each Winograd conv variant, again with PyTorch in the same invocation (so each ratio
#    pairs two measurements of one process)
if [ -x "$BIN/tint" ]; then
  train_step() {  # v: default or a conv variant
    local v=$1 name=train_step limit; local flag=()
    [ "$v" != default ] && name=train_step_$v && flag=(--conv-variant $v)
    limit=$(cap ${T_TRAIN_STEP:-100})
    if [ "$limit" -lt 20 ]; then skip "tint bench ($v)"; return; fi
    timeout $limit "$BIN/tint" bench --device cuda --batches 1,8 --peer python3 "${flag[@]}" \
      --json "$OUT/$name.json" --profile "$OUT/profile_$v.json" > "$OUT/$name.log" 2>&1
    record "tint bench ($v; PyTorch, profile)" $?
  }
  train_step default
  # 3a. what the CUDA graphs buy: the default step (graphs on) against the same binary with --graph off as
  #     its peer, interleaved step by step (benchmarks/peers/tint_peer.sh); the column nograph/tint above 1
  #     means the graphs are faster. Before the other variants: it measures a default.
  limit=$(cap ${T_TRAIN_GRAPH:-60})
  if [ "$limit" -lt 20 ]; then skip "tint bench graphs against --graph off"; else
    TINT_PEER="$BIN/tint" TINT_PEER_ARGS="--graph off" timeout $limit "$BIN/tint" bench --device cuda \
      --batches 1,8 --peer bash --peer-script benchmarks/peers/tint_peer.sh --peer-name nograph \
      --json "$OUT/train_step_graph_ab.json" > "$OUT/train_step_graph_ab.log" 2>&1
    record "tint bench graphs against --graph off (interleaved)" $?
  fi
  for v in ${WINO_VARIANTS:-winograd4-tf32x3}; do train_step "$v"; done
  # 3b. the same in TF32 on both sides: tint --precision tf32 (winograd4-tf32), PyTorch with allow_tf32
  limit=$(cap ${T_TRAIN_TF32:-60})
  if [ "$limit" -lt 20 ]; then skip "tint bench --precision tf32"; else
    timeout $limit "$BIN/tint" bench --device cuda --batches 1,8 --peer python3 --precision tf32 \
      --json "$OUT/train_step_tf32.json" > "$OUT/train_step_tf32.log" 2>&1
    record "tint bench --precision tf32 (PyTorch)" $?
  fi
fi

# 4. optional: a colorizer trained on the GPU for T_TRAIN seconds (TRAIN_DATA holds train/ and val/). SIGINT
#    at the limit: tint finishes the step and writes its checkpoint. The weights come back as F16.
if [ -n "${TRAIN_DATA:-}" ] && [ -d "$TRAIN_DATA/train" ] && [ -x "$BIN/tint" ]; then
  limit=$(cap ${T_TRAIN:-120})
  if [ "$limit" -lt 40 ]; then
    skip "tint train (GPU model)"
  else
    tv=${TRAIN_VARIANT:-winograd4}
    grep -q "gpu_cuda_backends: PASS" "$LOG" || tv=igemm2
    gflag=(); grep -q "gpu_engine (training on cuda = cpu): PASS" "$LOG" || gflag=(--graph off)
    timeout -k 30 -s INT --preserve-status $(( limit - 15 )) "$BIN/tint" train --device cuda \
      --data "$TRAIN_DATA/train" --val "$TRAIN_DATA/val" --size 256 --width ${TRAIN_WIDTH:-32} --batch 8 \
      --lr ${TRAIN_LR:-1e-3} --epochs 100000 --conv-variant $tv "${gflag[@]}" --out "$OUT/gpu-model" --log-every 100 \
      > "$OUT/train.log" 2>&1
    rc=$?; [ $rc = 130 ] && rc=0  # stopped by the time limit, checkpoint written
    record "tint train ($tv, ${T_TRAIN:-120} s)" $rc
    "$BIN/tint" export "$OUT/gpu-model" "$OUT/model16.safetensors" >> "$OUT/train.log" 2>&1
  fi
fi

# 5. compute-sanitizer racecheck (small shapes: the test binary's cuda backend; the emulated half is host
#    code; memcheck ran after the tests)
if [ -n "$CS" ]; then
  limit=$(cap ${T_RACECHECK:-100})
  if [ "$limit" -lt 20 ]; then skip "compute-sanitizer racecheck"; else
    { echo "== racecheck"; TINT_TEST_SKIP_EMU=1 timeout $limit "$CS" --tool racecheck --error-exitcode 9 \
        "$BIN/test_cuda_backends" "[conv],[reduce],*sum*,*bias*,*losses*"; } >> "$OUT/sanitizer.log" 2>&1
    record "compute-sanitizer racecheck" $?
  fi
  # synccheck (barriers and warp-synchronous calls, wmma's included, reached by the whole block or warp)
  # and initcheck (device memory read before it was written) on the same kernels
  for tool in synccheck initcheck; do
    limit=$(cap ${T_SYNC_INIT:-60})
    if [ "$limit" -lt 20 ]; then skip "compute-sanitizer $tool"; continue; fi
    { echo "== $tool"; TINT_TEST_SKIP_EMU=1 timeout $limit "$CS" --tool $tool --error-exitcode 9 \
        "$BIN/test_cuda_backends" "[conv],[reduce],*sum*,*bias*,*losses*"; } >> "$OUT/sanitizer.log" 2>&1
    record "compute-sanitizer $tool" $?
  done
else
  SUMMARY+=("compute-sanitizer                  not found")
fi
if [ -x "$BIN/tint" ]; then
  limit=$(cap ${T_TRAIN_BLOCK:-40})
  if [ "$limit" -lt 20 ]; then skip "tint bench --reduce-variant block"; else
    timeout $limit "$BIN/tint" bench --device cuda --batches 1,8 --reduce-variant block \
      --json "$OUT/train_step_block.json" > "$OUT/train_step_block.log" 2>&1
    record "tint bench --reduce-variant block" $?
  fi
fi

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
        for tf32 in (False, True):  # the fp32 variants against fp32 cuDNN, the -tf32 ones against cudnn-tf32
            cands = {i: t for (p, i), t in totals.items() if p == product and i.startswith("tint:")
                     and i.endswith("-tf32") == tf32 and counts[(p, i)] == layers}
            if not cands:
                continue
            best = min(cands, key=cands.get)
            cudnn = totals.get((product, "cudnn-tf32" if tf32 else "cudnn"))
            ratio = f", cudnn{'-tf32' if tf32 else ''}/tint {cudnn / cands[best]:.2f}" if cudnn else ""
            print(f"conv batch {b} {product:<10} fastest {best} {cands[best]:.3f} ms{ratio}; "
                  + ", ".join(f"{i[5:]} {t:.3f}" for i, t in sorted(cands.items(), key=lambda x: x[1])))
    # Per layer and product: the fastest tint variant and cuDNN's time, and the sum of those fastest (what a
    # per-shape rule could reach) against cuDNN's sum.
    per = defaultdict(dict)
    for r in data["conv"]:
        if r["ms"] is not None:
            per[(r["product"], r["layer"])][r["impl"]] = r["ms"]
    oracle = defaultdict(float)
    dnn_sum = defaultdict(float)
    for (product, layer), v in sorted(per.items()):
        tint = {i: t for i, t in v.items() if i.startswith("tint:") and i != "tint:naive" and not i.endswith("-tf32")}
        if not tint:
            continue
        best = min(tint, key=tint.get)
        oracle[product] += tint[best]
        dnn = v.get("cudnn")
        if dnn:
            dnn_sum[product] += dnn
        print(f"  b{b} {product:<10} {layer:<14} best {best[5:]:<10} {tint[best]:.4f} ms"
              + (f"  cudnn {dnn:.4f} ({dnn / tint[best]:.2f}x)" if dnn else "")
              + "  " + " ".join(f"{i[5:]}={t:.4f}" for i, t in sorted(tint.items(), key=lambda x: x[1])[:4]))
    for product in sorted(oracle):
        d = dnn_sum.get(product)
        print(f"conv batch {b} {product:<10} per-layer best sum {oracle[product]:.3f} ms"
              + (f", cudnn {d:.3f} ms, cudnn/tint {d / oracle[product]:.2f}" if d else ""))
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
  sed -n '/^batch  /,$p' "$OUT/train_step.log" | grep -v "^json:"   # tint bench's table and the peer
fi
[ -f "$OUT/train_step_graph_ab.log" ] && { echo "CUDA graphs (tint) against --graph off (nograph):"; sed -n '/^batch  /,$p' "$OUT/train_step_graph_ab.log" | grep -v "^json:"; }
[ -f "$OUT/train_step_tf32.log" ] && { echo "TF32 on both sides:"; sed -n '/^batch  /,$p' "$OUT/train_step_tf32.log" | grep -v "^json:"; }
[ -f "$OUT/train_step_block.log" ] && { echo "reduce variant block:"; sed -n '/^batch  /,$p' "$OUT/train_step_block.log" | grep -v "^json:"; }
[ -f "$OUT/train.log" ] && { echo "GPU training:"; grep -E "^tint train|validation" "$OUT/train.log" | tail -4; }
for v in ${WINO_VARIANTS:-winograd4-tf32x3}; do
  [ -f "$OUT/train_step_$v.log" ] && { echo "conv variant $v:"; sed -n '/^batch  /,$p' "$OUT/train_step_$v.log" | grep -v "^json:"; }
done
[ -f "$OUT/choice.log" ] && grep -v "^  b" "$OUT/choice.log"
grep -h "^== \|ERROR SUMMARY\|RACECHECK SUMMARY" "$OUT/sanitizer.log" 2>/dev/null
grep -h "^All tests passed\|^test cases:" "$OUT/tests.log" 2>/dev/null
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
