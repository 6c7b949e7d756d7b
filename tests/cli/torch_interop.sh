#!/usr/bin/env bash
# A checkpoint written by `tint train` loads into the same U-Net in PyTorch (strict names and shapes).
# Skips (77) where no python3 has both torch and safetensors.
set -u
tint=$1; src=$2
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
py=""
for c in python3 /usr/bin/python3; do
  if $c -c "import torch, safetensors" >/dev/null 2>&1; then py=$c; break; fi
done
[ -n "$py" ] || { echo "SKIP: no python3 with torch and safetensors"; exit 77; }
cd "$src" || exit 1
"$tint" train --size 32 --width 4 --levels 2 --epochs 1 --batch 8 --out "$work/run" >/dev/null 2>&1 || { echo "FAIL: training"; exit 1; }
$py benchmarks/peers/torch_load_checkpoint.py "$work/run/model.safetensors" || { echo "FAIL: PyTorch could not load the checkpoint"; exit 1; }
echo PASS
