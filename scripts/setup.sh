#!/usr/bin/env bash
# Installs the Debian 12 packages dispa needs to build and test (idempotent; quiet when all are
# present). Run as root. The CUDA toolkit is not installed here: the build uses /usr/local/cuda
# when it exists and builds CPU-only otherwise.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libfmt-dev nlohmann-json3-dev libcli11-dev doctest-dev libbenchmark-dev
  libopenbabel-dev openbabel
  libopenblas-dev          # benchmark yardstick only: never linked into the product
  libomp-dev
  zlib1g-dev libhdf5-dev    # bio/: gzip in 10x MatrixMarket folders; 10x .h5 and AnnData .h5ad (HDF5 C API)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
