#!/usr/bin/env bash
# The command line used wrongly, case by case: every misuse exits with status 1 and prints one error line that
# names the flag, argument, command or setting at fault (never a usage dump, an abort or a crash). The last
# case makes thread creation fail under a memory limit, where that works on this machine.
# usage: bash misuse.sh <tint-binary> <source-dir>; exit 0 pass, 1 fail, 77 skip.
set -u
TINT=$(realpath "$1")
SRC=$2
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
SAMPLES="$SRC/data/samples"

# expect "<text the error line must contain>" [VAR=value ...] -- <tint arguments...>
expect() {
  local want=$1
  shift
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  local out status
  out=$(env "${envs[@]}" timeout 60 "$TINT" "$@" 2>&1 >/dev/null)
  status=$?
  local lines
  lines=$(printf '%s\n' "$out" | grep -c .)
  if [ "$status" -ne 1 ] || [ "$lines" -ne 1 ] || ! printf '%s' "$out" | grep -qF -- "$want"; then
    echo "FAIL: tint $* (${envs[*]}): status $status, $lines lines, wanted one line with '$want':"
    printf '%s\n' "$out" | head -5 | sed 's/^/    /'
    failures=$((failures + 1))
  fi
}

# Commands.
expect "unknown command 'bogus'" -- bogus
expect "unknown command 'data frobnicate'" -- data frobnicate
# Options: unknown ones are called unknown, whether or not a value follows.
expect "unknown option --bogus" -- demo --bogus
expect "unknown option --bogus" -- demo --bogus 3
expect "unknown option --bogus" -- devices --bogus
expect "unknown option --bogus" -- data stats "$SAMPLES" --bogus 3
expect "unknown option --bogus" -- data fetch "$TMP/x" --bogus
expect "option --steps needs a value" -- demo --steps
expect "option --steps given twice" -- demo --steps=1 --steps=2
expect "option --help takes no value" -- devices --help=yes
expect "option --force takes no value" -- data fetch "$TMP/x" --force=yes
# Stray arguments in commands that take none, or more than they take.
expect "unexpected argument 'extra'" -- demo extra
expect "unexpected argument 'extra'" -- devices extra
expect "unexpected argument 'b'" -- data stats a b
expect "data stats: which folder?" -- data stats
expect "data fetch: which folder?" -- data fetch
# Numbers: not a number, out of range.
expect "--steps expects an integer, got 'abc'" -- demo --steps abc
expect "--steps expects an integer, got '99999999999'" -- demo --steps 99999999999
expect "--steps must be between 1 and" -- demo --steps 0
expect "--batch must be between 1 and" -- demo --batch -4
expect "--levels must be between 1 and 6" -- demo --levels 9
expect "--width must be between 1 and" -- demo --width 0
expect "--lr expects a number, got 'nan'" -- demo --lr nan
expect "--lr must be between 0 and 10" -- demo --lr -1
expect "--size 30 must be divisible by 2^levels = 4" -- demo --size 30
expect "unknown device 'tpu'" -- demo --device tpu
expect "--threads must be between 1 and 256, got 0" -- data stats "$SAMPLES" --threads 0
expect "--threads must be between 1 and 256, got 1024" -- data stats "$SAMPLES" --threads 1024
expect "--threads expects an integer, got '2x'" -- data stats "$SAMPLES" --threads 2x
expect "--max-megapixels must be between 1 and 100000, got 0" -- data stats "$SAMPLES" --max-megapixels 0
# Precision: tf32 exists on the CUDA backends only, and must agree with --conv-variant.
expect "--precision fp16: expected fp32 or tf32" -- bench --device cuda-emu --precision fp16
expect "--precision tf32: TF32 is a tensor-core format of the cuda and cuda-emu backends, not of cpu" \
  -- train --precision tf32 --steps 1
expect "--precision tf32 with --conv-variant winograd4: choose a -tf32 variant" \
  -- bench --device cuda-emu --precision tf32 --conv-variant winograd4
expect "--precision tf32: TF32 is a tensor-core format of the cuda and cuda-emu backends, not of cpu" \
  -- colorize "$SAMPLES/val" --precision tf32 -o "$TMP/c"
expect "--precision fp32 with --conv-variant winograd2-tf32: that variant multiplies in TF32" \
  -- train --device cuda-emu --precision fp32 --conv-variant winograd2-tf32 --steps 1
# Thread settings from the environment.
expect "TINT_THREADS='0': expected a whole number from 1 to 256" TINT_THREADS=0 -- demo --steps 1 --size 8 --width 2 --batch 1
expect "TINT_THREADS='100000': expected a whole number from 1 to 256" TINT_THREADS=100000 -- demo --steps 1 --size 8 --width 2 --batch 1
expect "TINT_THREADS='abc': expected a whole number from 1 to 256" TINT_THREADS=abc -- demo --steps 1 --size 8 --width 2 --batch 1
expect "TINT_EMU_THREADS='1000': expected a whole number from 1 to 256" TINT_EMU_THREADS=1000 -- demo --device cuda-emu --steps 1 --size 8 --width 2 --batch 1

# No command at all: the usage, on stderr, and status 1.
"$TINT" >/dev/null 2>&1
[ $? -eq 1 ] || { echo "FAIL: tint without a command should exit 1"; failures=$((failures + 1)); }
"$TINT" data >/dev/null 2>&1
[ $? -eq 1 ] || { echo "FAIL: tint data without a command should exit 1"; failures=$((failures + 1)); }
# Help still works everywhere, with status 0.
for cmd in "" demo devices data "data stats" "data fetch"; do
  # shellcheck disable=SC2086
  "$TINT" $cmd --help >/dev/null 2>&1 || { echo "FAIL: tint $cmd --help"; failures=$((failures + 1)); }
done

# Threads the system refuses: 40 decoding threads need 40 stacks of 8 MiB, more than a 150 MiB address space
# holds. The refusal must be an error naming the flag, not "terminate called without an active exception".
# Sanitizer builds reserve terabytes of address space and cannot run under such a limit: skipped there.
if (ulimit -v 150000 && "$TINT" devices >/dev/null 2>&1) 2>/dev/null; then
  out=$(ulimit -v 150000 && "$TINT" data stats "$SAMPLES" --threads 40 2>&1 >/dev/null)
  status=$?
  if [ "$status" -ne 1 ] || ! printf '%s' "$out" | grep -q "data stats --threads: cannot start 40 threads"; then
    echo "FAIL: refused threads under ulimit -v: status $status: $out"
    failures=$((failures + 1))
  fi
  out=$(ulimit -v 150000 && TINT_THREADS=256 "$TINT" demo --steps 1 --size 8 --width 2 --batch 1 2>&1 >/dev/null)
  status=$?
  if [ "$status" -ne 1 ] || ! printf '%s' "$out" | grep -q "set TINT_THREADS lower"; then
    echo "FAIL: refused pool threads under ulimit -v: status $status: $out"
    failures=$((failures + 1))
  fi
else
  echo "note: this binary cannot run under ulimit -v 150000 (a sanitizer build?): thread-refusal cases skipped"
fi

[ "$failures" -eq 0 ] || { echo "$failures misuse case(s) failed"; exit 1; }
echo "pass"
