#!/usr/bin/env bash
# Packs a CUDA build for a GPU machine that cannot build dispa itself (no fmt, OpenBabel, doctest,
# Google Benchmark there): the GPU test programs, the benchmarks, the dispa binary, every shared
# library they need that is not glibc or the CUDA driver/toolkit, OpenBabel's plugins and data, and
# the shared data/fixtures. Output: .dev/bundle.tar.xz (ignored by git via .git/info/exclude), which
# scripts/gpu_check.sh unpacks and runs. Usage: scripts/gpu_bundle.sh [build-dir] (default build-cuda)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-cuda}
shared=${DISPA_SHARED:-../shared}
grep -q '^/.dev/' .git/info/exclude 2>/dev/null || echo '/.dev/' >> .git/info/exclude
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/openbabel" .dev

programs=("$build/tools/dispa")
for p in "$build"/tests/*/*_gpu_parity "$build"/bench/*_bench; do [[ -x $p ]] && programs+=("$p"); done
for p in "${programs[@]}"; do strip -o "$stage/bin/$(basename "$p")" "$p"; done

# Libraries: everything ldd resolves outside glibc and CUDA (the GPU machine has its own).
skip='linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread|librt\.so|libcuda|libcublas|libcudart|libnvidia'
for p in "${programs[@]}"; do ldd "$p"; done | awk '/=> \//{print $1" "$3}' | sort -u |
  while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -L "$path" "$stage/lib/$name"
  done
babel_lib=$(dirname "$(ls -d /usr/lib/x86_64-linux-gnu/openbabel/*/smilesformat.so)")
cp -r "$babel_lib" "$stage/openbabel/lib"
cp -r /usr/share/openbabel/*/ "$stage/openbabel/data"
if [[ -d $shared/data ]]; then
  mkdir -p "$stage/shared"
  cp -r "$shared/data" "$shared/fixtures" "$stage/shared/"
fi
git rev-parse HEAD > "$stage/commit"
git status --porcelain | grep -q . && echo dirty >> "$stage/commit"
tar -C "$stage" -cf - . | xz -T2 -6 > .dev/bundle.tar.xz
ls -la .dev/bundle.tar.xz
