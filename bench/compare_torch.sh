#!/usr/bin/env bash
# dispa vs the PyTorch reference (bench/torch_dispa.py) on one machine, in one run:
#   1. PyTorch in a private virtual environment (a benchmark dependency only, never the product's):
#      ${DISPA_TORCH_VENV:-$HOME/.cache/dispa/torch-venv}, created with `pip install torch numpy
#      safetensors` from PyPI when it is missing or cannot import torch;
#   2. both implementations checked against the PyTorch fixtures (../shared/fixtures/dispa_ref):
#      torch_dispa.py check, and `dispa forward` on both variants compared with outputs_eval;
#   3. ROUNDS rounds, each running `dispa bench-step --screen` and then torch_dispa.py time and
#      screen, so both see the same load; paper configuration at GDSC2 shapes;
#   4. a markdown table (bench/compare_step.py --markdown): medians, p10/p90, process CPU time,
#      ratios; the screening row (every one of 580 x 170 pairs); last line exactly
#      `speedup train <x>x eval <y>x` (PyTorch median / dispa median, median over rounds).
# Usage: bench/compare_torch.sh [cpu|cuda]
# Environment: DISPA_BUILD_DIR (default build/), DISPA_SHARED (default ../shared), DISPA_TORCH_VENV,
# ROUNDS (2), STEPS (12), WARMUP (3), SCREEN_REPS (1), THREADS (2, CPU only: OMP_NUM_THREADS and
# torch's intra-op threads), OUT (where the JSON lines and logs go; default a temporary folder).
set -euo pipefail

device=${1:-cpu}
case "$device" in cpu|cuda) ;; *) echo "usage: $0 [cpu|cuda]" >&2; exit 2 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
build=${DISPA_BUILD_DIR:-$root/build}
case "$build" in /*) ;; *) build=$PWD/$build ;; esac
dispa=$build/tools/dispa
shared=${DISPA_SHARED:-$root/../shared}
venv=${DISPA_TORCH_VENV:-$HOME/.cache/dispa/torch-venv}
rounds=${ROUNDS:-2} steps=${STEPS:-12} warmup=${WARMUP:-3} screen_reps=${SCREEN_REPS:-1} threads=${THREADS:-2}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/dispa-compare-torch.XXXXXX")}
mkdir -p "$out"
jsonl=$out/step.jsonl
: > "$jsonl"

[ -x "$dispa" ] || { echo "error: $dispa not found: build first (scripts/build.sh) or set DISPA_BUILD_DIR" >&2; exit 1; }
[ -d "$shared/fixtures/dispa_ref" ] || { echo "error: $shared/fixtures/dispa_ref not found: set DISPA_SHARED" >&2; exit 1; }

# ---- 1. PyTorch in its own virtual environment -------------------------------------------------
if ! "$venv/bin/python" -c 'import torch, safetensors, numpy' >/dev/null 2>&1; then
  echo "== installing PyTorch into $venv (pip, PyPI; a few GB, once)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check torch numpy safetensors
  "$venv/bin/python" -c 'import torch, safetensors, numpy' ||
    { echo "error: torch does not import from $venv after installing it" >&2; exit 1; }
fi
py=$venv/bin/python
# Threads: dispa's OpenMP and torch's intra-op pool both read OMP_NUM_THREADS.
[ "$device" = cpu ] && export OMP_NUM_THREADS=$threads

# ---- 2. both implementations against the fixtures ----------------------------------------------
echo "== checks against $shared/fixtures/dispa_ref" >&2
"$py" "$root/bench/torch_dispa.py" check --fixtures "$shared/fixtures/dispa_ref" --device "$device" \
  > "$out/torch_check.txt" || { cat "$out/torch_check.txt" >&2; echo "error: torch_dispa.py check failed" >&2; exit 1; }
for variant in differential vanilla; do
  fx=$shared/fixtures/dispa_ref/$variant
  "$dispa" forward --weights "$fx/weights.safetensors" --config "$fx/config.json" --inputs "$fx/inputs.safetensors" \
    --out "$out/forward_$variant.safetensors" --device "$device" > "$out/forward_$variant.log" 2>&1 ||
    { cat "$out/forward_$variant.log" >&2; echo "error: dispa forward failed on $variant" >&2; exit 1; }
  "$py" - "$fx/outputs_eval.safetensors" "$out/forward_$variant.safetensors" "$variant" <<'EOF'
import sys
from safetensors.numpy import load_file
ref, got, variant = load_file(sys.argv[1]), load_file(sys.argv[2]), sys.argv[3]
bad = []
for k in ("prediction", "path2sub_attention", "drug2path_attention", "pathway_tokens"):
    r, g = ref[k].astype("float64"), got[k].astype("float64").reshape(ref[k].shape)
    err = abs(g - r)
    if not (err <= 1e-5 + 1e-4 * abs(r)).all():
        bad.append(f"{k}: max abs err {err.max():.3g}")
print(f"dispa forward {variant}: " + ("ok (outputs within 1e-4 of the fixture)" if not bad else "MISMATCH " + "; ".join(bad)),
      file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
done
grep -q "ALL OK" "$out/torch_check.txt" && echo "torch_dispa.py check: ALL OK" >&2

# ---- 3. interleaved rounds ---------------------------------------------------------------------
for r in $(seq 1 "$rounds"); do
  echo "== round $r of $rounds: dispa" >&2
  "$dispa" bench-step --device "$device" --steps "$steps" --warmup "$warmup" --screen --screen-reps "$screen_reps" \
    --json "$jsonl" > /dev/null 2>> "$out/dispa.log"
  echo "== round $r of $rounds: PyTorch" >&2
  "$py" "$root/bench/torch_dispa.py" time --device "$device" --steps "$steps" --warmup "$warmup" --json "$jsonl" \
    > /dev/null 2>> "$out/torch.log"
  "$py" "$root/bench/torch_dispa.py" screen --device "$device" --reps "$screen_reps" --json "$jsonl" \
    > /dev/null 2>> "$out/torch.log"
done

# ---- 4. the table ------------------------------------------------------------------------------
echo "== results ($jsonl; $(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), device $device, threads ${OMP_NUM_THREADS:-default})" >&2
"$py" "$root/bench/compare_step.py" --markdown "$jsonl"
