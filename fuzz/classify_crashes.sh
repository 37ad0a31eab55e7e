#!/usr/bin/env bash
# Replays each input a fuzz run kept (crash-*, timeout-*, ... or any folder of inputs) and says
# whose code it broke, for the HDF5 targets that fuzz/run.sh runs with -fork=1 -ignore_crashes=1
# (libhdf5 parses their input):
#   fuzz/classify_crashes.sh TARGET [DIR=build-fuzz/crashes/TARGET]
# One line per input: file, what was reported (ASan/UBSan error, timeout, invariant, or "clean"
# when it no longer fails), whose frame is on top of the stack ("libhdf5" when the first frame
# outside the sanitizer runtime and libc is in libhdf5, "ours" when it is in our code) and that
# frame, then the innermost frame of our code (the call that handed the input to libhdf5).
# A crash in our code is a finding to fix; one in libhdf5 is documented in docs/RELIABILITY.md.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${DISPA_FUZZ_DIR:-build-fuzz}
t=${1:?usage: fuzz/classify_crashes.sh TARGET [DIR]}
dir=${2:-$out/crashes/$t}
bin=$out/fuzz/${t}_fuzz
[[ -x $bin ]] || { echo "classify: no $bin (fuzz/run.sh --build)" >&2; exit 2; }
shopt -s nullglob
for f in "$dir"/*; do
  [[ -f $f && $f != *.md ]] || continue
  log=$(ASAN_OPTIONS=fast_unwind_on_malloc=0:detect_leaks=0 timeout 120 "$bin" -timeout=30 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 "$f" 2>&1)
  kind=$(grep -m1 -oE "invariant broken: .*" <<<"$log")
  [[ -z $kind ]] && kind=$(grep -m1 -oE "SUMMARY: [A-Za-z]+: [A-Za-z-]+" <<<"$log" | sed 's/^SUMMARY: //')
  [[ -z $kind ]] && kind=clean
  # Frames: "#N 0x... in FUNCTION FILE" or "#N 0x... (MODULE+0x...)"; skip the sanitizer
  # runtime, libFuzzer, the C and C++ runtimes.
  frames=$(grep -E '^ +#[0-9]+ 0x' <<<"$log" | grep -vE '__interceptor_|__asan|__sanitizer|__ubsan|fuzzer::|in (malloc|calloc|realloc|free|operator new|__cxa|std::terminate|abort|raise|__pthread_kill|LLVMFuzzerTestOneInput)\b|libc\.so|sysdeps/|libstdc\+\+|compiler-rt')
  top=$(head -1 <<<"$frames" | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ //; s/ \(BuildId.*$//' | cut -c1-100)
  ours=$(grep -m1 -E 'dispa::' <<<"$frames" | sed -E 's/^ +#[0-9]+ 0x[0-9a-f]+ in //; s/ (\/|\().*$//' | cut -c1-100)
  if [[ $kind == clean ]]; then
    whose=-
  elif grep -q 'libhdf5' <<<"$top"; then
    whose=libhdf5
  else
    whose=ours
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$(basename "$f")" "$kind" "$whose" "${top:--}" "${ours:--}"
done
