#!/usr/bin/env bash
# End-to-end test of `dispa fragment` (ctest label e2e): runs the built binary on gdsc2-mini and on
# a file with bad rows, and checks outputs and exit codes. Exit 77 (skipped) without shared data.
#   fragment_e2e.sh <path to dispa> <shared dir>
set -uo pipefail
dispa=$1
shared=${DISPA_SHARED:-$2}
drugs="$shared/data/gdsc2-mini/drugs.tsv"
[[ -f $drugs ]] || { echo "skipping: $drugs not found (set DISPA_SHARED)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. The 12 mini drugs: exit 0, header + 12 rows, 3 columns, known counts.
"$dispa" fragment --drugs "$drugs" --out "$tmp/frag.tsv" --quiet 2> "$tmp/err" || fail "exit code $? on $drugs: $(cat "$tmp/err")"
[[ $(head -1 "$tmp/frag.tsv") == $'name\tn_fragments\tfragments' ]] || fail "bad header: $(head -1 "$tmp/frag.tsv")"
[[ $(wc -l < "$tmp/frag.tsv") -eq 13 ]] || fail "expected 13 lines, got $(wc -l < "$tmp/frag.tsv")"
awk -F'\t' 'NF != 3 { exit 1 }' "$tmp/frag.tsv" || fail "a row without 3 columns"
# n_fragments equals the number of ' . '-separated entries on every row
awk -F'\t' 'NR > 1 { n = split($3, parts, / \. /); if (n != $2) exit 1 }' "$tmp/frag.tsv" || fail "n_fragments mismatch"
grep -q $'^5-Fluorouracil\t1\t' "$tmp/frag.tsv" || fail "5-Fluorouracil is not a single fragment"
grep -q $'^Oxaliplatin\t1\t' "$tmp/frag.tsv" || fail "Oxaliplatin (largest organic component) is not a single fragment"
grep -q $'^Olaparib\t7\t' "$tmp/frag.tsv" || fail "Olaparib does not have 7 fragments"

# 2. --unique never has more fragments than the multiset; --components all keeps Oxaliplatin's ions.
"$dispa" fragment --drugs "$drugs" --unique --components all --quiet > "$tmp/unique.tsv" || fail "--unique exit code"
grep -q $'^Oxaliplatin\t3\t' "$tmp/unique.tsv" || fail "--components all: Oxaliplatin should have 3 fragments"
paste "$tmp/frag.tsv" "$tmp/unique.tsv" | awk -F'\t' 'NR > 1 && $1 != "Oxaliplatin" && $5 > $2 { exit 1 }' ||
  fail "--unique gave more fragments than the multiset"

# 3. --json
"$dispa" fragment --drugs "$drugs" --json --quiet > "$tmp/frag.json" || fail "--json exit code"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["molecules"]) == 12 and d["errors"] == []' \
  "$tmp/frag.json" || fail "--json output"

# 4. --smiles
[[ $("$dispa" fragment --smiles CCCOCC --quiet | tail -1 | cut -f2) == 3 ]] || fail "--smiles CCCOCC"

# 5. Bad rows: reported with line numbers on stderr, exit code 1, and no output file (a table
#    missing rows must not look complete); --skip-invalid writes the good rows and exits 0.
{ head -3 "$drugs"; printf 'Broken\t0\tC1CC(\tnone\tOther\t0\n'; printf 'Short\n'; tail -n +4 "$drugs"; } > "$tmp/bad.tsv"
"$dispa" fragment --drugs "$tmp/bad.tsv" --out "$tmp/bad_out.tsv" --quiet 2> "$tmp/bad_err"
rc=$?
[[ $rc -eq 1 ]] || fail "bad rows: exit code $rc, expected 1"
grep -q "bad.tsv:4: .*drug 'Broken'.*'C1CC('" "$tmp/bad_err" || fail "line 4 not reported: $(cat "$tmp/bad_err")"
grep -q "bad.tsv:5: " "$tmp/bad_err" || fail "line 5 not reported: $(cat "$tmp/bad_err")"
grep -q "not written (pass --skip-invalid" "$tmp/bad_err" || fail "no 'not written' message: $(cat "$tmp/bad_err")"
[[ ! -e "$tmp/bad_out.tsv" ]] || fail "a partial table was written without --skip-invalid"
ls "$tmp" | grep -q '\.tmp' && fail "a temporary file was left behind: $(ls "$tmp")"
"$dispa" fragment --drugs "$tmp/bad.tsv" --out "$tmp/bad_out.tsv" --skip-invalid --quiet 2> "$tmp/bad_err" \
  || fail "--skip-invalid: exit code $?"
grep -q "warning: skipped .*bad.tsv:4: " "$tmp/bad_err" || fail "--skip-invalid: line 4 not reported: $(cat "$tmp/bad_err")"
[[ $(wc -l < "$tmp/bad_out.tsv") -eq 13 ]] || fail "--skip-invalid: the 12 good rows were not all written"

# 6. An output path that is a folder is refused before any work, leaving nothing beside it.
mkdir -p "$tmp/outdir"
"$dispa" fragment --drugs "$drugs" --out "$tmp/outdir" --quiet 2> "$tmp/dir_err" && fail "--out DIR: exit code 0"
grep -q "is a folder" "$tmp/dir_err" || fail "--out DIR: $(cat "$tmp/dir_err")"
ls "$tmp" | grep -q '\.tmp' && fail "--out DIR left a temporary file: $(ls "$tmp")"
echo "fragment e2e: ok"
