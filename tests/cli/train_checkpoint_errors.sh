#!/usr/bin/env bash
# Every way a checkpoint can be damaged is refused on --resume with exit 1 and ONE line that names the file,
# the tensor or metadata key, and what is wrong; nothing is trained, nothing is written.
# Usage: train_checkpoint_errors.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }

"$tint" train --size 32 --width 4 --levels 2 --batch 8 --steps 2 --out "$work/good" >/dev/null 2>&1 || fail "training"
good="$work/good/checkpoint.safetensors"

refused() {  # refused PATTERN EDIT-ACTIONS...: a copy of the good run with its checkpoint damaged
  local pattern=$1; shift
  rm -rf "$work/bad" && cp -r "$work/good" "$work/bad"
  python3 tests/cli/safetensors_tool.py edit "$good" "$work/bad/checkpoint.safetensors" "$@" || fail "edit $*"
  local before; before=$(cksum < "$work/bad/checkpoint.safetensors")
  out=$("$tint" train --resume "$work/bad" --steps 4 2>&1); rc=$?
  [ $rc -eq 1 ] || fail "exit $rc for $*: $out"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "not one line for $*: $out"
  echo "$out" | grep -q "$work/bad/checkpoint.safetensors" || fail "the file is not named for $*: $out"
  echo "$out" | grep -q -- "$pattern" || fail "error for $* does not say '$pattern': $out"
  [ "$(cksum < "$work/bad/checkpoint.safetensors")" = "$before" ] || fail "the damaged checkpoint was rewritten ($*)"
  echo "ok: $* -> $out"
}
refused "'down.0.conv1.weight' holds nan at element 3" set:down.0.conv1.weight:3:nan
refused "'up.0.conv.bias' holds inf at element 0" set:up.0.conv.bias:0:inf
refused "'adam.m' holds -inf at element 7" set:adam.m:7:-inf
refused "'adam.v' holds -0.5 at element 2: a second moment cannot be negative" set:adam.v:2:-0.5
refused "'adam.v' (Adam's moment) is missing" drop:adam.v
refused "'adam.m' has shape (1)" shrink:adam.m
refused "'down.1.conv2.weight' is missing" drop:down.1.conv2.weight
refused "'head.weight' has shape (1), the model needs" shrink:head.weight
refused "metadata 'step' is missing" unmeta:step
refused "metadata 'step' = 'abc' is not a whole number" meta:step=abc
refused "metadata 'epoch_position' = 99 is outside" meta:epoch_position=99
refused "metadata 'lr' = 'fast' is not a finite number" meta:lr=fast
refused "metadata 'width' = 'x'" meta:width=x
refused "metadata 'loss' = 'l7'" meta:loss=l7
refused "not a tint training checkpoint" meta:kind=other
refused "metadata 'mean_ab_sums' = '1,2'" meta:mean_ab_sums=1,2

# Not a safetensors file at all.
rm -rf "$work/bad" && cp -r "$work/good" "$work/bad" && echo "garbage" > "$work/bad/checkpoint.safetensors"
out=$("$tint" train --resume "$work/bad" --steps 4 2>&1) && fail "garbage accepted"
[ "$(echo "$out" | wc -l)" -eq 1 ] && echo "$out" | grep -q "$work/bad/checkpoint.safetensors" || fail "garbage: $out"
# Finite but huge weights overflow on the first step after the resume: an error that does not blame --lr
# (the checkpoint is kept as it was).
rm -rf "$work/bad" && cp -r "$work/good" "$work/bad"
python3 tests/cli/safetensors_tool.py edit "$good" "$work/bad/checkpoint.safetensors" set:down.0.conv1.weight:0:3e38 \
  set:down.0.conv1.weight:1:-3e38 set:down.0.conv1.weight:4:3e38 set:down.0.conv2.weight:0:3e38 \
  set:down.0.conv2.weight:1:-3e38 || fail "edit"
out=$("$tint" train --resume "$work/bad" --steps 4 2>&1) && fail "an overflowing model trained on"
echo "$out" | grep -q "the loss became .*nan at step 3 .*This is the first step from '$work/bad/checkpoint.safetensors'" \
  || fail "unclear overflow error: $out"
echo "$out" | grep -q "\-\-lr" && fail "the overflow of a loaded model is blamed on --lr: $out"
python3 tests/cli/safetensors_tool.py same "$good" "$work/bad/checkpoint.safetensors" && fail "checkpoint not the edited one"
[ "$(python3 tests/cli/safetensors_tool.py meta "$work/bad/checkpoint.safetensors" step)" = 2 ] || fail "checkpoint replaced"
echo "PASS"
