#!/usr/bin/env bash
# Times our parse + BRICS (+ fingerprints) against RDKit's BRICS on the same 170 GDSC drugs, in one
# run, and prints molecules/s and the ratio ours/RDKit (> 1: we are faster). Both sides are timed
# in CPU time of one thread (the machine may be shared), best of several repeats.
#   bench/compare_rdkit.sh            (builds build/bench/brics_bench if missing)
# RDKit comes from Debian's python3-rdkit, installed here if missing (benchmark-only dependency).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DISPA_BUILD_DIR:-build}
shared=${DISPA_SHARED:-$(cd .. && pwd)/shared}
drugs="$shared/data/gdsc2/drugs.tsv"
[[ -f $drugs ]] || { echo "compare_rdkit: $drugs not found (set DISPA_SHARED)" >&2; exit 1; }

# Debian's RDKit lives in /usr/bin/python3's dist-packages (a pyenv python3 earlier on PATH would
# not see it); override with PYTHON=...
py=${PYTHON:-/usr/bin/python3}
[[ -x $py ]] || py=python3
if ! "$py" -c 'import rdkit' 2>/dev/null; then
  echo "compare_rdkit: installing python3-rdkit" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq python3-rdkit >/dev/null || { apt-get update -qq && apt-get install -y -qq python3-rdkit >/dev/null; }
fi
if [[ ! -x $build/bench/brics_bench || ! -x $build/tools/dispa ]]; then
  cmake -S . -B "$build" -G Ninja -DDISPA_BENCH=ON >/dev/null
  cmake --build "$build" --target brics_bench dispa
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
DISPA_SHARED=$shared "$build/bench/brics_bench" --benchmark_format=json --benchmark_out="$tmp/ours.json" \
  --benchmark_out_format=json --benchmark_repetitions=5 --benchmark_min_time=1 >/dev/null
"$py" bench/rdkit_brics.py "$drugs" --repeats 5 --min-seconds 1 > "$tmp/rdkit.jsonl"
# Correctness in the same run: our fragments against RDKit's BreakBRICSBonds, both canonicalised
# by RDKit this time (the unit test canonicalises both with OpenBabel).
"$build/tools/dispa" fragment --drugs "$drugs" --components all --quiet --out "$tmp/ours.tsv"
"$py" bench/rdkit_brics.py "$drugs" --check "$tmp/ours.tsv"

"$py" - "$tmp/ours.json" "$tmp/rdkit.jsonl" <<'PY'
import json, sys
ours = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type") == "aggregate" or "items_per_second" not in b:
        continue
    name = b["name"].split("/")[1]
    ours[name] = max(ours.get(name, 0.0), b["items_per_second"])  # best repetition, CPU time
rd = {}
for line in open(sys.argv[2]):
    r = json.loads(line)
    rd[r["stage"]] = r["molecules_per_second"]
    version = r["rdkit"]
pairs = [("parse", "parse", "SMILES parsing"),
         ("parse_brics", "parse_brics_decompose", "parse + BRICS vs RDKit BRICSDecompose"),
         ("parse_brics", "parse_brics", "parse + BRICS vs RDKit BreakBRICSBonds (same output)"),
         ("parse_brics_fingerprints", "parse_brics_fingerprints", "parse + BRICS + Morgan counts")]
print(f"molecules/s, CPU time, best of 5 (RDKit {version}); ratio = ours / RDKit")
print(f"{'comparison':55s} {'dispa':>10s} {'RDKit':>10s} {'ratio':>8s}")
for o, r, label in pairs:
    print(f"{label:55s} {ours[o]:10.0f} {rd[r]:10.0f} {ours[o] / rd[r]:7.2f}x")
print(f"{'parse + BRICS + Morgan + descriptors (dispa only)':55s} "
      f"{ours['parse_brics_fingerprints_descriptors']:10.0f}")
PY
