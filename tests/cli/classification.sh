#!/usr/bin/env bash
# The classification head end to end: `tint train --head classification` writes a model whose metadata says
# so and carries its ab bins and class weights; colorize and eval use it with no extra flag; eval scores the
# mode and mean decodes beside the annealed mean; a stopped classification run resumes bit-exactly on cpu;
# flags that do not fit the head are refused with one line naming them.
# Usage: classification.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
st() { python3 tests/cli/safetensors_tool.py "$@"; }
common=(--head classification --size 32 --width 4 --levels 2 --batch 6 --lr 2e-3 --epochs 2 --seed 3)

out=$("$tint" train "${common[@]}" --out "$work/full" 2>&1) || fail "training failed: $out"
echo "$out" | grep -q "class prior: 261 ab bins" || fail "no class prior line: $out"
model="$work/full/model.safetensors"
[ "$(st meta "$model" head)" = classification ] || fail "model metadata 'head' is not classification"
[ "$(st meta "$model" loss)" = ce ] || fail "model metadata 'loss' is not ce"
python3 - "$model" <<'PY' || fail "bins, weights or the head's shape are wrong"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
h = json.loads(raw[8:8 + n]); meta = h["__metadata__"]
bins = [tuple(map(int, b.split(":"))) for b in meta["ab_bins"].split(",")]
weights = [float(w) for w in meta["class_weights"].split(",")]
assert len(bins) == 261 == len(weights) == len(set(bins)), (len(bins), len(weights))
assert all(a % 10 == 0 and b % 10 == 0 for a, b in bins)
assert (0, 0) in bins and (80, 70) in bins and (120, 120) not in bins
assert all(w > 0 for w in weights)
assert h["head.weight"]["shape"] == [261, 4, 1, 1] and h["head.bias"]["shape"] == [261], h["head.weight"]
PY

# colorize: no flag needed; the temperature is checked.
"$tint" colorize --model "$work/full" data/samples/val/krank_level-25.jpg -o "$work/col" >"$work/col.log" 2>&1 \
  || fail "colorize failed: $(cat "$work/col.log")"
grep -q "classification head, T 0.38" "$work/col.log" || fail "colorize does not say which head: $(cat "$work/col.log")"
[ -s "$work/col/krank_level-25.png" ] || fail "no colorized output"
"$tint" colorize --model "$work/full" --temperature 0 data/samples/val/krank_level-25.jpg -o "$work/col0" >/dev/null 2>&1 \
  || fail "colorize with the mode failed"
cmp -s "$work/col/krank_level-25.png" "$work/col0/krank_level-25.png" && fail "the mode and the annealed mean gave the same picture"
out=$("$tint" colorize --model "$work/full" --temperature -1 data/samples/val/krank_level-25.jpg -o "$work/bad" 2>&1) \
  && fail "--temperature -1 accepted"
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q -- "--temperature" || fail "unclear --temperature error: $out"

# eval: no flag needed; --all-decodes adds the mode and the mean rows.
out=$("$tint" eval --model "$work/full" --data data/samples/val --all-decodes --examples 2 --out "$work/ev" 2>&1) \
  || fail "eval failed: $out"
python3 - "$work/ev/eval.json" <<'PY' || fail "eval rows are wrong"
import json, sys
j = json.load(open(sys.argv[1]))
names = [r["name"] for r in j["rows"] if r["kind"] == "model"]
assert names == ["full", "full (mode)", "full (mean, T 1)"], names
m = j["models"][0]
assert m["head"] == "classification" and abs(m["temperature"] - 0.38) < 1e-6, m
rows = {r["name"]: r for r in j["rows"]}
assert rows["full"]["psnr_db"] != rows["full (mode)"]["psnr_db"], rows
PY
grep -q "annealed mean at T = 0.38" "$work/ev/report.md" || fail "the report does not state the decode"

# Resume: stopped at step 4 of 12 and resumed, the same weights and Adam moments, byte for byte.
"$tint" train "${common[@]}" --steps 4 --workers 2 --out "$work/half" >/dev/null 2>&1 || fail "first half"
out=$("$tint" train --resume "$work/half" --workers 1 2>&1) || fail "resume: $out"
echo "$out" | grep -q "class prior" && fail "the resume recomputed the class prior instead of reading it"
st same "$work/full/checkpoint.safetensors" "$work/half/checkpoint.safetensors" || fail "resumed weights differ"
st same "$work/full/checkpoint.safetensors" "$work/half/checkpoint.safetensors" adam.m adam.v || fail "resumed moments differ"
[ "$(st meta "$work/full/checkpoint.safetensors" class_weights)" = "$(st meta "$work/half/checkpoint.safetensors" class_weights)" ] \
  || fail "class weights differ after resume"

# Flags that do not fit.
out=$("$tint" train --head classification --loss l1 --out "$work/x" 2>&1) && fail "--loss with the classification head accepted"
[ "$(echo "$out" | wc -l)" = 1 ] && echo "$out" | grep -q -- "--loss l1 is for the regression head" || fail "unclear --loss error: $out"
out=$("$tint" train --head softmax --out "$work/x" 2>&1) && fail "--head softmax accepted"
echo "$out" | grep -q -- "--head must be regression or classification" || fail "unclear --head error: $out"
out=$("$tint" train --resume "$work/half" --head regression --epochs 3 2>&1) && fail "resume with another head accepted"
echo "$out" | grep -q -- "--head regression contradicts" || fail "unclear resume --head error: $out"
# A damaged bin list is refused by name.
st edit "$model" "$work/bad.safetensors" meta:ab_bins=0:0,5:5 >/dev/null || fail "edit"
out=$("$tint" colorize --model "$work/bad.safetensors" data/samples/val/krank_level-25.jpg -o "$work/bad" 2>&1) \
  && fail "a damaged ab_bins accepted"
echo "$out" | grep -q "ab_bins" || fail "unclear ab_bins error: $out"
echo "PASS"
