#!/usr/bin/env bash
# tint train --graph on cuda-emu (whose stream capture records and replays as CUDA's does): the run replays
# the captured step from its second step on and ends with the losses and weights of the run op by op, bit for
# bit (--dump-batches' losses.csv and final.safetensors), through epoch ends with validation, a batch of
# another size (a bad file shortens one batch an epoch: that step runs op by op between replays) and a resume;
# the runs it does not apply to say so in one line.
# Usage: train_graph.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
mkdir -p "$work/data"
ls data/samples/train/* | head -11 | while read -r f; do cp "$f" "$work/data/"; done
printf 'not a photo' > "$work/data/zz_bad.jpg"  # 12 files, batch 3: one batch of 2 each epoch
small=(--device cuda-emu --size 16 --width 4 --levels 1 --batch 3 --workers 1 --data "$work/data"
       --val data/samples/val)

for g in on off; do
  out=$("$tint" train "${small[@]}" --epochs 2 --graph $g --out "$work/run_$g" --dump-batches "$work/dump_$g" 2>&1) \
    || fail "--graph $g: $out"
  if [ $g = on ]; then
    echo "$out" | grep -q "^CUDA graphs: the step replayed from step 2" || fail "no graph line: $out"
  else
    echo "$out" | grep -q "CUDA graphs" && fail "graphs named with --graph off: $out"
  fi
done
[ "$(wc -l < "$work/dump_on/losses.csv")" -eq 9 ] || fail "8 steps expected: $(cat "$work/dump_on/losses.csv")"
diff "$work/dump_on/losses.csv" "$work/dump_off/losses.csv" || fail "losses differ between --graph on and off"
cmp -s "$work/dump_on/final.safetensors" "$work/dump_off/final.safetensors" || fail "final weights differ"
python3 - "$work" <<'PY' || fail "short batch"
import numpy as np, sys
w = sys.argv[1]
sizes = [np.load(f"{w}/dump_on/step_{s:06d}_L.npy").shape[0] for s in range(1, 9)]
assert sorted(set(sizes)) == [2, 3] and sizes.count(2) == 2, sizes  # the short batch ran, once an epoch
PY

# Resumed with graphs: the same weights as the run straight through.
"$tint" train "${small[@]}" --steps 3 --out "$work/resumed" > /dev/null 2>&1 || fail "first half"
out=$("$tint" train --resume "$work/resumed" --device cuda-emu --steps 8 --dump-batches "$work/dump_resumed" 2>&1) \
  || fail "resume: $out"
echo "$out" | grep -q "^CUDA graphs" || fail "resumed run without graphs: $out"
cmp -s "$work/dump_resumed/final.safetensors" "$work/dump_on/final.safetensors" || fail "resumed weights differ"

expect_error() {  # pattern, args...
  local pattern=$1; shift
  local o; o=$("$tint" train "$@" --out "$work/never" 2>&1) && fail "accepted: $*"
  [ "$(echo "$o" | wc -l)" -eq 1 ] || fail "not one line for $*: $o"
  echo "$o" | grep -q -- "$pattern" || fail "unclear for $*: $o"
  [ -e "$work/never" ] && fail "a refused run created its folder: $*"
  return 0
}
expect_error "--graph on: CUDA graphs need --device cuda or cuda-emu" --size 16 --width 4 --levels 1 --graph on
expect_error "--graph on: CUDA graphs need" "${small[@]}" --hints --graph on
expect_error "--graph on: CUDA graphs need" "${small[@]}" --micro-batches 3 --graph on
expect_error "--graph maybe: expected on or off" "${small[@]}" --graph maybe
echo "train_graph: ok"
