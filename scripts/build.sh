#!/usr/bin/env bash
# Configures and builds dispa into build/ (Release). CUDA is used when /usr/local/cuda/bin/nvcc
# exists; pass extra CMake flags as arguments, e.g. scripts/build.sh -DDISPA_CUDA=OFF.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${DISPA_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
