#!/usr/bin/env bash
# The CPU figures of the README in one run: the training step against PyTorch (128² batch 1 and 8, 256²
# batch 1), every conv product of a 256² step against PyTorch with each named algorithm, and the data
# pipeline against PIL + numpy. Each benchmark measures its peer in the same invocation (the step's peer
# interleaved with tint's steps, one pair at a time: tint bench --peer-mode interleaved, the default, so
# each pair is a ratio; the logs' "per pair" lines have their median and range); this script adds the
# machine (CPU model, flags, load before and after) so the figures carry their conditions.
#
#   bash benchmarks/cpu_check.sh --torch ~/venv-torch/bin/python [--pil ~/venv-pil/bin/python]
#        [--build build-rel] [--data ~/tintdata/train] [--out DIR] [--baseline OLD_TINT_BINARY]
#
# --torch: an interpreter with PyTorch 2.x (pip, in a virtual environment); --pil: one with pillow and numpy
# (defaults to --torch). Without them the peers are skipped and the tables say so. --baseline times an older
# tint binary's step in the same run (before/after). Build first:
#   cmake -S . -B build-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DTINT_CUDA=OFF
#   cmake --build build-rel --target tint bench_cpu_conv bench_data_pipeline
set -u
TORCH= PIL= BUILD=build-rel DATA= OUT= BASELINE= STEPS=10 WARMUP=2
while [ $# -gt 0 ]; do
  case "$1" in
    --torch) TORCH=$2; shift 2 ;;
    --pil) PIL=$2; shift 2 ;;
    --build) BUILD=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --baseline) BASELINE=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "cpu_check.sh: unknown argument '$1' (--help lists them)" >&2; exit 1 ;;
  esac
done
cd "$(dirname "$0")/.."
OUT=${OUT:-out-cpu-$(date +%Y%m%d-%H%M)}
PIL=${PIL:-$TORCH}
mkdir -p "$OUT"
for b in tint benchmarks/bench_cpu_conv benchmarks/bench_data_pipeline; do
  [ -x "$BUILD/$b" ] || [ -x "$BUILD/tools/$b" ] || { echo "cpu_check.sh: $BUILD has no $b: build it first (--help)" >&2; exit 1; }
done
TINT=$BUILD/tools/tint
peer() { [ -n "$1" ] && echo "--peer $1"; }
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) threads"
  echo "isa flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx512f|avx2|fma' | sort -u | tr '\n' ' ')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

say() { echo "== $*" | tee -a "$OUT/machine.txt"; }
say "training step, 128² batch 1 and 8"
$TINT bench --device cpu --size 128 --batches 1,8 --steps "$STEPS" --warmup "$WARMUP" $(peer "$TORCH") \
  --json "$OUT/step128.json" 2>&1 | tee "$OUT/step128.log"
say "training step, 256² batch 1"
$TINT bench --device cpu --size 256 --batches 1 --steps "$STEPS" --warmup "$WARMUP" $(peer "$TORCH") \
  --json "$OUT/step256.json" 2>&1 | tee "$OUT/step256.log"
if [ -n "$BASELINE" ]; then
  say "baseline binary $BASELINE: the same steps, no peer"
  "$BASELINE" bench --device cpu --size 128 --batches 1,8 --steps "$STEPS" --warmup "$WARMUP" 2>&1 | tee "$OUT/baseline128.log"
  "$BASELINE" bench --device cpu --size 256 --batches 1 --steps "$STEPS" --warmup "$WARMUP" 2>&1 | tee "$OUT/baseline256.log"
fi
say "conv products of a 256² batch 1 step, every algorithm"
$BUILD/benchmarks/bench_cpu_conv --batches 1 --variants auto,gemm,implicit,winograd4,winograd2 --repeats 3 \
  --no-ref $(peer "$TORCH") --json "$OUT/conv.json" 2>&1 | tee "$OUT/conv.log"
if [ -n "$DATA" ]; then
  say "data pipeline on $DATA"
  $BUILD/benchmarks/bench_data_pipeline --dir "$DATA" --workers 1,2 --repeats 3 $(peer "$PIL") \
    --json "$OUT/data.json" 2>&1 | tee "$OUT/data.log"
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
