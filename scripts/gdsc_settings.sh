#!/usr/bin/env bash
# The paper's table on GDSC2: random, cell-blind, drug-blind and disjoint settings x differential
# and vanilla attention x 5 folds, each fold its own `dispa train --fold K` run (baselines in the
# same run, on the same test pairs). Runs are queued fold-major (fold 0 of every setting and kind,
# then fold 1, ...), so a partial campaign still covers every cell of the table; a finished run is
# skipped and a killed one resumed, so the script can be rerun until it completes.
#
#   scripts/gdsc_settings.sh OUT_ROOT            then   scripts/settings_table.py OUT_ROOT
#
# Environment: DISPA (binary, default build/tools/dispa), DATA (default ../shared/data/gdsc2),
# CONFIG=small|reduced|paper (model size, below), EPOCHS, FOLDS (default 5), SETTINGS, ATTENTIONS,
# FOLD_LIST (default 0..FOLDS-1), DEVICE (cpu|cuda), JOBS (runs at once, default 1; each gets
# OMP_NUM_THREADS = THREADS, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
out_root=${1:?usage: scripts/gdsc_settings.sh OUT_ROOT}
dispa=${DISPA:-build/tools/dispa}
data=${DATA:-../shared/data/gdsc2}
folds=${FOLDS:-5}
settings=${SETTINGS:-random cell-blind drug-blind disjoint}
attentions=${ATTENTIONS:-differential vanilla}
fold_list=${FOLD_LIST:-$(seq -s ' ' 0 $((folds - 1)))}
device=${DEVICE:-cpu}
jobs=${JOBS:-1}
threads=${THREADS:-1}
case ${CONFIG:-small} in
  # Fits a 2-core machine: about 30 s per epoch on one core; batch 256 for twice the steps.
  small) model=(--embed-dim 32 --ffn-hidden 64 --attn-dim 32 --heads 2 --head-dims 64 16 --lr 1e-3
                --lr-patience 1 --patience 3 --batch-size 256); epochs=${EPOCHS:-4} ;;
  # docs/RESULTS.md run 1.
  reduced) model=(--embed-dim 64 --ffn-hidden 128 --attn-dim 64 --heads 4 --head-dims 128 32 --lr 1e-3
                  --lr-patience 1 --patience 3 --batch-size 512); epochs=${EPOCHS:-8} ;;
  # The paper's configuration (the defaults) to early stopping: for a GPU.
  paper) model=(--batch-size 512); epochs=${EPOCHS:-100} ;;
  *) echo "CONFIG must be small, reduced or paper" >&2; exit 2 ;;
esac
[[ -x $dispa ]] || { echo "no dispa binary at $dispa (build first or set DISPA)" >&2; exit 2; }

queue=()
for fold in $fold_list; do
  for setting in $settings; do
    for attention in $attentions; do queue+=("$setting $attention $fold"); done
  done
done

run_one() {
  local setting=$1 attention=$2 fold=$3
  local run="$out_root/$setting-$attention/fold$fold"
  if [[ -f $run/run_options.json ]] && grep -q '"state": *"finished"' "$run/run_options.json"; then
    echo "skip $run (finished)"; return 0
  fi
  local extra=()
  # The baselines do not depend on the attention kind: ridge (the slow one) only beside differential.
  [[ $attention == vanilla ]] && extra+=(--no-ridge)
  mkdir -p "$out_root/$setting-$attention"
  echo "$(date -u +%H:%M:%S) start $run"
  OMP_NUM_THREADS=$threads "$dispa" train --data "$data" --gmt "$data/pathways_kegg.gmt" --split "$setting" \
    --folds "$folds" --fold "$fold" --seed 0 --epochs "$epochs" --attention "$attention" \
    --device "$device" "${model[@]}" "${extra[@]}" --resume --quiet --out "$run" > "$run.log" 2>&1 \
    && echo "$(date -u +%H:%M:%S) done  $run" || echo "$(date -u +%H:%M:%S) FAILED $run (see $run.log)"
}

running=0
for item in "${queue[@]}"; do
  # shellcheck disable=SC2086
  run_one $item &
  running=$((running + 1))
  if (( running >= jobs )); then wait -n; running=$((running - 1)); fi
done
wait
