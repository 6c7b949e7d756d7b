#!/usr/bin/env bash
# Ctrl-C during `tint train`: the current step finishes, the checkpoint is written, the command says how
# to resume and exits with status 130; --resume then continues from that step.
# Usage: train_interrupt.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
st() { python3 tests/cli/safetensors_tool.py "$@"; }

# Long enough (1000 epochs) that only the signal can end it.
"$tint" train --size 32 --width 4 --levels 2 --batch 2 --epochs 1000 --log-every 1 --out "$work/run" \
  >"$work/out.txt" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q "step      1 " "$work/out.txt" && break; sleep 0.1; done
grep -q "step      1 " "$work/out.txt" || fail "no first step line: $(cat "$work/out.txt")"
kill -INT "$pid"
# One step and a checkpoint take well under a second here; a minute means the signal was not handled.
for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && fail "still running a minute after SIGINT"
wait "$pid"; rc=$?
pid=
cat "$work/out.txt"
[ $rc -eq 130 ] || fail "exit status $rc, not 130"
grep -q "interrupted at step [0-9]*; the checkpoint is written. Continue with: tint train --resume $work/run" \
  "$work/out.txt" || fail "no resume hint"
[ -s "$work/run/checkpoint.safetensors" ] || fail "no checkpoint after the interrupt"
ls "$work/run" | grep -q "\.tmp\." && fail "a temporary file was left: $(ls "$work/run")"
step=$(st meta "$work/run/checkpoint.safetensors" step)
[ "$step" -ge 1 ] || fail "checkpoint at step $step"
grep -q "^checkpoint (interrupted): .* at step $step$" "$work/out.txt" || fail "the checkpoint is not at the last step"

out=$("$tint" train --resume "$work/run" --steps $((step + 2)) 2>&1) || fail "resume failed: $out"
echo "$out" | grep -q "resumed $work/run at step $step " || fail "did not resume at step $step: $out"
[ "$(st meta "$work/run/checkpoint.safetensors" step)" = $((step + 2)) ] || fail "the resumed run did not step on"
echo "PASS"
