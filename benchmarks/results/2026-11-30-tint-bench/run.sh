#!/usr/bin/env bash
# The README's "Profiling a step" and "tint bench" figures: Debug builds on the shared 2-core development
# machine (other engineers compiling at the same time: see the load average in each log).
#   build: cmake -DCMAKE_BUILD_TYPE=Debug -DTINT_CUDA=OFF (the kernels are compiled -O2 in every build type)
#   build-noprof: the same with -DTINT_PROFILER=OFF (the profiler's hooks compiled out)
set -eu
out=$(dirname "$0")
cd "$(dirname "$0")/../../.."
build/tools/tint bench --size 64 --width 16 --batches 1,8 --steps 10 --warmup 3 \
  --peer /root/venv-torch/bin/python --json "$out/bench.json" > "$out/bench.log" 2>&1
build/tools/tint bench --size 64 --width 16 --batches 8 --steps 5 --warmup 2 \
  --profile "$out/profile.json" > "$out/profile.log" 2>&1
# The profiler off: compiled in (not opened) against compiled out, alternating, batch 8. Wall time swung 10x
# under the load of the day, so the figure is the process's CPU time (perf stat task-clock, one kernel thread,
# one loader worker): off_cpu_time.csv.
echo "build,run,task_clock_ms" > "$out/off_cpu_time.csv"
for i in 1 2 3 4 5; do
  for b in build build-noprof; do
    t=$(TINT_THREADS=1 perf stat -x, -e task-clock $b/tools/tint bench --size 32 --width 8 --batches 8 --steps 15 \
        --warmup 3 --workers 1 2>&1 >/dev/null | tail -1 | cut -d, -f1)
    echo "$b,$i,$t" >> "$out/off_cpu_time.csv"
  done
done
