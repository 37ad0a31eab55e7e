#!/usr/bin/env bash
# Builds the libFuzzer target fuzz/smiles_fuzz.cpp (clang, -fsanitize=fuzzer,address,undefined)
# against the chem sources and runs it on one core.
#   fuzz/run.sh [seconds=600] [extra libFuzzer flags...]
# Seeds: the GDSC drug SMILES (../shared) plus the kept regression inputs. Crashes land in
# build-fuzz/crashes/; keep each as a regression input under tests/chem/fuzz_regressions/ (replayed
# by chem_tests) once the bug is fixed. OpenBabel itself is not instrumented: coverage guidance
# comes from our code, while ASan still sees OpenBabel's heap through malloc interception.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
out=${DISPA_FUZZ_DIR:-build-fuzz}
shared=${DISPA_SHARED:-../shared}
mkdir -p "$out/corpus" "$out/crashes"

sources=(chem/molecule.cpp chem/brics.cpp chem/fingerprint.cpp fuzz/smiles_fuzz.cpp)
if [[ ! -x "$out/smiles_fuzz" ]] || [[ -n "$(find "${sources[@]}" chem/*.h -newer "$out/smiles_fuzz")" ]]; then
  echo "fuzz: building $out/smiles_fuzz"
  clang++ -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I. $(pkg-config --cflags openbabel-3) -Wno-deprecated-declarations \
    "${sources[@]}" $(pkg-config --libs openbabel-3) -lfmt -o "$out/smiles_fuzz"
fi

# Seed corpus: one file per drug SMILES, plus the regression inputs.
if [[ -z "$(ls -A "$out/corpus")" ]]; then
  for f in "$shared/data/gdsc2/drugs.tsv" "$shared/data/gdsc2-mini/drugs.tsv"; do
    [[ -f $f ]] || continue
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "smiles") c = i; next } c { print $c }' "$f" |
      while IFS= read -r s; do printf '%s' "$s" > "$out/corpus/$(printf '%s' "$s" | md5sum | cut -c1-16)"; done
  done
fi
seeds=("$out/corpus")
[[ -d tests/chem/fuzz_regressions ]] && seeds+=(tests/chem/fuzz_regressions)

# One worker, no forking; -timeout: a hang of 30 s counts as a failure (OpenBabel canonicalisation
# has its own 5 s limit). Per-input leak checks are off by default: OpenBabel leaks on some
# invalid SMILES (fuzz/lsan.supp), and every such input then costs a full heap scan, which cut the
# rate from ~55 to ~14 inputs/s. DISPA_FUZZ_LEAKS=1 turns them on (with the suppressions).
export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
leaks=${DISPA_FUZZ_LEAKS:-0}
exec "$out/smiles_fuzz" "${seeds[@]}" -max_total_time="$seconds" -max_len=300 -timeout=30 \
  -rss_limit_mb=4096 -detect_leaks="$leaks" -artifact_prefix="$out/crashes/" -print_final_stats=1 "$@"
