#!/usr/bin/env bash
# Builds HERE (nvcc, sm_90, Release) what benchmarks/gpu/check.sh runs on a lent GPU, and copies it into
# .carry/ (ignored by git) for the device tool's `carry`:
#   .carry/gpu/      gpu_cuda_backends, test_cuda_backends, bench_gpu_conv, tint (static cudart: no CUDA libraries
#                    needed there; cuDNN is dlopen'ed by the benchmark)
#   .carry/prefix/   fmt and Catch2 (headers + CMake configs) for check.sh's fallback build there
# Usage: bash benchmarks/gpu/prepare.sh [build-dir]   (default: build-cuda)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build-cuda}
cd "$root"
[ -x /usr/local/cuda/bin/nvcc ] || { echo "prepare.sh: nvcc not found at /usr/local/cuda/bin/nvcc" >&2; exit 1; }
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
cmake --build "$build" --target gpu_cuda_backends gpu_engine test_cuda_backends bench_gpu_conv tint -j"$(nproc)"

rm -rf .carry/gpu .carry/prefix
mkdir -p .carry/gpu .carry/prefix/include .carry/prefix/lib/cmake
cp "$build/tests/gpu_cuda_backends" "$build/tests/gpu_engine" "$build/tests/test_cuda_backends" "$build/benchmarks/gpu/bench_gpu_conv" \
  "$build/tools/tint" .carry/gpu/
# Symbols off: the device tool carries at most 64 MiB with the working tree (the sm_90 code stays).
strip -s .carry/gpu/* 2>/dev/null || true
git rev-parse HEAD > .carry/gpu/COMMIT 2>/dev/null || true
# Header-only dependencies, mirrored as a prefix so that find_package works there (fallback build only).
cp -r /usr/include/fmt /usr/include/catch2 .carry/prefix/include/
cp -r /usr/lib/cmake/Catch2 .carry/prefix/lib/cmake/
cp /usr/lib/libCatch2*.a .carry/prefix/lib/ 2>/dev/null || true  # referenced by its CMake config
fmt_cfg=$(dirname "$(find /usr/lib -name fmt-config.cmake | head -1)")
mkdir -p .carry/prefix/lib/x86_64-linux-gnu/cmake
cp -r "$fmt_cfg" .carry/prefix/lib/x86_64-linux-gnu/cmake/
cp -P /usr/lib/x86_64-linux-gnu/libfmt.so* .carry/prefix/lib/x86_64-linux-gnu/ 2>/dev/null || true
[ -d /usr/include/stb ] && cp -r /usr/include/stb .carry/prefix/include/
# data/ needs libwebp to configure (our targets do not link it): its headers and static archive.
[ -d /usr/include/webp ] && cp -r /usr/include/webp .carry/prefix/include/
cp /usr/lib/x86_64-linux-gnu/libwebp.a .carry/prefix/lib/ 2>/dev/null || true
du -sh .carry
cat <<'MSG'

Ready. The device-tool call (one run; check.sh's steps fit T_TOTAL, 480 s by default):
  run(command="T_TOTAL=430 bash benchmarks/gpu/lease.sh", carry=[".carry/gpu"], timeout_s=500)
With a GPU training run (step 4), carry the photos too, resized small enough for the 64 MiB limit:
  run(command="TRAIN_DATA=.gpudata T_TOTAL=430 T_TRAIN=100 bash benchmarks/gpu/lease.sh",
      carry=[".carry/gpu", ".gpudata"], timeout_s=500)
.carry/prefix (headers for check.sh's fallback build there) is carried only when the binaries cannot run.
Results come back as results.tgz (and model16.safetensors); commit what matters under benchmarks/results/.
MSG
