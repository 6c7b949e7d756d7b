#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install what is missing, build (Release), and run tint on
# its embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTINT_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target tint
./build/tools/tint demo --steps 100 --dot build/demo_graph.dot --save build/demo_unet.safetensors "$@"
