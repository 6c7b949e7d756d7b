#!/usr/bin/env bash
# End to end: `tint train` on the embedded sample lowers nothing it shouldn't, writes its run folder,
# resumes from it, and rejects bad input with a message naming the culprit.
# Usage: train.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

out=$("$tint" train --size 32 --width 4 --levels 2 --epochs 2 --batch 8 --lr 2e-3 --out "$work/run" 2>&1) \
  || fail "training failed: $out"
echo "$out"
for f in log.csv model.safetensors optimizer.safetensors; do [ -s "$work/run/$f" ] || fail "missing $f"; done
[ "$(wc -l < "$work/run/log.csv")" -eq 3 ] || fail "log.csv should have a header and 2 epoch rows"
echo "$out" | grep -q "histogram intersection" || fail "no validation line"

out=$("$tint" train --resume "$work/run" --size 32 --width 4 --levels 2 --epochs 1 --batch 8 2>&1) || fail "resume failed: $out"
echo "$out" | grep -q "resumed .* at step 8" || fail "resume did not continue from step 8: $out"

out=$("$tint" train --resume "$work/run" --size 32 --width 8 --levels 2 --epochs 1 2>&1) && fail "resume with another width succeeded"
echo "$out" | grep -q "different --width" || fail "unclear error for a mismatched resume: $out"

mkdir -p "$work/empty"
out=$("$tint" train --data "$work/empty" --epochs 1 2>&1) && fail "training on an empty folder succeeded"
echo "$out" | grep -q "$work/empty" || fail "error does not name the folder: $out"

out=$("$tint" train --loss l3 2>&1) && fail "--loss l3 accepted"
echo "$out" | grep -q "l1 or l2" || fail "unclear --loss error: $out"
out=$("$tint" train --bogus 1 2>&1) && fail "unknown option accepted"
echo "$out" | grep -q "\-\-bogus" || fail "unknown option not named: $out"
"$tint" train --help | grep -q "usage: tint train" || fail "no --help"
echo "PASS"
