#!/usr/bin/env bash
# End to end: `tint colorize` with a tiny model trained here. A folder with a corrupt file among good ones
# (exit 1, the good ones written at their own sizes), outputs never written over inputs, --side-by-side and
# --grid sizes, a list file, errors naming the culprit; `tint export` to F16 and colorizing with it.
# Usage: colorize.sh <tint binary> <source dir>
set -u
tint=$(realpath "$1"); src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

# Width x height of a PNG, from its IHDR chunk (bytes 16..23, big-endian).
png_size() { od -An -tu1 -j16 -N8 "$1" | awk '{printf "%dx%d", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'; }
# Width x height of any image the loader reads, as `tint data stats` reports it.
image_size() {
  local d; d=$(mktemp -d -p "$work"); cp "$1" "$d/"
  "$tint" data stats "$d" | sed -n 's/.*smallest \([0-9]*x[0-9]*\),.*/\1/p'
}

"$tint" colorize --help | grep -q "usage: tint colorize" || fail "no --help"
"$tint" export --help | grep -q "usage: tint export" || fail "no export --help"

out=$("$tint" train --size 32 --width 8 --levels 2 --steps 2 --epochs 1 --out "$work/run" 2>&1) \
  || fail "training the tiny model failed: $out"

mkdir -p "$work/in/sub"
cp data/samples/val/krank_level-25.jpg "$work/in/a.jpg"
cp data/samples/val/dlib_2008_007676.jpg "$work/in/sub/b.jpg"
head -c 3000 data/samples/val/krank_level-26.jpg > "$work/in/broken.jpg"  # truncated JPEG
size_a=$(image_size "$work/in/a.jpg"); size_b=$(image_size "$work/in/sub/b.jpg")
[ -n "$size_a" ] && [ -n "$size_b" ] || fail "could not read the input sizes"

# A folder with one bad file: exit 1, one line naming it, the others written at their own size.
out=$("$tint" colorize "$work/in" -o "$work/out" --model "$work/run" --batch 2 --workers 2 2>&1) \
  && fail "a folder with a corrupt file exited 0: $out"
echo "$out"
echo "$out" | grep -q "failed: .*broken.jpg" || fail "the corrupt file is not named: $out"
[ "$(echo "$out" | grep -c 'failed: ')" -eq 1 ] || fail "expected exactly one failure line: $out"
echo "$out" | grep -q "2 colorized, 1 failed" || fail "no summary line: $out"
[ "$(png_size "$work/out/a.png")" = "$size_a" ] || fail "a.png is $(png_size "$work/out/a.png"), input $size_a"
[ "$(png_size "$work/out/sub/b.png")" = "$size_b" ] || fail "sub/b.png is $(png_size "$work/out/sub/b.png"), input $size_b"
[ ! -e "$work/out/broken.png" ] || fail "an output was written for the corrupt file"

# Outputs never replace inputs: a PNG input colorized into its own folder is refused, left untouched.
mkdir -p "$work/self"
cp "$work/out/a.png" "$work/self/p.png"
before=$(cksum < "$work/self/p.png")
out=$("$tint" colorize "$work/self" -o "$work/self" --model "$work/run" 2>&1) && fail "overwriting an input exited 0"
echo "$out" | grep -q "refusing to write .*p.png" || fail "no refusal line for an output over its input: $out"
[ "$(cksum < "$work/self/p.png")" = "$before" ] || fail "the input file was changed"

# --side-by-side: grey | colorized | original (colour input), cells at the input's size, 4 px apart.
"$tint" colorize "$work/in/a.jpg" -o "$work/sbs" --side-by-side --model "$work/run" \
  --grid "$work/grid.png" --grid-height 64 >/dev/null 2>&1 || fail "--side-by-side failed"
w=${size_a%x*}; h=${size_a#*x}
[ "$(png_size "$work/sbs/a.png")" = "$((3 * w + 8))x$h" ] || fail "side-by-side is $(png_size "$work/sbs/a.png"), expected $((3 * w + 8))x$h"
# --grid: one row of three cells 64 px high.
[ "$(png_size "$work/grid.png" | cut -dx -f2)" = "64" ] || fail "grid is $(png_size "$work/grid.png"), expected 64 px high"

# A list file (paths relative to the list's folder), with JPEG output.
printf '# inputs\na.jpg\n\nsub/b.jpg\n' > "$work/in/list.txt"
out=$("$tint" colorize "@$work/in/list.txt" -o "$work/listed" --format jpg --quality 80 --model "$work/run" 2>&1) \
  || fail "list input failed: $out"
[ -s "$work/listed/a.jpg" ] && [ -s "$work/listed/sub/b.jpg" ] || fail "list outputs missing: $(ls -R "$work/listed")"

# export to F16: about half the size, and it colorizes the same image.
out=$("$tint" export "$work/run" "$work/model16.safetensors" 2>&1) || fail "export failed: $out"
echo "$out"
s32=$(stat -c %s "$work/run/model.safetensors"); s16=$(stat -c %s "$work/model16.safetensors")
[ $((s16 * 10)) -lt $((s32 * 6)) ] || fail "the F16 file ($s16 bytes) is not about half of the F32 one ($s32)"
TINT_MODEL="$work/model16.safetensors" "$tint" colorize "$work/in/a.jpg" -o "$work/f16" >/dev/null 2>&1 \
  || fail "colorize with \$TINT_MODEL (F16) failed"
[ "$(png_size "$work/f16/a.png")" = "$size_a" ] || fail "F16 output has the wrong size"

# Errors name the culprit.
out=$("$tint" colorize "$work/in/a.jpg" --model "$work/nothing" 2>&1) && fail "a missing model was accepted"
echo "$out" | grep -q "$work/nothing" || fail "missing model not named: $out"
out=$("$tint" colorize "$work/in/a.jpg" --model "$work/run" --size 30 2>&1) && fail "--size 30 accepted for levels 2"
echo "$out" | grep -q "multiple of 4" || fail "unclear --size error: $out"
out=$("$tint" colorize "$work/in/a.jpg" --model "$work/run" --batch 0 2>&1) && fail "--batch 0 accepted"
echo "$out" | grep -q "\-\-batch" || fail "--batch not named: $out"
out=$("$tint" colorize "$work/in/a.jpg" --model "$work/run" --format gif 2>&1) && fail "--format gif accepted"
out=$(cd "$work" && TINT_MODEL= "$tint" colorize "$work/in/a.jpg" 2>&1)
if [ ! -e "$src/models/pretrained/tint-colorizer.safetensors" ]; then
  echo "$out" | grep -q "pass --model" || fail "no default model: unclear error: $out"
fi
out=$("$tint" export "$work/run" 2>&1) && fail "export with one argument accepted"
echo "PASS"
