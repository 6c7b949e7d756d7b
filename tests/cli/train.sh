#!/usr/bin/env bash
# End to end: `tint train` on the embedded sample writes its run folder (one checkpoint file, the model, the
# log), refuses to overwrite a run, resumes with its epoch counter and log, draws a progress bar on a
# terminal, allocates nothing after step 1, and rejects bad input with one line naming the culprit before
# creating anything.
# Usage: train.sh <tint binary> <source dir>
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
small=(--size 32 --width 4 --levels 2 --batch 8)

out=$("$tint" train "${small[@]}" --epochs 2 --lr 2e-3 --out "$work/run" 2>&1) || fail "training failed: $out"
echo "$out"
for f in log.csv checkpoint.safetensors model.safetensors loss.svg samples.png; do [ -s "$work/run/$f" ] || fail "missing $f"; done
# The loss curve carries both series and one point per epoch row of the log; the sample grid is a PNG.
grep -q "training loss" "$work/run/loss.svg" && grep -q "validation loss" "$work/run/loss.svg" || fail "loss.svg lacks a series"
[ "$(head -c 8 "$work/run/samples.png" | od -An -tx1 | tr -d ' ')" = "89504e470d0a1a0a" ] || fail "samples.png is not a PNG"
[ -e "$work/run/optimizer.safetensors" ] && fail "the old optimizer.safetensors is still written"
[ "$(wc -l < "$work/run/log.csv")" -eq 3 ] || fail "log.csv should have a header and 2 epoch rows"
echo "$out" | grep -q "histogram intersection" || fail "no validation line"
# The second epoch comes from the decoded-image cache (on by default; a worker running ahead of the first
# epoch's decode may still decode a file twice, so the count is not fixed).
echo "$out" | grep -q "[0-9]* samples from the memory cache" || fail "second epoch not from the cache: $out"
# 32 photos in full batches of 8: every step after the first reuses the cached blocks.
echo "$out" | grep -q "allocations after step 1: 0 allocs, 0 frees" || fail "allocations after step 1: $out"
case "$out" in *$'\r'*) fail "carriage returns in output that is not a terminal";; esac
mean=$(python3 tests/cli/safetensors_tool.py meta "$work/run/model.safetensors" mean_ab) || fail "no mean_ab"
[[ "$mean" =~ ^-?[0-9]+\.[0-9]+,-?[0-9]+\.[0-9]+$ ]] || fail "mean_ab '$mean' is not 'a,b'"

# --out on a finished run: refused, nothing touched; --overwrite replaces it.
before=$(cksum < "$work/run/checkpoint.safetensors")
out=$("$tint" train "${small[@]}" --epochs 1 --out "$work/run" 2>&1) && fail "--out over a run succeeded"
echo "$out" | grep -q "already holds a run" || fail "unclear refusal: $out"
[ "$(cksum < "$work/run/checkpoint.safetensors")" = "$before" ] || fail "the refused command changed the checkpoint"
[ "$(wc -l < "$work/run/log.csv")" -eq 3 ] || fail "the refused command changed the log"

# Resume: the run's 2 epochs are done; --epochs 3 continues with epoch 3, the log appended.
out=$("$tint" train --resume "$work/run" 2>&1) && fail "resuming a finished run succeeded"
echo "$out" | grep -q "finished its 2 epochs" || fail "unclear error for a finished run: $out"
out=$("$tint" train --resume "$work/run" --epochs 3 2>&1) || fail "resume failed: $out"
echo "$out" | grep -q "resumed .* at step 8 (epoch 3" || fail "resume did not continue from step 8, epoch 3: $out"
echo "$out" | grep -q "epoch   3 step     12" || fail "the epoch counter did not continue: $out"
[ "$(wc -l < "$work/run/log.csv")" -eq 4 ] || fail "log.csv was not appended"
[ "$(tail -1 "$work/run/log.csv" | cut -d, -f1,2)" = "12,3" ] || fail "last log row: $(tail -1 "$work/run/log.csv")"
[ "$(python3 tests/cli/safetensors_tool.py meta "$work/run/model.safetensors" mean_ab)" = "$mean" ] \
  || fail "mean_ab changed on resume"

out=$("$tint" train --resume "$work/run" --width 8 --epochs 4 2>&1) && fail "resume with another width succeeded"
echo "$out" | grep -q "\-\-width 8 contradicts .*(4 in" || fail "unclear error for a mismatched resume: $out"
out=$("$tint" train "${small[@]}" --epochs 1 --overwrite --out "$work/run" 2>&1) || fail "--overwrite failed: $out"
[ "$(wc -l < "$work/run/log.csv")" -eq 2 ] || fail "--overwrite did not start a new log"

# A temporary file left by a killed write is removed on the next start.
touch "$work/run/checkpoint.safetensors.tmp.2147483000"
out=$("$tint" train --resume "$work/run" --epochs 2 2>&1) || fail "resume failed: $out"
[ -e "$work/run/checkpoint.safetensors.tmp.2147483000" ] && fail "stale temporary file kept"
echo "$out" | grep -q "removed .*tmp.2147483000" || fail "the removal is not reported: $out"

