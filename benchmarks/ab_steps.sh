#!/usr/bin/env bash
# Two tint binaries' training steps side by side on a noisy machine: both run at the same time, one thread
# each, each pinned to a core of its own (swapped every pair), so that a burst of load from elsewhere on the
# host falls on both. Each pair gives one ratio; the script prints every pair and the median.
#
#   bash benchmarks/ab_steps.sh OLD_TINT NEW_TINT [--sizes 128:1,256:1] [--pairs 6] [--steps 5]
#
# OLD time / NEW time above 1 means NEW is faster. Needs two cores and taskset (util-linux). One thread
# per binary: what depends on the split over threads (which thread packs what) is not measured here; take
# alternated runs with all threads (tint bench one after the other) for that, and expect their noise.
# Measured with it (2-core Xeon, 2026-12-01, benchmarks/results/2026-12-01-cpu-check-xeon-3/ab/): the
# 128^2 batch-1 step's six ratios spanned 1.023-1.046, where alternated two-thread runs on the same
# afternoon spanned 0.85-1.33.
set -euo pipefail

usage() { sed -n '2,13p' "$0"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
[ $# -ge 2 ] || { usage >&2; exit 1; }
OLD=$1 NEW=$2
shift 2
SIZES=128:1,256:1 PAIRS=6 STEPS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --pairs) PAIRS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "ab_steps.sh: unknown argument '$1' (--help lists them)" >&2; exit 1 ;;
  esac
done
for b in "$OLD" "$NEW"; do
  [ -x "$b" ] || { echo "ab_steps.sh: '$b' is not an executable tint binary" >&2; exit 1; }
done
command -v taskset > /dev/null || { echo "ab_steps.sh: needs taskset (apt-get install util-linux)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "ab_steps.sh: needs two cores, this machine has $(nproc)" >&2; exit 1; }

# The step's median ms from a tint bench run's table (the row of batch $2).
step_ms() { awk -v b="$2" '$1 == b && NF > 6 { print $7 }' "$1"; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "# old: $OLD"
echo "# new: $NEW"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
IFS=, read -ra cases <<< "$SIZES"
for c in "${cases[@]}"; do
  size=${c%%:*} batch=${c##*:}
  ratios=()
  for ((i = 1; i <= PAIRS; ++i)); do
    if ((i % 2)); then co=0 cn=1; else co=1 cn=0; fi
    run=(bench --size "$size" --batches "$batch" --steps "$STEPS" --warmup 2 --workers 1)
    TINT_THREADS=1 taskset -c "$co" "$OLD" "${run[@]}" > "$tmp/old" 2>&1 &
    TINT_THREADS=1 taskset -c "$cn" "$NEW" "${run[@]}" > "$tmp/new" 2>&1 &
    wait
    o=$(step_ms "$tmp/old" "$batch") n=$(step_ms "$tmp/new" "$batch")
    [ -n "$o" ] && [ -n "$n" ] || { echo "ab_steps.sh: a run printed no step time:" >&2; cat "$tmp/old" "$tmp/new" >&2; exit 1; }
    r=$(awk -v o="$o" -v n="$n" 'BEGIN { printf "%.3f", o / n }')
    ratios+=("$r")
    echo "${size}px batch $batch pair $i: old (core $co) $o ms, new (core $cn) $n ms, old/new $r"
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk -v s="$size" -v b="$batch" '{ v[NR] = $1 }
    END { m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "%spx batch %s: old/new median %.3f (range %.3f-%.3f, %d pairs)\n", s, b, m, v[1], v[NR], NR }'
done
