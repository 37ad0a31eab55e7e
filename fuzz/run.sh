#!/usr/bin/env bash
# libFuzzer targets for every input reader: fuzz/<name>_fuzz.cpp (contract in fuzz/fuzz_target.h).
#   fuzz/run.sh --list                              one target per line
#   fuzz/run.sh TARGET [SECONDS=600] [flags...]      build if needed, run one target (extra flags go
#                                                   to libFuzzer, e.g. -runs=1000 or an input file)
#   fuzz/run.sh all [SECONDS=600]                   every target in turn, SECONDS each
#   fuzz/run.sh --build                             build every target, run none
# Build: clang in build-fuzz/ (-DDISPA_FUZZ=ON: libFuzzer coverage, ASan and UBSan in all of our
# libraries; OpenBabel is not instrumented, but ASan still sees its heap through malloc). One
# worker, no forking (except the two HDF5 targets, below); run it under `nice -n 10` on a shared
# machine. Each run ends with libFuzzer's final statistics (stat::number_of_executed_units, ...)
# and the corpus size.
# Corpus: build-fuzz/corpus/<target>/ (kept between runs), seeded from fuzz/seeds/<target>/, a
# slice of the shared data (the `register` line) and tests/fuzz/regressions/<target>/.
# Crashes: build-fuzz/crashes/<target>/. Once fixed, keep each input, named for what it found, in
# tests/fuzz/regressions/<target>/: ctest replays it (tests/fuzz/fuzz_regression_test.cpp).
# A new target: add fuzz/<name>_fuzz.cpp and one `register` line below.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${DISPA_FUZZ_DIR:-build-fuzz}
shared=${DISPA_SHARED:-../shared}

# register NAME MAX_LEN [SHARED_FILE [LINES [FIELDS]]]: a target, its largest input in bytes, and a
# seed cut from the shared data (its first LINES lines and FIELDS tab-separated fields; 0 = all;
# FIELDS = smiles: one seed per SMILES of a drugs table).
targets=()
declare -A max_len seed_file seed_lines seed_fields
register() {
  targets+=("$1")
  max_len[$1]=$2
  seed_file[$1]=${3:-}
  seed_lines[$1]=${4:-0}
  seed_fields[$1]=${5:-0}
}
register expression_tsv 4096 data/gdsc2-mini/expression.tsv 6 12
register expression_gct 4096
register gmt 4096 data/gdsc2-mini/pathways_kegg34.gmt 3 30
register drugs_tsv 4096 data/gdsc2-mini/drugs.tsv
register response_tsv 4096 data/gdsc2-mini/response.tsv 20
register cells_tsv 4096 data/gdsc2-mini/cells.tsv 10
register split_tsv 4096
register safetensors 8192 fixtures/dispa_ref/differential/inputs.safetensors
register model_config 4096 fixtures/dispa_ref/differential/config.json
register smiles 300 data/gdsc2/drugs.tsv 0 smiles
# The transfer readers (bio/): multi-file inputs are split at `--8<--` lines (fuzz/tenx_split.h);
# their seeds are committed (cut from ../shared/data/spatial and singlecell, or written by
# fuzz/make_seeds.cpp). libhdf5 parses the .h5/.h5ad images: those two run forked, so that a
# crash inside libhdf5 is kept in build-fuzz/crashes/<target>/ and the campaign goes on
# (docs/RELIABILITY.md "Fuzzing" says how each crash is classified).
register tenx_mtx 8192
register tenx_h5 16384
register h5ad 16384
register tissue_positions 4096
register cell_labels 4096
register gene_aliases 4096

build() {
  if [[ ! -f $out/build.ninja ]]; then
    echo "fuzz: configuring $out (clang, -DDISPA_FUZZ=ON)"
    CC=clang CXX=clang++ cmake -S . -B "$out" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDISPA_CUDA=OFF \
      -DDISPA_BENCH=OFF -DDISPA_FUZZ=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" >/dev/null
  fi
  cmake --build "$out" --parallel "${DISPA_FUZZ_JOBS:-2}" --target "$@"
}

