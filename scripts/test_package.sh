#!/usr/bin/env bash
# The relocatable package on a bare system. Not part of CI (it takes minutes, needs root and the
# network to Debian's mirrors); docs/INSTALL.md records its last result.
#   1. builds dist/dispa-<version>-linux-x86_64[-cuda].tar.gz with scripts/package.sh (or takes --tarball)
#   2. creates a minimal Debian 12 root with `debootstrap --variant=minbase bookworm` under
#      .dev/package-test/ (kept and reused; debootstrap is installed with apt-get if missing)
#   3. trains a tiny run on ../shared/data/gdsc2-mini with the package's own binary, outside the root
#   4. unpacks the package into the root and runs, through chroot with an empty environment:
#      dispa --version, fragment, demo --quick, pathways score, predict; PASS/FAIL per command
#   5. runs the package on emulated CPUs without AVX-512 (qemu-user -cpu Haswell) and without AVX
#      at all (-cpu Nehalem), where an instruction the model lacks is SIGILL: the kernel level
#      chosen, GSVA scoring and predictions equal to the native ones (qemu-user installed if missing)
# Usage: scripts/test_package.sh [--cuda] [--tarball FILE]      Exit status: number of failures.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

die() { echo "test_package.sh: $*" >&2; exit 100; }
variant=--cpu
tarball=
while (($#)); do
  case $1 in
    --cpu | --cuda) variant=$1 ;;
    --tarball) tarball=${2:-}; shift ;;
    -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
    *) die "unknown argument '$1'" ;;
  esac
  shift
done
((EUID == 0)) || die "needs root (debootstrap, chroot, mounting /proc in the root)"
shared=${DISPA_SHARED:-../shared}
mini=$(readlink -f "$shared/data/gdsc2-mini")
[[ -f $mini/expression.tsv ]] || die "$mini not found (set DISPA_SHARED)"
work=$repo/.dev/package-test
rootfs=$work/bookworm-minbase
mkdir -p "$work"

# 1. The package.
if [[ -z $tarball ]]; then
  scripts/package.sh "$variant" || die "scripts/package.sh $variant failed"
  version=$(sed -n 's/^project(dispa VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
  tarball=dist/dispa-$version-linux-x86_64$([[ $variant == --cuda ]] && echo -cuda).tar.gz
fi
[[ -f $tarball ]] || die "no package at $tarball"
tarball=$(readlink -f "$tarball")
name=$(basename "$tarball" .tar.gz)

# 2. The minimal root, once.
if [[ ! -x $rootfs/bin/sh ]]; then
  if ! command -v debootstrap >/dev/null; then
    echo "test_package: installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
      die "apt-get install debootstrap failed"
  fi
  echo "test_package: debootstrap --variant=minbase bookworm into $rootfs (a few minutes)"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    > "$work/debootstrap.log" 2>&1 || die "debootstrap failed; see $work/debootstrap.log"
fi
echo "test_package: root $rootfs: Debian $(cat "$rootfs/etc/debian_version"), $(chroot "$rootfs" dpkg-query -W | wc -l) packages"

# 3. A tiny trained run, by the package's binary on this machine.
host=$work/host
rm -rf "$host" && mkdir -p "$host"
tar -C "$host" -xzf "$tarball" || die "cannot unpack $tarball"
echo "test_package: training a tiny run on gdsc2-mini (outside the root)"
env -i PATH=/usr/bin:/bin OMP_NUM_THREADS=2 "$host/$name/bin/dispa" train --data "$mini" \
  --gmt "$mini/pathways_kegg34.gmt" --folds 2 --epochs 1 --embed-dim 16 --ffn-hidden 32 --attn-dim 16 --heads 2 \
  --head-dims 16 8 --batch-size 64 --no-ridge --quiet --out "$host/run" > "$work/train.log" 2>&1 ||
  die "tiny training failed; see $work/train.log"

# 4. Into the root: the package under /opt, the inputs under /work.
rm -rf "$rootfs/opt/$name" "$rootfs/work"
mkdir -p "$rootfs/opt" "$rootfs/work"
tar -C "$rootfs/opt" -xzf "$tarball"
cp -r "$host/run" "$rootfs/work/run"
cp "$mini/expression.tsv" "$mini/drugs.tsv" "$mini/pathways_kegg34.gmt" "$rootfs/work/"
mountpoint -q "$rootfs/proc" || mount -t proc proc "$rootfs/proc" || die "cannot mount /proc in the root"
trap 'umount "$rootfs/proc" 2>/dev/null' EXIT

dispa=/opt/$name/bin/dispa
in_root() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root OMP_NUM_THREADS=2 "$@"; }
runner=in_root
failures=0
# check NAME CONDITION-COMMAND -- COMMAND...: runs COMMAND in the root (output in $work/NAME.log),
# then CONDITION on the host; PASS when both succeed.
check() {
  local name=$1 condition=$2
  shift 3
  local start=$SECONDS
  if "$runner" "$@" > "$work/$name.log" 2>&1 && (cd "$rootfs" && eval "$condition") >> "$work/$name.log" 2>&1; then
    printf 'PASS  %-16s %3ds  %s\n' "$name" $((SECONDS - start)) "$*"
  else
    printf 'FAIL  %-16s %3ds  %s  (log: %s)\n' "$name" $((SECONDS - start)) "$*" "$work/$name.log"
    tail -5 "$work/$name.log" | sed 's/^/        /'
    failures=$((failures + 1))
  fi
}
log() { echo "$work/$1.log"; }

