#!/usr/bin/env bash
# Data-parallel scaling on this machine: step time, images/s and the share of the step spent communicating,
# for 1 and 2 ranks (mpirun) of `tint train --distributed` at the same global batch, from the line
# `scaling: ...` that a distributed run prints at its end (steps after the first; validation and
# checkpoints are outside the step). Two ranks are run twice: with the cores split between them
# (TINT_THREADS = cores / 2 each) and with each rank's default pool (one thread per core, oversubscribed).
# Usage: bash benchmarks/dist_scaling.sh [TINT_BINARY] [OUT_DIR] [extra tint train flags...]
# Writes OUT_DIR/scaling.md (the table) and OUT_DIR/world*.log (the raw runs).
set -euo pipefail
tint=${1:-build/tools/tint}
out=${2:-benchmarks/results/$(date -u +%Y-%m-%d)-distributed}
shift $(( $# < 2 ? $# : 2 ))
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cores=$(nproc)
# The main job's configuration (tools/run.sh), a fixed number of steps.
config=(--size 64 --width 32 --levels 3 --batch 8 --lr 1e-3 --steps 24 --seed 1 "$@")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

row() {  # row NAME RANKS THREADS_PER_RANK
  local log=$out/$1.log
  env TINT_THREADS="$3" mpirun -np "$2" --oversubscribe --bind-to none "$tint" train --distributed "${config[@]}" \
    --out "$work/$1" >"$log" 2>&1
  local line; line=$(grep "^scaling:" "$log") || { echo "no scaling line in $log"; exit 1; }
  # scaling: 2 ranks (mpi), global batch 8: 0.1234 s/step, 64.83 img/s, communication 1.2% of the step (1.50 ms/step, ...
  local s_step img comm ms bare
  s_step=$(sed -E 's/.*: ([0-9.]+) s\/step.*/\1/' <<<"$line")
  img=$(sed -E 's/.* ([0-9.]+) img\/s.*/\1/' <<<"$line")
  comm=$(sed -E 's/.*communication ([0-9.]+)%.*/\1/' <<<"$line")
  ms=$(sed -E 's/.*of the step \(([0-9.]+) ms\/step.*/\1/' <<<"$line")
  bare=$(sed -E 's/.*the sum alone ([0-9.]+) ms.*/\1/' <<<"$line")
  echo "| $2 | $3 | $s_step | $img | $comm % | $ms | $bare |" >>"$out/scaling.md"
}

{
  echo "tint train --distributed ${config[*]}; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs),"
  echo "$cores cores shared by all ranks; load average before the runs: $(cut -d' ' -f1-3 /proc/loadavg); $(date -u)"
  echo
  echo "| ranks | threads per rank | s/step | images/s | communication (share of the step) | communication ms/step | the sum alone, ms |"
  echo "| --- | --- | --- | --- | --- | --- | --- |"
} >"$out/scaling.md"
row world1 1 "$cores"
row world2-split 2 $(( cores / 2 > 0 ? cores / 2 : 1 ))
row world2-oversubscribed 2 "$cores"
cat "$out/scaling.md"
