#!/usr/bin/env bash
# Installs what tint needs to build, from Debian's packages, and only what is missing (so a machine that
# has everything needs no network). The CUDA toolkit is optional: found at /usr/local/cuda, the native
# backend builds too; without it tint still has its cpu, cpu-ref and cuda-emu backends.
set -euo pipefail
# libopenmpi-dev and openmpi-bin (mpirun): distributed training, and its tests under mpirun.
packages=(g++ cmake ninja-build catch2 libfmt-dev libstb-dev libwebp-dev libjpeg62-turbo-dev pkg-config python3 ca-certificates
          libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "tint: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
