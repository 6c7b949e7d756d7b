#!/usr/bin/env bash
# Data-parallel training under mpirun on the CPU backends (tools/cmd_train.cpp, engine/comm*.cpp):
#   - N ranks at a global batch B end with the same weights and Adam moments, byte for byte, as one process
#     at batch B with --micro-batches N (2 ranks on cpu, cpu-ref and, for 3 steps, cuda-emu; 3 ranks on cpu,
#     where the order of the sum matters), over two epochs whose last batch is short;
#   - and within 1e-5 (relative to each tensor's largest weight) of one process at plain batch B;
#   - a distributed run stopped with --steps resumes, under mpirun or in one process, to the same bits;
#   - a killed rank ends the job with a message naming it, a hung one (SIGSTOP) too, after --comm-timeout;
#     the last checkpoint stays whole and resumable.
# Usage: train_distributed.sh <tint binary> <source dir>. Exit 77 (skipped) without mpirun or MPI in the build.
set -u
tint=$1; src=$2
command -v mpirun >/dev/null || { echo "SKIP: mpirun is not installed"; exit 77; }
work=$(mktemp -d)
trap 'for p in $(jobs -p); do kill -9 $p 2>/dev/null; done; rm -rf "$work"' EXIT
cd "$src" || exit 1
fail() { echo "FAIL: $*"; exit 1; }
st() { python3 tests/cli/safetensors_tool.py "$@"; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# In the sanitizer build, leak checking is off in processes that start MPI: Open MPI leaks from components
# it unloads at exit, which LeakSanitizer can then neither name nor suppress. ASan and UBSan stay on, and the
# single-process runs below keep leak checking.
mpi_env=(env "ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
mpi() { local np=$1; shift; timeout 300 "${mpi_env[@]}" mpirun -np "$np" --oversubscribe --bind-to none "$tint" "$@"; }

out=$("${mpi_env[@]}" "$tint" train --distributed --size 32 --width 2 --levels 1 --batch 4 --steps 2 --out "$work/probe" 2>&1)
if echo "$out" | grep -q "has no MPI\|cannot load tint's MPI plugin"; then echo "SKIP: $out"; exit 77; fi
echo "$out" | grep -q "scaling: 1 rank (mpi)" || fail "one process with --distributed: $out"

# 32 photos at a global batch of 6: 6 steps an epoch, the last of 2 samples (1 per rank, 2 parts of 1).
base=(--size 32 --width 4 --levels 2 --lr 2e-3 --seed 5 --fit crop --batch 6)
common=("${base[@]}" --epochs 2 --comm-timeout 120)
same_run() {  # same_run A B: identical weights, Adam moments, step and data position
  st same "$1/checkpoint.safetensors" "$2/checkpoint.safetensors" || fail "$1 and $2 differ in their weights"
  st same "$1/checkpoint.safetensors" "$2/checkpoint.safetensors" adam.m adam.v || fail "$1 and $2: Adam's moments differ"
  for key in step epoch epoch_position; do
    [ "$(st meta "$1/checkpoint.safetensors" $key)" = "$(st meta "$2/checkpoint.safetensors" $key)" ] \
      || fail "metadata $key differs between $1 and $2"
  done
}

for device in cpu cpu-ref cuda-emu; do
  steps=12; [ $device = cuda-emu ] && steps=3  # the emulator is slow: 3 steps there
  out=$(mpi 2 train "${common[@]}" --steps $steps --device $device --out "$work/d2-$device" 2>&1) || fail "$device: 2 ranks: $out"
  echo "$out" | grep -q "distributed (started by an MPI launcher): 2 ranks (mpi), 3 samples of each batch per rank" \
    || fail "$device: the run does not say it is distributed: $out"
  echo "$out" | grep -q "scaling: 2 ranks (mpi), global batch 6: .* s/step, .* img/s, communication .*% of the step" \
    || fail "$device: no scaling line: $out"
  [ "$(st meta "$work/d2-$device/checkpoint.safetensors" step)" = $steps ] || fail "$device: 2 ranks did not take $steps steps"
  "$tint" train "${common[@]}" --steps $steps --device $device --micro-batches 2 --out "$work/m2-$device" >/dev/null 2>&1 \
    || fail "$device: --micro-batches 2"
  same_run "$work/d2-$device" "$work/m2-$device"
done

out=$(mpi 3 train "${common[@]}" --out "$work/d3" 2>&1) || fail "3 ranks: $out"
"$tint" train "${common[@]}" --micro-batches 3 --out "$work/m3" >/dev/null 2>&1 || fail "--micro-batches 3"
same_run "$work/d3" "$work/m3"

# One process at plain batch 6 sums the batch inside each kernel: not the same bits, but close.
"$tint" train "${common[@]}" --out "$work/plain" >/dev/null 2>&1 || fail "plain batch 6"
python3 - "$work/plain/checkpoint.safetensors" "$work/d2-cpu/checkpoint.safetensors" <<'PY' || fail "2 ranks vs plain batch 6"
import struct, sys
sys.path.insert(0, "tests/cli")
from safetensors_tool import read
a, _ = read(sys.argv[1]); b, _ = read(sys.argv[2])
floats = lambda blob: struct.unpack("<%df" % (len(blob) // 4), blob)
for name in a:
    if name.startswith("adam."): continue
    x, y = floats(a[name][2]), floats(b[name][2])
    worst = max(abs(u - v) for u, v in zip(x, y)) / max(abs(u) for u in x)
    if not worst <= 1e-5: sys.exit(f"{name}: largest difference {worst:.3g} of the largest weight")
PY

# Stopped after step 4 (inside epoch 1), resumed under mpirun and in one process.
mpi 2 train "${common[@]}" --steps 4 --out "$work/r" >/dev/null 2>&1 || fail "2 ranks, --steps 4"
[ "$(st meta "$work/r/checkpoint.safetensors" epoch_position)" = 24 ] || fail "position after step 4"
cp -r "$work/r" "$work/r1"
out=$(mpi 2 train --resume "$work/r" 2>&1) || fail "resume under mpirun: $out"
echo "$out" | grep -q "resumed .* at step 4" || fail "no resume line: $out"
same_run "$work/d2-cpu" "$work/r"
"$tint" train --resume "$work/r1" --micro-batches 2 >/dev/null 2>&1 || fail "resume in one process"
same_run "$work/d2-cpu" "$work/r1"

rank_pid() {  # rank_pid RUN_DIR RANK: the tint process of that rank writing RUN_DIR
  local d
  for d in /proc/[0-9]*; do
    { tr '\0' ' ' <"$d/cmdline"; echo; } 2>/dev/null | grep -qF -- "--out $1 " || continue
    tr '\0' '\n' <"$d/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { basename "$d"; return; }
  done
}
wait_for_checkpoint() {  # wait_for_checkpoint RUN_DIR JOB LOG
  for _ in $(seq 600); do
    [ -f "$1/checkpoint.safetensors" ] && return 0
    kill -0 "$2" 2>/dev/null || fail "the job writing $1 ended early: $(tail -5 "$3")"
    sleep 0.1
  done
  fail "no checkpoint in $1 after 60 s"
}
# failure_case NAME SIGNAL EXPECTED: rank 1 gets SIGNAL after the first checkpoint; the job must end by itself
# with a message matching EXPECTED, and the checkpoint must resume.
failure_case() {
  local dir=$work/$1
  mpi 2 train "${base[@]}" --epochs 1000 --comm-timeout 4 --out "$dir" >"$work/$1.log" 2>&1 &
  local job=$!
  wait_for_checkpoint "$dir" $job "$work/$1.log"
  local pid; pid=$(rank_pid "$dir" 1)
  [ -n "$pid" ] || fail "$1: rank 1's process not found"
  kill -"$2" "$pid"
  local status=0
  wait $job || status=$?
  [ $status -ne 0 ] && [ $status -ne 124 ] || fail "$1: the job ended with status $status: $(tail -20 "$work/$1.log")"
  grep -q "$3" "$work/$1.log" || fail "$1: no message naming rank 1: $(tail -20 "$work/$1.log")"
  st names "$dir/checkpoint.safetensors" >/dev/null || fail "$1: the checkpoint is not whole"
  local step; step=$(st meta "$dir/checkpoint.safetensors" step)
  "$tint" train --resume "$dir" --micro-batches 2 --steps $((step + 1)) >/dev/null 2>&1 || fail "$1: no resume"
}
failure_case killed KILL "rank 1 .*exited on signal 9"
failure_case hung STOP "rank 0: rank 1 did not take part in .* within 4 s (--comm-timeout): it died or hangs"

# Errors: one line, exit 1.
for bad in "--micro-batches 7|more than the batch of 6" "--distributed --micro-batches 2|use one or the other" \
           "--comm-timeout 0|--comm-timeout" "--distributed --dump-batches $work/x|does not combine"; do
  out=$("$tint" train "${common[@]}" ${bad%%|*} --out "$work/bad" 2>&1) && fail "accepted ${bad%%|*}"
  echo "$out" | grep -q -- "${bad#*|}" || fail "${bad%%|*}: $out"
  [ -e "$work/bad" ] && fail "${bad%%|*} left a run folder"
done
echo "PASS"
