#!/usr/bin/env bash
# --precision tf32 on cuda-emu, training and colorizing. The run says so, trains through the TF32 tensor-core
# kernels (winograd2-tf32)
# and follows the fp32 run of the same seed closely but not bit for bit: TF32 rounds the 3x3 convolutions'
# operands to 11 significant bits (about 5e-4 of each layer's output scale, errors of either sign that the
# loss's mean over pixels averages down: measured 1e-7..5e-5 relative over three Adam steps), so the
# losses must agree to 1e-3 and must not be identical (identical would mean TF32 never ran). Colorizing two
# sample photos with the shipped model under tf32 changes at most one level of 8-bit colour (measured: 1, on
# under 1% of the pixels) and must change some pixel.
# Usage: train_tf32.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
# width 8: the 3x3 layers past the first have 8 channels or more, where Winograd runs (kernels/cuda/conv2d.h)
small=(--device cuda-emu --size 16 --width 8 --levels 2 --batch 2 --fit crop --steps 3)
export TINT_EMU_THREADS=2
out=$("$tint" train "${small[@]}" --precision tf32 --out "$work/tf32" --dump-batches "$work/d32" 2>&1) \
  || fail "tf32 run: $out"
echo "$out" | grep -q "precision: TF32 tensor cores for the 3x3 convolutions (conv variant winograd2-tf32)" \
  || fail "the tf32 run does not say its precision: $out"
"$tint" train "${small[@]}" --conv-variant winograd2 --out "$work/fp32" --dump-batches "$work/dfp" >/dev/null 2>&1 \
  || fail "fp32 run"
python3 - "$work/d32/losses.csv" "$work/dfp/losses.csv" <<'PY' || fail "losses"
import sys
def losses(p):
    rows = [l.strip().split(",") for l in open(p) if l.strip() and not l.startswith("step")]
    return [float(r[1]) for r in rows]
a, b = losses(sys.argv[1]), losses(sys.argv[2])
assert len(a) == len(b) == 3, (a, b)
for x, y in zip(a, b):
    assert abs(x - y) <= 1e-3 * abs(y), f"tf32 {x} against fp32 {y}"
assert a != b, f"tf32 and fp32 losses are identical: {a}"
print("tf32", a, "fp32", b)
PY
photos=(data/samples/val/krank_level-25.jpg data/samples/val/dlib_2008_007676.jpg)  # after cd "$src"
"$tint" colorize "${photos[@]}" --device cuda-emu --size 48 -o "$work/c32" >/dev/null 2>&1 || fail "colorize fp32"
"$tint" colorize "${photos[@]}" --device cuda-emu --size 48 --precision tf32 -o "$work/ctf" >/dev/null 2>&1 \
  || fail "colorize tf32"
changed=0
for p in "${photos[@]}"; do
  name=$(basename "${p%.*}").png
  d=$(python3 tests/cli/png_diff.py "$work/c32/$name" "$work/ctf/$name") || fail "png_diff $name"
  max=$(echo "$d" | sed -n 's/^max=\([0-9]*\) differing=\([0-9]*\).*/\1/p')
  n=$(echo "$d" | sed -n 's/^max=\([0-9]*\) differing=\([0-9]*\).*/\2/p')
  [ -n "$max" ] && [ "$max" -le 1 ] || fail "$name: tf32 moved a colour more than one level: $d"
  changed=$((changed + n))
done
[ "$changed" -gt 0 ] || fail "colorize --precision tf32 gave the fp32 pixels exactly (TF32 never ran?)"
echo pass
