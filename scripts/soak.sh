#!/usr/bin/env bash
# Soak test of dispa train (not part of ctest): a few thousand training steps on gdsc2-mini on the
# CPU, with a checkpoint after every epoch, while the resident memory (VmRSS) is sampled; then the
# same kind of run, shorter, under AddressSanitizer + LeakSanitizer (-DDISPA_SANITIZE=ON).
# Memory must be flat after warm-up and LeakSanitizer must report nothing; docs/RELIABILITY.md
# records the numbers.
#
#   scripts/soak.sh [steps] [lsan-steps]     defaults 3000 and 300; needs ../shared (DISPA_SHARED)
#
# Environment: DISPA_BUILD_DIR (default build-cpu: a CPU build, made if missing), DISPA_ASAN_DIR
# (default build-asan), SOAK_OUT (default /tmp/dispa-soak), OMP_NUM_THREADS (default 1: on a loaded
# 2-core machine OpenMP threads that wait for each other make a step many times slower). Runs under
# nice; the sanitizer build compiles every file once (minutes on 2 cores) unless ccache has it.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-3000}
lsan_steps=${2:-300}
shared=${DISPA_SHARED:-../shared}
data=$shared/data/gdsc2-mini
[[ -d $data ]] || { echo "soak: $data not found (set DISPA_SHARED)"; exit 1; }
build=${DISPA_BUILD_DIR:-build-cpu}
asan=${DISPA_ASAN_DIR:-build-asan}
out=${SOAK_OUT:-/tmp/dispa-soak}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
rm -rf "$out"
mkdir -p "$out"

# 265 training pairs of fold 0 in batches of 32: 9 steps per epoch.
steps_per_epoch=9
train_args() {  # epochs out
  echo --data "$data" --gmt "$data/pathways_kegg34.gmt" --folds 3 --fold 0 --epochs "$1" --patience 0 \
    --lr-patience 1000 --batch-size 32 --embed-dim 64 --ffn-hidden 128 --attn-dim 64 --heads 4 \
    --head-dims 64 32 --fingerprint-bits 256 --no-ridge --quiet --out "$2"
}

build_dispa() {  # dir cmake-flags...
  local dir=$1
  shift
  if [[ ! -x $dir/tools/dispa ]]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDISPA_CUDA=OFF -DDISPA_BENCH=OFF "$@" >/dev/null
  fi
  nice -n 10 cmake --build "$dir" --parallel 2 --target dispa >"$out/build.log" 2>&1 ||
    { tail -40 "$out/build.log"; exit 1; }
}

# 1. RSS over a long run.
build_dispa "$build"
epochs=$(((steps + steps_per_epoch - 1) / steps_per_epoch))
echo "soak: $((epochs * steps_per_epoch)) steps ($epochs epochs, a checkpoint after each) with $OMP_NUM_THREADS threads"
# shellcheck disable=SC2046
nice -n 10 "$build/tools/dispa" train $(train_args "$epochs" "$out/run") 2>"$out/stderr.txt" &
pid=$!
: >"$out/rss.tsv"
start=$(date +%s.%N)
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  done_epochs=$(grep -c '^epoch ' "$out/run/train.log" 2>/dev/null || true)
  [[ -n $rss ]] && printf '%.1f\t%s\t%s\n' "$(echo "$(date +%s.%N) - $start" | bc)" "${done_epochs:-0}" "$rss" >>"$out/rss.tsv"
  sleep 0.5
done
wait "$pid" || { echo "soak: dispa train failed:"; cat "$out/stderr.txt"; exit 1; }
# Samples after the first 10% of the epochs count as steady state; it is cut into thirds by
# epoch. Flat memory: the last third's peak is not above the first third's (allocator noise aside).
awk -v epochs="$epochs" -v spe="$steps_per_epoch" '
  { t[NR] = $1; e[NR] = $2; r[NR] = $3 / 1024 }
  END {
    n = NR; warm = epochs / 10
    for (k = 1; k <= 3; ++k) { peak[k] = 0; count[k] = 0 }
    for (i = 1; i <= n; ++i) {
      if (e[i] < warm) { if (r[i] > warm_peak) warm_peak = r[i]; continue }
      k = int(3 * (e[i] - warm) / (epochs - warm + 1)) + 1
      if (k > 3) k = 3
      if (r[i] > peak[k]) peak[k] = r[i]
      count[k]++
    }
    if (count[1] == 0 || count[3] == 0) { print "soak: too few samples (run more steps)"; exit 1 }
    printf "soak: %d RSS samples over %.0f s; peak RSS during warm-up (first %d epochs) %.1f MiB\n", n, t[n], warm, warm_peak
    printf "soak: peak RSS per third of the remaining epochs: %.1f, %.1f, %.1f MiB; at exit %.1f MiB\n", \
      peak[1], peak[2], peak[3], r[n]
  }' "$out/rss.tsv"

# 2. LeakSanitizer (with ASan) over a shorter run, interrupted by SIGTERM halfway and resumed, so
# the checkpoint, signal and resume paths are covered too.
build_dispa "$asan" -DDISPA_SANITIZE=ON
lsan_epochs=$(((lsan_steps + steps_per_epoch - 1) / steps_per_epoch))
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp"
echo "soak: $((lsan_epochs * steps_per_epoch)) steps under ASan + LeakSanitizer (SIGTERM at half, then --resume)"
set +e
# shellcheck disable=SC2046
DISPA_FAULT="term@train-step#$((lsan_epochs * steps_per_epoch / 2))" nice -n 10 "$asan/tools/dispa" train \
  $(train_args "$lsan_epochs" "$out/lsan") 2>"$out/lsan_stderr.txt"
rc=$?
nice -n 10 "$asan/tools/dispa" train --resume --quiet --out "$out/lsan" 2>>"$out/lsan_stderr.txt"
rc2=$?
set -e
if [[ $rc -ne 143 || $rc2 -ne 0 ]] || grep -q "ERROR: \(LeakSanitizer\|AddressSanitizer\)" "$out/lsan_stderr.txt"; then
  echo "soak: sanitizer run failed (exit codes $rc, $rc2):"
  cat "$out/lsan_stderr.txt"
  exit 1
fi
echo "soak: LeakSanitizer: no leaks, no ASan errors (exit codes $rc after SIGTERM, $rc2 after --resume)"
