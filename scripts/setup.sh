#!/usr/bin/env bash
# Installs the Debian 12 packages dispa needs to build and test (idempotent; quiet when all are
# present). Run as root. The CUDA toolkit is not installed here: the build uses /usr/local/cuda
# when it exists and builds CPU-only otherwise; NCCL comes with that toolkit (nccl.h, libnccl).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libfmt-dev nlohmann-json3-dev libcli11-dev doctest-dev libbenchmark-dev
  libopenbabel-dev openbabel
  libopenblas-dev          # benchmark yardstick only: never linked into the product
  libomp-dev
  zlib1g-dev               # gzip tables and 10x folders (engine/io/text, bio/), checkpoint CRC-32
  libhdf5-dev              # 10x .h5 and AnnData .h5ad (bio/, HDF5 C API)
  openmpi-bin libopenmpi-dev   # CPU ranks for data-parallel training and the dist tests (mpirun)
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
