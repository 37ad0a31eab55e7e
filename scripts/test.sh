#!/usr/bin/env bash
# Sets up, builds and runs the whole test suite (what .ci/run and the README's second command do).
# gpu-labelled tests report "skipped" without a CUDA device.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh "$@"
build_dir=${DISPA_BUILD_DIR:-build}
ctest --test-dir "$build_dir" --output-on-failure --parallel "$(nproc)" --timeout 1500
