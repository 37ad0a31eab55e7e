#!/usr/bin/env bash
# `dispa --version` and DISPA_CPU end to end (ctest label e2e): every line of the build report is
# there, DISPA_CPU lowers the kernel level, a bad or unavailable level is a one-line error, and a
# copy of the binary in the package layout (bin/, lib/openbabel/<v>/, share/openbabel/<v>/) points
# OpenBabel at those folders itself unless BABEL_LIBDIR is set (scripts/package.sh's layout).
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
# The package layout, with the system's OpenBabel folders linked in (a copy of the binary, because
# the binary finds itself through /proc/self/exe, which resolves symlinks).
ob_line=$(grep '^  openbabel' <<<"$out")
ob_version=$(sed -E 's/^  openbabel +([0-9.]+);.*/\1/' <<<"$ob_line")
plugins=$(sed -E 's/.*plugins (.*) \(([^)]*)\), [0-9]+ formats.*/\1/' <<<"$ob_line")
data=$(sed -E 's/.*; data (.*) \(([^)]*)\)$/\1/' <<<"$ob_line")
[[ -d $data/$ob_version ]] && data=$data/$ob_version
[[ -f $plugins/smilesformat.so && -d $data ]] || { echo "skipping the package-layout check: no OpenBabel folders in '$ob_line'"; exit 0; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/lib/openbabel" "$tmp/share/openbabel"
cp "$dispa" "$tmp/bin/dispa"
ln -s "$plugins" "$tmp/lib/openbabel/$ob_version"
ln -s "$data" "$tmp/share/openbabel/$ob_version"
packaged=$(env -u BABEL_LIBDIR -u BABEL_DATADIR "$tmp/bin/dispa" --version | grep '^  openbabel') || fail "packaged --version"
grep -qF "plugins $tmp/lib/openbabel/$ob_version (package)" <<<"$packaged" || fail "package plugins not used: $packaged"
grep -qF "data $tmp/share/openbabel/$ob_version (package)" <<<"$packaged" || fail "package data not used: $packaged"
frag=$(env -u BABEL_LIBDIR -u BABEL_DATADIR "$tmp/bin/dispa" fragment --smiles 'CC(=O)Oc1ccccc1C(=O)O' 2>&1) ||
  fail "fragment from the package layout: $frag"
grep -qF '[1*]C(=O)C' <<<"$frag" || fail "unexpected fragments: $frag"
user=$(BABEL_LIBDIR=$plugins "$tmp/bin/dispa" --version | grep '^  openbabel')
grep -qF "plugins $plugins (BABEL_LIBDIR)" <<<"$user" || fail "BABEL_LIBDIR set by the user was overridden: $user"
rm "$tmp/lib/openbabel/$ob_version"  # no plugin folder: not a package, nothing is set
bare=$(env -u BABEL_LIBDIR -u BABEL_DATADIR "$tmp/bin/dispa" --version | grep '^  openbabel')
grep -q "(built-in).*(built-in)" <<<"$bare" || fail "without lib/openbabel the binary still claimed a package: $bare"
echo "ok: levels ${levels[*]}; package layout"
