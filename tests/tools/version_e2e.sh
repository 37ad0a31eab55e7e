#!/usr/bin/env bash
# `dispa --version` and DISPA_CPU end to end (ctest label e2e): every line of the build report is
# there, DISPA_CPU lowers the kernel level, and a bad or unavailable level is a one-line error.
#   version_e2e.sh <path to dispa>
set -uo pipefail
dispa=$1
fail() { echo "FAIL: $*"; exit 1; }

out=$("$dispa" --version) || fail "--version exit code $?"
[[ $(head -1 <<<"$out") =~ ^dispa\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "first line: $(head -1 <<<"$out")"
for label in commit build cpu openmp cuda mpi nccl openbabel; do
  grep -qE "^  $label +[^ ]" <<<"$out" || fail "no '$label' line in: $out"
done
grep -qE '^  commit +([0-9a-f]{12}(-dirty)?|unknown)$' <<<"$out" || fail "bad commit line: $(grep commit <<<"$out")"
grep -qE '^  openbabel .*[1-9][0-9]* formats;' <<<"$out" || fail "OpenBabel found no formats: $(grep openbabel <<<"$out")"
# The levels this CPU runs, from the cpu line ("cpu: avx2 fma avx512f ..."), each forced in turn.
levels=(portable)
grep -q ' avx2 fma' <<<"$out" && levels+=(avx2)
grep -q 'avx512f avx512vl avx512bw avx512dq' <<<"$out" && levels+=(avx512)
for level in "${levels[@]}"; do
  DISPA_CPU=$level "$dispa" --version | grep -q "kernels $level, set by DISPA_CPU=$level" || fail "DISPA_CPU=$level not used"
done
err=$(DISPA_CPU=avx9000 "$dispa" --version 2>&1) && fail "DISPA_CPU=avx9000 accepted"
[[ $err == "error: DISPA_CPU: unknown CPU level 'avx9000' (expected portable, avx2 or avx512)" ]] || fail "message: $err"
if ((${#levels[@]} < 3)); then  # a level this CPU lacks is refused, not silently lowered
  err=$(DISPA_CPU=avx512 "$dispa" smoke 2>&1) && fail "DISPA_CPU=avx512 accepted on a CPU without it"
  grep -q "this CPU lacks avx512" <<<"$err" || fail "message: $err"
fi
echo "ok: levels ${levels[*]}"
