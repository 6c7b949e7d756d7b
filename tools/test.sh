#!/usr/bin/env bash
# Every test, from a fresh Debian machine: install what is missing, build with AddressSanitizer and
# UndefinedBehaviorSanitizer and warnings as errors, and run ctest. With nvcc at /usr/local/cuda the native
# CUDA backend is compiled too (for sm_90), so a compile error there cannot land; its tests (label gpu)
# skip without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
cmake -S . -B build-test -G Ninja -DCMAKE_BUILD_TYPE=Debug -DTINT_SANITIZE=ON -DTINT_WERROR=ON >/dev/null
cmake --build build-test -j"$(nproc)"
cd build-test
ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