echo "test_package: running $name in the minimal root"
check version "grep -q '(package), [1-9][0-9]* formats;' $(log version) && grep -q 'kernels' $(log version)" -- \
  "$dispa" --version
check fragment "grep -q '\*\]' $(log fragment)" -- \
  "$dispa" fragment --smiles 'CC(=O)Oc1ccccc1C(=O)O'
check demo "test -s tmp/demo/metrics.json" -- \
  "$dispa" demo --quick --out /tmp/demo
check pathways-score "test \$(wc -l < work/scores.tsv) -eq 41" -- \
  "$dispa" pathways score --expression /work/expression.tsv --gmt /work/pathways_kegg34.gmt --method ssgsea \
  --out /work/scores.tsv
check predict "test \$(wc -l < work/preds.tsv) -eq 481" -- \
  "$dispa" predict --run /work/run --expression /work/expression.tsv --drugs /work/drugs.tsv --out /work/preds.tsv
check no-avx-kernels "grep -q 'kernels portable' $(log no-avx-kernels)" -- \
  /usr/bin/env DISPA_CPU=portable "$dispa" --version

# 5. Emulated CPUs, on the host copy of the package.
if ! command -v qemu-x86_64 >/dev/null; then
  echo "test_package: installing qemu-user"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user >/dev/null ||
    die "apt-get install qemu-user failed"
fi
# |difference| of the prediction columns of two predict outputs, at most 1e-4 (rounding only).
same_predictions() { paste "$1" "$2" | awk -F'\t' 'BEGIN { m = 0 } NR > 1 { d = $3 - $7; if (d < 0) d = -d; if (d > m) m = d }
  END { print "max |diff|", m; exit !(NR == 481 && m <= 1e-4) }'; }
for model in Nehalem:portable Haswell:avx2; do
  cpu=${model%%:*}
  level=${model#*:}
  on_emulated_cpu() { env -i PATH=/usr/bin:/bin OMP_NUM_THREADS=2 qemu-x86_64 -cpu "$cpu" "$@"; }
  runner=on_emulated_cpu
  echo "test_package: emulated $cpu CPU (qemu-user; expects the $level kernels)"
  check "$cpu-version" "grep -q 'kernels $level (' $(log "$cpu-version")" -- "$host/$name/bin/dispa" --version
  check "$cpu-gsva" "test \$(wc -l < $work/$cpu-gsva.tsv) -eq 41" -- "$host/$name/bin/dispa" pathways score \
    --expression "$mini/expression.tsv" --gmt "$mini/pathways_kegg34.gmt" --method gsva --out "$work/$cpu-gsva.tsv"
  check "$cpu-predict" "same_predictions work/preds.tsv $work/$cpu-preds.tsv" -- "$host/$name/bin/dispa" predict \
    --run "$host/run" --expression "$mini/expression.tsv" --drugs "$mini/drugs.tsv" --out "$work/$cpu-preds.tsv"
done

echo "test_package: $name: $(du -h "$tarball" | cut -f1) compressed, $(du -sh "$rootfs/opt/$name" | cut -f1) unpacked"
echo "test_package: version line: $(grep -m1 '^dispa' "$work/version.log")"
if ((failures)); then echo "test_package: $failures FAILED"; else echo "test_package: all passed"; fi
exit "$failures"
