#!/usr/bin/env bash
# Runs the GPU checks on a machine with an NVIDIA GPU, from the bundle made by
# scripts/gpu_bundle.sh (.dev/bundle.tar.xz): the `gpu` parity suites, the same suites under
# compute-sanitizer (memcheck, racecheck, initcheck, synccheck), an end-to-end CUDA training run on
# the mini data, the GPU benchmarks and the training-step comparison with PyTorch.
#   scripts/gpu_check.sh [steps...]   steps: info tests sanitize e2e bench step profile step_compile train
#   (default: info tests sanitize e2e bench step). Knobs: SANITIZE_TOOLS, SANITIZE_PROGRAMS,
#   SANITIZE_LIMIT (seconds per program and tool), TRAIN_EPOCHS, TRAIN_FOLD, TRAIN_LIMIT, GATE=1 (skip
#   everything after a failed step).
# Logs go to /tmp/dispa-gpu-logs and, packed, to $OUT/gpu-logs.tgz (the device tool returns at most 8
# files); every step runs under `timeout` and a failing step does not stop the others; the last
# lines printed are a one-line-per-step summary.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
result_dir=${OUT:-$root/gpu-out}
out=/tmp/dispa-gpu-logs
rm -rf "$out" && mkdir -p "$out" "$result_dir"
steps=("$@")
[[ ${#steps[@]} -eq 0 ]] && steps=(info tests sanitize e2e bench step)

dev=/tmp/dispa-gpu
rm -rf "$dev" && mkdir -p "$dev" && xz -dc .dev/bundle.tar.xz | tar -C "$dev" -xf - || { echo "no bundle"; exit 2; }
export LD_LIBRARY_PATH="$dev/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
for d in /opt/torch/.venv/lib/python3*/site-packages/nvidia/cu*/lib /opt/torch/.venv/lib/python3*/site-packages/nvidia/cublas/lib; do
  [[ -d $d ]] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
export DISPA_SHARED="$dev/shared" BABEL_LIBDIR="$dev/openbabel/lib" BABEL_DATADIR="$dev/openbabel/data"
bin=$dev/bin
summary=()

# run_step NAME SECONDS command... : logs to $out/NAME.log, records pass/fail and wall time.
run_step() {
  local name=$1 limit=$2
  shift 2
  local start=$SECONDS
  echo "=== $name: $*" | tee -a "$out/all.log"
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local rc=$?
  tail -n 25 "$out/$name.log"
  summary+=("$(printf '%-28s rc=%-4s %4ss' "$name" "$rc" "$((SECONDS - start))")")
  [[ $rc -eq 0 ]] || failures=$((failures + 1))
}
failures=0

for step in "${steps[@]}"; do
  # With GATE=1 a failed step stops everything after it (no benchmarks of broken code).
  if [[ ${GATE:-0} == 1 && $failures -gt 0 ]]; then
    summary+=("$(printf '%-28s skipped (an earlier step failed)' "$step")")
    continue
  fi
  case $step in
    info)
      run_step info 60 bash -c "nvidia-smi; nvcc --version | tail -2; cat $dev/commit; ldd $bin/dispa | grep -i 'not found' || echo 'all libraries found'"
      ;;
    tests)
      run_step engine_gpu_parity 240 "$bin/engine_gpu_parity"
      run_step model_gpu_parity 240 "$bin/model_gpu_parity"
      run_step dist_gpu_parity 240 "$bin/dist_gpu_parity"
      ;;
    sanitize)
      for tool in ${SANITIZE_TOOLS:-memcheck racecheck initcheck synccheck}; do
        for program in ${SANITIZE_PROGRAMS:-engine_gpu_parity model_gpu_parity}; do
          run_step "${program%%_*}_$tool" "${SANITIZE_LIMIT:-150}" \
            compute-sanitizer --tool "$tool" --error-exitcode 9 --print-limit 20 "$bin/$program"
        done
      done
      ;;
    e2e)
      # CUDA forward on the fixtures must equal the CPU forward; a short CUDA training run on the mini data.
      run_step forward_cuda 60 bash -c "for v in differential vanilla; do f=$DISPA_SHARED/fixtures/dispa_ref/\$v;
        for d in cpu cuda; do $bin/dispa forward --weights \$f/weights.safetensors --config \$f/config.json \
          --inputs \$f/inputs.safetensors --out /tmp/fwd_\${v}_\${d}.safetensors --device \$d || exit 1; done;
        cmp -s /tmp/fwd_\${v}_cpu.safetensors /tmp/fwd_\${v}_cuda.safetensors && echo \"\$v: cpu and cuda outputs bit-identical\" || echo \"\$v: outputs differ (bitwise; parity tests bound the difference)\"; done"
      run_step train_mini_cuda 180 "$bin/dispa" train --data "$DISPA_SHARED/data/gdsc2-mini" \
        --gmt "$DISPA_SHARED/data/gdsc2-mini/pathways_kegg34.gmt" --split random --folds 3 --fold 0 --epochs 3 \
        --batch-size 64 --device cuda --no-ridge --out /tmp/mini-cuda
      ;;
    bench)
      for b in kernels_bench softmax_bench gather_bench diff_attention_bench; do
        [[ -x $bin/$b ]] || continue
        run_step "$b" 120 "$bin/$b" --benchmark_filter=cuda --benchmark_min_time=0.2 \
          --benchmark_out="$out/$b.json" --benchmark_out_format=json
      done
      ;;
    step)
      # The same measurement for dispa (de-duplicated batches, as dispa train; and one row per pair,
      # as the PyTorch loader) and for the PyTorch reference (eager; TF32 off on both sides).
      run_step step_dispa 120 "$bin/dispa" bench-step --device cuda --json "$out/step.jsonl"
      run_step step_dispa_nodedup 120 "$bin/dispa" bench-step --device cuda --no-dedup --json "$out/step.jsonl"
      run_step step_dispa_unfused 120 "$bin/dispa" bench-step --device cuda --unfused --json "$out/step.jsonl"
      run_step step_dispa_vanilla 120 "$bin/dispa" bench-step --device cuda --attention vanilla --json "$out/step.jsonl"
      run_step step_torch 180 env PYTHONUNBUFFERED=1 python3 bench/torch_dispa.py time --device cuda --json "$out/step.jsonl"
      run_step step_dispa_tf32 120 "$bin/dispa" bench-step --device cuda --tf32 --json "$out/step.jsonl"
      run_step step_torch_tf32 180 env PYTHONUNBUFFERED=1 python3 bench/torch_dispa.py time --device cuda --tf32 --json "$out/step.jsonl"
      run_step step_torch_vanilla 180 env PYTHONUNBUFFERED=1 python3 bench/torch_dispa.py time --device cuda --attention vanilla --json "$out/step.jsonl"
      python3 bench/compare_step.py "$out/step.jsonl" | tee "$out/step_table.txt"
      ;;
    profile)
      # Per-kernel device time of one training step and one eval forward (Nsight Compute, duration
      # metric only, clocks left alone); summarise with bench/ncu_summary.py.
      run_step ncu_step 240 ncu --clock-control none --metrics gpu__time_duration.sum --csv \
        --log-file "$out/ncu_step.csv" "$bin/dispa" bench-step --device cuda --steps 1 --warmup 0
      python3 bench/ncu_summary.py "$out/ncu_step.csv" > "$out/ncu_summary.txt"
      head -40 "$out/ncu_summary.txt"
      ;;
    step_compile)
      run_step step_torch_compile 300 env PYTHONUNBUFFERED=1 python3 bench/torch_dispa.py time --device cuda --compile --json "$out/step.jsonl"
      ;;
    train)
      run_step train_gdsc2_cuda "${TRAIN_LIMIT:-540}" "$bin/dispa" train --data "$DISPA_SHARED/data/gdsc2" \
        --gmt "$DISPA_SHARED/data/gdsc2/pathways_kegg.gmt" --split random --folds 5 ${TRAIN_FOLD:+--fold $TRAIN_FOLD} \
        --device cuda --epochs "${TRAIN_EPOCHS:-60}" --no-ridge --out /tmp/gdsc2-paper
      # Only the small files come back (the checkpoints would overflow the returned archive).
      (cd /tmp/gdsc2-paper && find . -name metrics.json -o -name train.log -o -name learning_curve.svg |
        tar -cf - -T - | tar -C "$out" --transform 's|^\./|gdsc2-paper/|' -xf -)
      ;;
    *) echo "unknown step $step"; exit 2 ;;
  esac
done
echo "=== summary (logs in $out)"
printf '%s\n' "${summary[@]}" | tee "$out/summary.txt"
tar -C "$out" -czf "$result_dir/gpu-logs.tgz" .
cp "$out/summary.txt" "$result_dir/"
