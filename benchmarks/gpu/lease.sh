#!/usr/bin/env bash
# The device-tool command for a lent GPU: runs check.sh with its output in a scratch folder, then packs the
# logs, JSON and traces into $OUT/results.tgz (the tool brings back at most 8 files) and copies the F16
# model of step 4, if one was trained, beside it. Pass check.sh's variables through the environment, e.g.
#   run(command="TRAIN_DATA=.gpudata T_TOTAL=470 bash benchmarks/gpu/lease.sh", carry=[".carry", ".gpudata"],
#       timeout_s=570)
set -u
cd "$(dirname "$0")/../.."
DEST=${OUT:-$PWD/out-gpu}
SCRATCH=$(mktemp -d /tmp/tint-gpu.XXXXXX)
OUT=$SCRATCH/results bash benchmarks/gpu/check.sh
rc=$?
mkdir -p "$DEST"
[ -f "$SCRATCH/results/model16.safetensors" ] && mv "$SCRATCH/results/model16.safetensors" "$DEST/"
# The run folder's full-precision weights and checkpoint stay behind (over the size limit; F16 came back).
rm -f "$SCRATCH"/results/gpu-model/checkpoint.safetensors "$SCRATCH"/results/gpu-model/model.safetensors
tar czf "$DEST/results.tgz" -C "$SCRATCH" results
ls -la "$DEST"
exit $rc