seed() {
  local t=$1 dir=$out/corpus/$1 f=${seed_file[$1]}
  mkdir -p "$dir"
  [[ -d fuzz/seeds/$t ]] && cp -n fuzz/seeds/$t/* "$dir"/ 2>/dev/null || true
  [[ -n $f && -f $shared/$f ]] || return 0
  local name
  name=$(basename "$f")
  if [[ ${seed_fields[$t]} == smiles ]]; then
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "smiles") c = i; next } c { print $c }' "$shared/$f" |
      while IFS= read -r s; do printf '%s' "$s" >"$dir/shared_$(printf '%s' "$s" | md5sum | cut -c1-16)"; done
  elif [[ ${seed_lines[$t]} == 0 ]]; then
    cp "$shared/$f" "$dir/shared_$name"
  elif [[ ${seed_fields[$t]} == 0 ]]; then
    head -n "${seed_lines[$t]}" "$shared/$f" >"$dir/shared_$name"
  else
    head -n "${seed_lines[$t]}" "$shared/$f" | cut -f "1-${seed_fields[$t]}" >"$dir/shared_$name"
  fi
}

run_target() {
  local t=$1 seconds=$2 status=0
  shift 2
  [[ -n ${max_len[$t]:-} ]] || { echo "fuzz: unknown target '$t' (fuzz/run.sh --list)" >&2; exit 2; }
  build "${t}_fuzz"
  seed "$t"
  mkdir -p "$out/crashes/$t"
  local dirs=("$out/corpus/$t")
  [[ -d tests/fuzz/regressions/$t ]] && dirs+=("tests/fuzz/regressions/$t")
  local dict=()
  case $t in
    smiles) dict=(-dict=fuzz/dicts/smiles.dict) ;;
    model_config) dict=(-dict=fuzz/dicts/model_config.dict) ;;
    safetensors) ;;
    tenx_mtx | tissue_positions | cell_labels | gene_aliases) dict=(-dict=fuzz/dicts/tenx.dict) ;;
    tenx_h5 | h5ad) dict=(-dict=fuzz/dicts/hdf5.dict) ;;
    *) dict=(-dict=fuzz/dicts/tsv.dict) ;;
  esac
  # A crash inside libhdf5 (not our code) must not end the campaign: one forked worker, crashes
  # kept and counted (fork mode prints "crash: N" in its status lines instead of final stats).
  local fork=()
  case $t in
    tenx_h5 | h5ad) fork=(-fork=1 -ignore_crashes=1) ;;
  esac
  # -timeout: an input running 30 s is a hang; -rss_limit_mb: a reader asking for more memory than
  # a few MB of input justifies is a finding. Per-input leak checks are off (OpenBabel leaks on some
  # invalid SMILES, fuzz/lsan.supp, and each report costs a heap scan); DISPA_FUZZ_LEAKS=1 enables them.
  export LSAN_OPTIONS="suppressions=$PWD/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  echo "fuzz: $t for ${seconds} s"
  "$out/fuzz/${t}_fuzz" "${dirs[@]}" "${dict[@]}" -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=30 \
    -rss_limit_mb=2048 -malloc_limit_mb=1024 -detect_leaks="${DISPA_FUZZ_LEAKS:-0}" \
    -artifact_prefix="$out/crashes/$t/" -print_final_stats=1 "${fork[@]}" "$@" || status=$?
  echo "fuzz: $t corpus $(ls "$out/corpus/$t" | wc -l) files, $(ls "$out/crashes/$t" | wc -l) kept in $out/crashes/$t"
  # Forked runs exit 1 when they kept crashes: fuzz/classify_crashes.sh says whose code they hit.
  [[ ${#fork[@]} -gt 0 && ${status:-0} -eq 1 ]] && echo "fuzz: classify with fuzz/classify_crashes.sh $t"
  return "${status:-0}"
}

case ${1:-} in
  --list) printf '%s\n' "${targets[@]}" ;;
  --build) build "${targets[@]/%/_fuzz}" ;;
  all)
    seconds=${2:-600}
    for t in "${targets[@]}"; do run_target "$t" "$seconds" || echo "fuzz: $t stopped with status $? (see $out/crashes/$t/)"; done
    ;;
  "" | -h | --help) sed -n '2,17p' "$0" ;;
  *)
    t=$1
    seconds=${2:-600}
    shift $(($# >= 2 ? 2 : 1))
    run_target "$t" "$seconds" "$@"
    ;;
esac