# The old two-file layout cannot be resumed.
mkdir -p "$work/old" && cp "$work/run/model.safetensors" "$work/old/" && cp "$work/run/model.safetensors" "$work/old/optimizer.safetensors"
out=$("$tint" train --resume "$work/old" 2>&1) && fail "resumed the old layout"
echo "$out" | grep -q "old layout" || fail "unclear error for the old layout: $out"

# On a terminal: a progress bar redrawn in place.
if command -v script >/dev/null; then
  out=$(script -qec "$tint train ${small[*]} --epochs 1 --out $work/tty" /dev/null 2>&1) || fail "tty run failed: $out"
  echo "$out" | grep -q $'\r.*epoch 1/1 \[#* *\] [0-9]*/32 loss [0-9.]* [0-9.]* img/s ETA' || fail "no progress bar: $out"
  echo "$out" | grep -q "epoch 1/1 \[##############################\] 32/32" || fail "the bar does not end full: $out"
fi

# --dump-graph writes the first step's graph.
out=$("$tint" train "${small[@]}" --steps 1 --dump-graph "$work/step.dot" --out "$work/g" 2>&1) || fail "dump-graph: $out"
grep -q "^digraph" "$work/step.dot" && grep -q "conv" "$work/step.dot" || fail "not a graph: $(head -3 "$work/step.dot")"

# Bad input: exit 1, one line naming the flag or folder, and no run folder left behind.
expect_error() {  # expect_error PATTERN ARGS...
  local pattern=$1; shift
  rm -rf "$work/new"
  out=$("$tint" train --out "$work/new" "$@" 2>&1); rc=$?
  [ $rc -eq 1 ] || fail "exit $rc (not 1) for $*: $out"
  [ "$(echo "$out" | wc -l)" -eq 1 ] || fail "more than one line for $*: $out"
  echo "$out" | grep -q -- "$pattern" || fail "error for $* does not say '$pattern': $out"
  [ -e "$work/new" ] && fail "a failed command left the run folder behind: $*"
  return 0
}
mkdir -p "$work/empty"
expect_error "$work/empty" --data "$work/empty"
expect_error "l1 or l2" --loss l3
expect_error "\-\-bogus" --bogus 1
expect_error "\-\-levels must be between 1 and 6, got 40" --levels 40
expect_error "\-\-levels must be between 1 and 6, got 0" --levels 0
expect_error "\-\-size 36 must be a multiple of 2^levels = 8" --size 36 --levels 3
expect_error "\-\-epochs must be between 1 and" --epochs 0
expect_error "\-\-workers must be between 1 and 64, got 1000" --workers 1000
expect_error "\-\-cache-mb must be between 0 and 1048576, got -1" --cache-mb -1
expect_error "\-\-lr expects a number" --lr nan
expect_error "\-\-lr must be above 0" --lr 0
expect_error "\-\-steps must be between" --steps -3
expect_error "unexpected argument 'somewhere'" somewhere
expect_error "\-\-dump-graph" --dump-graph "$work/missing/dir/g.dot"
out=$("$tint" train --resume "$work/empty" 2>&1) && fail "resumed an empty folder"
echo "$out" | grep -q "\-\-resume '$work/empty' has no checkpoint" || fail "unclear --resume error: $out"
# Threads that cannot be created (no memory for 64 stacks under a 400 MB address-space limit): an error
# naming --workers, not std::terminate. ASan cannot run under such a limit at all, so it skips this part.
out=$(ulimit -v 400000; "$tint" train "${small[@]}" --steps 1 --workers 64 --out "$work/new" 2>&1); rc=$?
if echo "$out" | grep -q "Sanitizer"; then
  echo "skipped the thread-failure check: sanitizer build"
else
  [ $rc -eq 1 ] || fail "exit $rc for a thread that could not start: $out"
  echo "$out" | grep -q "could not start thread .*--workers" || fail "unclear thread failure: $out"
  [ -e "$work/new" ] && fail "the thread failure left the run folder behind"
fi
# A failure inside the first step (a dump that cannot be written) removes the run folder it created.
mkdir -p "$work/dumps/step_000001_L.npy"
out=$("$tint" train "${small[@]}" --steps 2 --dump-batches "$work/dumps" --out "$work/new/runs/a" 2>&1) && fail "unwritable dump"
echo "$out" | grep -q "step_000001_L.npy" || fail "the unwritable dump is not named: $out"
[ -e "$work/new" ] && fail "a run that failed in its first step left its folders behind"
touch "$work/afile"
out=$("$tint" train "${small[@]}" --epochs 1 --out "$work/afile" 2>&1) && fail "--out on a file succeeded"
echo "$out" | grep -q "\-\-out '$work/afile' is a file" || fail "unclear --out error: $out"
out=$("$tint" train "${small[@]}" --epochs 1 --out "$work/afile/sub" 2>&1) && fail "--out under a file succeeded"
echo "$out" | grep -q "\-\-out '$work/afile/sub': cannot create" || fail "unclear --out error: $out"
"$tint" train --help | grep -q "usage: tint train" || fail "no --help"
echo "PASS"
