#!/usr/bin/env bash
# The main job, from a fresh Debian machine: install what is missing, build (Release), train the colorizer
# on the embedded sample photos (data/samples/train: 32 photos) on the CPU, small enough to finish in a few
# minutes on 2 cores, then colorize the 8 held-out photos (data/samples/val) with the model it trained and
# write them as one grid picture: grey | colorized | original, one row per photo.
# Extra arguments go to `tint train` (they override these defaults, e.g. `bash tools/run.sh --epochs 2` or
# `--device cuda --size 256 --width 64`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install_deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTINT_TESTS=OFF -DTINT_BENCHMARKS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target tint
# --overwrite: the main job starts afresh each time (tint train refuses to replace a run silently).
./build/tools/tint train --size 64 --width 32 --levels 3 --batch 8 --epochs 12 --lr 1e-3 --out runs/sample --overwrite "$@"
./build/tools/tint colorize data/samples/val --model runs/sample --size 64 -o runs/sample/colorized \
  --grid runs/sample/colorized/grid.png
echo "tint: the held-out photos, colorized by the model just trained: runs/sample/colorized/grid.png"
