#!/usr/bin/env bash
# Builds the relocatable dispa package (docs/INSTALL.md):
#   dist/dispa-<version>-linux-x86_64[-cuda].tar.gz, one folder holding
#     bin/dispa                 stripped Release build (no tests, no benchmarks)
#     lib/                      the shared libraries a minimal Debian 12 / Ubuntu 22.04 lacks
#                               (OpenBabel, fmt, libgomp, libinchi; --cuda: CUDA runtime, cuBLAS)
#     lib/openbabel/<version>/  OpenBabel's plugins     share/openbabel/<version>/  its data files
#     licenses/                 the copyright files of everything bundled      README.md
# The binary finds lib/ through its RPATH ($ORIGIN/../lib) and OpenBabel's folders by itself
# (chem/openbabel_env.h): no wrapper script, no LD_LIBRARY_PATH. The host provides glibc,
# libstdc++, libgcc_s and zlib (minbase Debian has them), and for --cuda the NVIDIA driver.
# Usage: scripts/package.sh [--cpu | --cuda [--host-cuda-libs]] [--deb]
#   --host-cuda-libs  leave the CUDA runtime and cuBLAS out (about 400 MB of the 411 MB package):
#                     the host provides them (*-cuda-hostlibs.tar.gz; its README says which)
#   --deb             also a .deb (CPU only) that depends on Debian's libraries instead of bundling them
# Environment: DISPA_CUDA_ARCHITECTURES (default 90) for --cuda.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "package.sh: $*" >&2; exit 1; }
variant=cpu
deb=0
host_cuda=0
for arg in "$@"; do
  case $arg in
    --cpu) variant=cpu ;;
    --cuda) variant=cuda ;;
    --deb) deb=1 ;;
    --host-cuda-libs) host_cuda=1 ;;
    -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
    *) fail "unknown argument '$arg' (expected --cpu, --cuda or --deb)" ;;
  esac
done
[[ $(uname -m) == x86_64 ]] || fail "packages are built for x86-64 only (this is $(uname -m))"
((host_cuda == 0)) || [[ $variant == cuda ]] || fail "--host-cuda-libs goes with --cuda"
((deb == 0)) || [[ $variant == cpu ]] || fail "--deb is for the CPU variant only (CUDA's libraries are not Debian packages here)"

