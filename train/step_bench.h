// `dispa bench-step`: times one DiSPA training step (batch gather + forward with dropout + MSE +
// backward + Adam) and one eval forward at the paper's configuration on GDSC2-sized synthetic
// data, in the same way as bench/torch_dispa.py times the PyTorch reference (same shapes, same
// data statistics, one synchronised step per sample, median and p10/p90), so the two JSON lines can
// be compared as a ratio measured on the same machine (bench/compare_torch.sh).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dtype.h"

namespace dispa::train {

struct StepBenchOptions {
  Device device = Device::cpu();
  int64_t batch = 512;
  int steps = 50, warmup = 10;
  std::string attention = "differential";
  bool dedup = true;   // de-duplicated batches (what dispa train does); false = one row per pair
  bool tf32 = false;   // TF32 tensor-core GEMMs on CUDA
  bool fused_attention = true;
  bool time_train = true, time_eval = true;  // which of the two step measurements to take (profiling one)
  // Screening: also time predictions for every cell x drug pair (cells x drugs, in batches of
  // screen_batch) with screen_all_pairs (train/predict_screen.h, what dispa predict runs), over
  // screen_reps repetitions; screen_baseline adds the per-batch path (make_batch + forward, one
  // batch of screen_batch pairs at a time, each batch encoding its own cells and drugs).
  bool screen = false, screen_baseline = false;
  int screen_reps = 3;
  int64_t screen_batch = 1024;
  // GDSC2 shapes: 580 cells x 706 genes, 112 KEGG pathways (S = 114), 170 drugs, Dd = 1043, L = 17.
  int64_t cells = 580, genes = 706, pathways = 112, max_genes_per_pathway = 114;
  int64_t drugs = 170, drug_dim = 1043, max_substructures = 17;
};

struct StepBenchResult {
  std::string mode;  // "train_step", "eval_forward", "screen" or "screen_batched"
  double median_ms = 0, p10_ms = 0, p90_ms = 0, samples_per_s = 0;  // screen: per screen; pairs/s
  double median_cpu_ms = 0;  // process CPU time (all threads) per step: robust to other jobs' load
  size_t host_allocations_during_timing = 0;  // large host buffers the cache could not serve (want 0)
  size_t device_mallocs_during_timing = 0;  // CUDA: cudaMalloc calls in the timed steps (want 0)
  size_t peak_device_bytes = 0;
};

// Runs both measurements; each result is also printed by the command as one JSON line.
std::vector<StepBenchResult> run_step_bench(const StepBenchOptions& options);

}  // namespace dispa::train
