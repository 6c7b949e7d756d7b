#!/usr/bin/env bash
# benchmarks/gpu/check.sh, the one prepared run for a lent GPU, checked without one: it parses, its dry run
# (no GPU) says so and exits 0, and its choice step (python reading the benchmark JSON) picks the fastest
# fp32 and TF32 variants apart from synthetic JSON, each against its own cuDNN baseline, and the fastest
# reduce variant. A GPU call lost to a typo in this script costs minutes that cannot be had back.
# Usage: gpu_check_dry.sh <tint binary> <source dir>
set -u
src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
check=$src/benchmarks/gpu/check.sh
bash -n "$check" || fail "check.sh does not parse"
bash -n "$src/benchmarks/gpu/lease.sh" || fail "lease.sh does not parse"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  out=$(OUT="$work/dry" bash "$check" 2>&1) || fail "the dry run exited non-zero: $out"
  echo "$out" | grep -q "NO GPU: .*this is the dry run" || fail "the dry run does not say so: $out"
fi
command -v python3 >/dev/null 2>&1 || { echo "no python3: choice step not checked"; exit 77; }
# The choice step, exactly as check.sh runs it.
sed -n "/<<'PY'$/,/^PY$/p" "$check" | sed '1d;$d' > "$work/choice.py"
[ -s "$work/choice.py" ] || fail "no choice step found in check.sh"
mkdir -p "$work/out"
python3 - "$work/out" <<'GEN'
import json, os, sys
rows = []
times = {"cudnn": 1.0, "cudnn-tf32": 0.5, "tint:igemm2": 1.2, "tint:winograd4": 0.9,
         "tint:winograd4-tf32": 0.4, "tint:winograd2-tf32": 0.45, "tint:winograd4-tf32x3": 0.8}
for layer in ("down.1.conv1", "up.0.conv"):
    for product in ("fwd", "bwd_data", "bwd_weight"):
        for impl, ms in times.items():
            rows.append({"layer": layer, "batch": 8, "product": product, "impl": impl, "ms": ms})
mem = [{"kernel": "sum [tree]", "ms": 0.05}, {"kernel": "sum [tree4]", "ms": 0.04}, {"kernel": "sum [block]", "ms": 3.2}]
json.dump({"conv": rows, "memory_kernels": mem}, open(os.path.join(sys.argv[1], "bench_b8.json"), "w"))
GEN
python3 "$work/choice.py" "$work/out" > "$work/choice.log" 2>&1 || fail "choice step: $(cat "$work/choice.log")"
want() { grep -qF -- "$1" "$work/choice.log" || fail "choice.log lacks '$1': $(cat "$work/choice.log")"; }
want "conv batch 8 fwd        fastest tint:winograd4-tf32x3 1.600 ms, cudnn/tint 1.25"
want "conv batch 8 fwd        fastest tint:winograd4-tf32 0.800 ms, cudnn-tf32/tint 1.25"
want "conv batch 8 bwd_weight per-layer best sum 1.600 ms, cudnn 2.000 ms, cudnn/tint 1.25"
want "reduce sum                    fastest tree4"
echo pass