version=$(sed -n 's/^project(dispa VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[[ -n $version ]] || fail "no project version in CMakeLists.txt"
name=dispa-$version-linux-x86_64
build=build-package-$variant
cmake_args=(-DCMAKE_BUILD_TYPE=Release -DDISPA_BENCH=OFF -DDISPA_NATIVE=OFF -DDISPA_SANITIZE=OFF)
if [[ $variant == cuda ]]; then
  [[ -x /usr/local/cuda/bin/nvcc ]] || fail "--cuda needs the CUDA toolkit at /usr/local/cuda"
  name+=-cuda
  ((host_cuda == 0)) || name+=-hostlibs
  cmake_args+=(-DDISPA_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${DISPA_CUDA_ARCHITECTURES:-90}")
else
  cmake_args+=(-DDISPA_CUDA=OFF)
fi

echo "package: building $name in $build/"
cmake -S . -B "$build" -G Ninja "${cmake_args[@]}" >/dev/null
cmake --build "$build" --target dispa --parallel "$(nproc)"

stage=$(mktemp -d)
[[ -n ${DISPA_PACKAGE_KEEP_STAGE:-} ]] || trap 'rm -rf "$stage"' EXIT
root=$stage/$name
cmake --install "$build" --prefix "$root" --strip >/dev/null
[[ -x $root/bin/dispa ]] || fail "cmake --install produced no bin/dispa"
mkdir -p "$root/lib" "$root/licenses"

# What the host has: glibc, the GCC runtime (libstdc++6 and libgcc-s1 are in every minbase Debian
# and Ubuntu) and zlib (Priority: required). Everything else ldd resolves is bundled. The NVIDIA
# driver (libcuda.so.1) is dlopened by the CUDA runtime, never linked, and never bundled.
host_libs='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libresolv|libstdc\+\+|libgcc_s|libz)\.so'
# Dependencies of OpenBabel plugins that are bundled too; a plugin needing anything else (libxml2
# with ICU: CML and other XML formats; cairo with X11: PNG depictions; Maestro) is left out.
plugin_extra_libs='^libinchi\.so'

declare -A bundled=()  # soname -> source path
# Resolved non-host dependencies of a file, as "soname path" lines; fails on any "not found".
deps_of() {
  local out
  out=$(ldd "$1") || fail "ldd failed on $1"
  if grep -q 'not found' <<<"$out"; then fail "$1: unresolved libraries: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ')"; fi
  awk '/=> \//{print $1" "$3}' <<<"$out" | { grep -Ev "$host_libs" || true; }
}
# The build-tree binary, whose build RPATH still resolves the CUDA libraries.
cuda_libs='^lib(cudart|cublas|cublasLt)\.so'
host_cuda_sonames=()
while read -r soname path; do
  if ((host_cuda)) && [[ $soname =~ $cuda_libs ]]; then host_cuda_sonames+=("$soname"); continue; fi
  bundled[$soname]=$path
done < <(deps_of "$build/tools/dispa")

babel_version=$(sed -n 's/^#define BABEL_VERSION "\(.*\)"/\1/p' /usr/include/openbabel3/openbabel/babelconfig.h)
plugin_src=$(sed -n 's/^#define OB_MODULE_PATH "\(.*\)"/\1/p' /usr/include/openbabel3/openbabel/babelconfig.h)
data_src=$(sed -n 's/^#define BABEL_DATADIR "\(.*\)"/\1/p' /usr/include/openbabel3/openbabel/babelconfig.h)/$babel_version
[[ -f $plugin_src/smilesformat.so && -d $data_src ]] || fail "OpenBabel plugins or data not found ($plugin_src, $data_src)"
plugin_dst=$root/lib/openbabel/$babel_version
mkdir -p "$plugin_dst" "$root/share/openbabel"
cp -r "$data_src" "$root/share/openbabel/$babel_version"
left_out=()
for plugin in "$plugin_src"/*.so; do
  ok=1
  extra=()
  while read -r soname path; do
    [[ -n $soname ]] || continue
    if [[ -n ${bundled[$soname]:-} ]]; then continue; fi
    if [[ $soname =~ $plugin_extra_libs ]]; then extra+=("$soname $path"); else ok=0; fi
  done < <(deps_of "$plugin")
  if ((ok)); then
    cp "$plugin" "$plugin_dst/"
    for e in "${extra[@]}"; do bundled[${e%% *}]=${e#* }; done
  else
    left_out+=("$(basename "$plugin" .so)")
  fi
done

# Libraries and their licenses: Debian's copyright file per package; CUDA's from its dist-info.
declare -A license_done=()
for soname in "${!bundled[@]}"; do
  path=${bundled[$soname]}
  cp -L "$path" "$root/lib/$soname"
  real=$(readlink -f "$path")
  if pkg=$(dpkg -S "$real" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n $pkg ]]; then
    [[ -n ${license_done[$pkg]:-} ]] && continue
    [[ -f /usr/share/doc/$pkg/copyright ]] || fail "no copyright file for $pkg ($soname)"
    cp "/usr/share/doc/$pkg/copyright" "$root/licenses/$pkg.copyright"
    license_done[$pkg]=1
  elif [[ $real == /usr/local/cuda* ]]; then
    case $soname in
      libcudart*) component=nvidia_cuda_runtime ;;
      libcublas*) component=nvidia_cublas ;;
      *) fail "no license rule for the CUDA library $soname" ;;
    esac
    [[ -n ${license_done[$component]:-} ]] && continue
    lic=$(ls /usr/local/cuda/dist-info/"$component"-*/licenses/License.txt /usr/local/cuda/EULA.txt 2>/dev/null | head -1) ||
      true
    [[ -n $lic ]] || fail "no license file for $soname under /usr/local/cuda"
    cp "$lic" "$root/licenses/$component.License.txt"
    license_done[$component]=1
  else
    fail "cannot tell which package $real belongs to (needed for its license)"
  fi
done
[[ -n ${license_done[libopenbabel7]:-} ]] || fail "libopenbabel7's copyright was not collected"

# The staged binary must load its bundled copies, with a clean environment.
ldd "$root/bin/dispa" | grep -q "libopenbabel.so.7 => $root/bin/../lib/" || fail "bin/dispa does not resolve OpenBabel from lib/ (RPATH?)"
# (--host-cuda-libs: this machine's toolkit plays the host's part)
version_out=$(env -i PATH=/usr/bin:/bin ${host_cuda_sonames[0]:+LD_LIBRARY_PATH=/usr/local/cuda/lib64} \
  "$root/bin/dispa" --version) || fail "bin/dispa --version failed"
grep -q "plugins $plugin_dst (package)" <<<"$version_out" || fail "bin/dispa did not find its bundled OpenBabel plugins: $version_out"

# Oldest glibc / libstdc++ the package runs on: the newest symbol versions it references.
newest() { cat | grep -o "$1[0-9.]*" | sort -uV | tail -1; }
all_objects=("$root/bin/dispa" "$root"/lib/*.so* "$plugin_dst"/*.so)
glibc=$(for f in "${all_objects[@]}"; do objdump -T "$f"; done | newest 'GLIBC_')
glibcxx=$(for f in "${all_objects[@]}"; do objdump -T "$f"; done | newest 'GLIBCXX_')
commit=$(git rev-parse --short=12 HEAD)$(git status --porcelain --untracked-files=no | grep -q . && echo -dirty || true)

{
  echo "# dispa $version ($variant package, commit $commit)"
  echo
  echo "The DiSPA drug-response model (ln IC50 of a drug on a cancer cell line) and its command line,"
  echo "with the shared libraries it needs. Unpack anywhere and run \`bin/dispa\`; nothing to install,"
  echo "no environment to set. Documentation: docs/INSTALL.md and docs/commands.md in the repository."
  echo
  echo '```sh'
  echo "bin/dispa --version"
  echo "bin/dispa demo --quick"
  echo "bin/dispa fragment --smiles 'CC(=O)Oc1ccccc1C(=O)O'"
  echo '```'
  echo
  echo "## Requirements"
  echo
  echo "- Linux x86-64 with glibc >= ${glibc#GLIBC_}, a libstdc++ that provides $glibcxx, libgcc_s and zlib:"
  echo "  Debian 12 and Ubuntu 22.04 or newer have them even in their minimal images (Debian 11 and"
  echo "  Ubuntu 20.04 are too old)."
  echo "- Any x86-64 CPU: the GEMM and GSVA kernels are compiled for portable C++, AVX2+FMA and"
  echo "  AVX-512 and chosen at run time (\`dispa --version\` shows which; DISPA_CPU=portable|avx2|avx512"
  echo "  chooses a lower one)."
  if [[ $variant == cuda ]]; then
    cuda_major=$(sed -n 's/^#define CUDART_VERSION \([0-9]*\)/\1/p' /usr/local/cuda/include/cuda_runtime_api.h)
    echo "- \`--device cuda\`: an NVIDIA GPU of compute capability ${DISPA_CUDA_ARCHITECTURES:-90} (SASS; PTX for newer GPUs is"
    echo "  compiled in and JIT-compiled by the driver) and an NVIDIA driver for CUDA $((cuda_major / 1000)):"
    echo "  the r580 driver branch or newer. The driver (libcuda.so.1) comes from the host;"
    echo "  \`dispa --version\` prints the CUDA version it supports."
    if ((host_cuda)); then
      echo "- Not bundled, so the host must provide them where the dynamic loader finds them (a CUDA 13"
      echo "  toolkit's lib64 in /etc/ld.so.conf.d, or LD_LIBRARY_PATH): ${host_cuda_sonames[*]}."
    else
      echo "  The CUDA runtime and cuBLAS are bundled (most of the package's size)."
    fi
  fi
  echo
  echo "## Contents"
  echo
  echo "| path | what |"
  echo "|---|---|"
  echo "| bin/dispa | the command line (RPATH \$ORIGIN/../lib) |"
  for soname in $(printf '%s\n' "${!bundled[@]}" | sort); do
    real=$(readlink -f "${bundled[$soname]}")
    pkg=$(dpkg -S "$real" 2>/dev/null | head -1 | cut -d: -f1 || true)
    if [[ -n $pkg ]]; then
      from="$pkg $(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null)"
    else  # the toolkit's wheels record their versions: nvidia_cublas-13.1.0.3.dist-info
      component=$([[ $soname == libcudart* ]] && echo nvidia_cuda_runtime || echo nvidia_cublas)
      from=$(basename "$(ls -d /usr/local/cuda/dist-info/"$component"-*.dist-info 2>/dev/null | head -1)" .dist-info)
      from=${from:-CUDA toolkit}
    fi
    echo "| lib/$soname | $from |"
  done
  echo "| lib/openbabel/$babel_version/ | $(ls "$plugin_dst" | wc -l) OpenBabel plugins (file formats, descriptors, fingerprints) |"
  echo "| share/openbabel/$babel_version/ | OpenBabel's data files |"
  echo "| licenses/ | the license or copyright file of every bundled library |"
  echo
  echo "OpenBabel plugins left out (their libraries would outweigh the rest of the package):"
  echo "${left_out[*]:-none}."
  echo "The binary sets BABEL_LIBDIR and BABEL_DATADIR to the folders above unless they are set already."
  echo
  echo "## Licenses"
  echo
  echo "OpenBabel is GPL-2; licenses/ holds the copyright file of every bundled Debian package."
  if [[ $variant == cuda ]] && ((host_cuda == 0)); then
    echo "The CUDA runtime and cuBLAS are under NVIDIA's license (licenses/nvidia_*), whose attachment A"
    echo "lists them as redistributable with applications."
  fi
} > "$root/README.md"

mkdir -p dist
out=dist/$name.tar.gz
tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -czf "$out" "$name"
echo "package: $out ($(du -h "$out" | cut -f1) compressed, $(du -sh "$root" | cut -f1) unpacked)"
echo "package: bundled ${#bundled[@]} libraries, $(ls "$plugin_dst" | wc -l) plugins; left out: ${left_out[*]:-none}"
echo "package: needs glibc >= ${glibc#GLIBC_} and $glibcxx"

if ((deb)); then
  (cd "$build" && cpack -G DEB >/dev/null) || fail "cpack -G DEB failed"
  deb_file=$(ls -t "$build"/dispa_*.deb | head -1)
  cp "$deb_file" dist/
  echo "package: dist/$(basename "$deb_file") ($(du -h "$deb_file" | cut -f1)); depends: $(dpkg-deb -f "$deb_file" Depends)"
fi
