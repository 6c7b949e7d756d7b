#!/usr/bin/env bash
# Resuming is bit-exact on the CPU backends: a run stopped mid-epoch (--steps k) and resumed, even several
# times and with another worker count, ends with the same weights AND Adam moments, byte for byte, as the
# uninterrupted run, with the same step, epoch position and mean a/b.
# Usage: train_resume.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
st() { python3 tests/cli/safetensors_tool.py "$@"; }
# 32 photos in batches of 6: 6 steps an epoch, the last one short; random crops and flips.
common=(--size 32 --width 4 --levels 2 --batch 6 --fit crop --lr 2e-3 --epochs 2 --seed 5)

same_run() {  # same_run A B: final checkpoints identical in every tensor and in the run's position
  st same "$1/checkpoint.safetensors" "$2/checkpoint.safetensors" || fail "$1 and $2 differ in their tensors"
  st same "$1/checkpoint.safetensors" "$2/checkpoint.safetensors" adam.m adam.v || fail "Adam's moments differ"
  for key in step epoch epoch_position mean_ab mean_ab_sums; do
    [ "$(st meta "$1/checkpoint.safetensors" $key)" = "$(st meta "$2/checkpoint.safetensors" $key)" ] \
      || fail "metadata $key differs between $1 and $2"
  done
}

for device in cpu cpu-ref; do
  "$tint" train "${common[@]}" --device $device --out "$work/$device-full" >/dev/null 2>&1 || fail "$device: full run"
  [ "$(st meta "$work/$device-full/checkpoint.safetensors" step)" = 12 ] || fail "$device: the full run is not 12 steps"

  # Stopped mid-epoch 1 (step 4 of 6), resumed with another worker count.
  out=$("$tint" train "${common[@]}" --device $device --steps 4 --workers 2 --out "$work/$device-a" 2>&1) \
    || fail "$device: first half: $out"
  [ "$(st meta "$work/$device-a/checkpoint.safetensors" epoch_position)" = 24 ] || fail "$device: position after step 4"
  out=$("$tint" train --resume "$work/$device-a" --device $device --workers 1 2>&1) || fail "$device: resume: $out"
  echo "$out" | grep -q "resumed .* at step 4 (epoch 1, after 4 batches" || fail "$device: resume line: $out"
  same_run "$work/$device-full" "$work/$device-a"
  [ "$(tail -1 "$work/$device-a/log.csv" | cut -d, -f1,2)" = "12,2" ] || fail "$device: the log does not end at step 12, epoch 2"

  # Stopped twice: inside epoch 1, then inside epoch 2 (step 9).
  "$tint" train "${common[@]}" --device $device --steps 2 --out "$work/$device-b" >/dev/null 2>&1 || fail "$device: b1"
  "$tint" train --resume "$work/$device-b" --device $device --steps 9 >/dev/null 2>&1 || fail "$device: b2"
  [ "$(st meta "$work/$device-b/checkpoint.safetensors" epoch)" = 1 ] || fail "$device: step 9 is not in epoch 2"
  "$tint" train --resume "$work/$device-b" --device $device >/dev/null 2>&1 || fail "$device: b3"
  same_run "$work/$device-full" "$work/$device-b"
done
echo "PASS"
