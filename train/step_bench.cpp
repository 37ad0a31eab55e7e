#include "train/step_bench.h"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "engine/autograd.h"
#include "engine/cuda/runtime.h"
#include "engine/log.h"
#include "engine/ops/loss.h"
#include "engine/ops/matmul.h"
#include "engine/optim/optimizer.h"
#include "engine/storage.h"
#include "train/dataset.h"
#include "train/predict_screen.h"

namespace dispa::train {
namespace {

// The statistics of bench/torch_dispa.py's synthetic(), which follow GDSC2's: pathway 0 has S
// genes and the others 5 + ⌊Exp(mean 11.5)⌋ (at most S), distinct genes (GDSC2: 112 KEGG sets of
// 5..114 genes, 1,897 in all, median 17); 1..10 valid fragments per drug, uniform (GDSC2: 1..12,
// mean 5.5 of L = 17) of 5% density; standard-normal expression, 10% dense 0/1 drug fingerprints,
// standard-normal targets for every (cell, drug) pair.
FeaturizedDataset synthetic_dataset(const StepBenchOptions& o) {
  std::mt19937_64 rng(0);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> unit(0.f, 1.f);
  FeaturizedDataset d;
  const int64_t G = o.genes, P = o.pathways, S = o.max_genes_per_pathway, L = o.max_substructures;
  std::vector<int32_t> index(size_t(P * S), -1);
  std::vector<int32_t> genes(static_cast<size_t>(G));
  for (int64_t p = 0; p < P; ++p) {
    const int64_t n =
        p == 0 ? S
               : std::min<int64_t>(S, std::min<int64_t>(5, S) + int64_t(std::exponential_distribution<double>(1 / 11.5)(rng)));
    for (int64_t g = 0; g < G; ++g) genes[size_t(g)] = int32_t(g);
    std::shuffle(genes.begin(), genes.end(), rng);
    for (int64_t s = 0; s < std::min(n, G); ++s) index[size_t(p * S + s)] = genes[size_t(s)];
  }
  std::vector<float> expression(size_t(o.cells * G)), drug(size_t(o.drugs * o.drug_dim));
  std::vector<float> fragments(size_t(o.drugs * L * o.drug_dim), 0.f), mask(size_t(o.drugs * L), 0.f);
  for (float& v : expression) v = normal(rng);
  for (float& v : drug) v = unit(rng) < 0.1f ? 1.f : 0.f;
  for (int64_t k = 0; k < o.drugs; ++k) {
    const int64_t valid = std::uniform_int_distribution<int64_t>(1, std::min<int64_t>(10, L))(rng);
    for (int64_t l = 0; l < valid; ++l) {
      mask[size_t(k * L + l)] = 1.f;
      for (int64_t j = 0; j < o.drug_dim; ++j)
        fragments[size_t((k * L + l) * o.drug_dim + j)] = unit(rng) < 0.05f ? 1.f : 0.f;
    }
  }
  d.cell_expression = Tensor::from_vector(expression, {o.cells, G});
  d.pathway_gene_indices = Tensor::from_vector(index, {P, S});
  d.drug_global = Tensor::from_vector(drug, {o.drugs, o.drug_dim});
  d.drug_fragment_features = Tensor::from_vector(fragments, {o.drugs, L, o.drug_dim});
  d.drug_fragment_mask = Tensor::from_vector(mask, {o.drugs, L});
  for (int64_t c = 0; c < o.cells; ++c) d.cell_ids.push_back("cell" + std::to_string(c));
  for (int64_t k = 0; k < o.drugs; ++k) d.drug_names.push_back("drug" + std::to_string(k));
  for (int32_t c = 0; c < int32_t(o.cells); ++c)
    for (int32_t k = 0; k < int32_t(o.drugs); ++k) d.pairs.push_back({c, k, normal(rng)});
  d.to(o.device);
  return d;
}

// CPU time of all threads of the process: on a machine shared with other jobs it moves less than
// wall time, so it is the number to compare code changes with (wall time is what users see).
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) * 1e3 + double(t.tv_nsec) / 1e6;
}

void wait_for_device(Device device) {
  if (device.is_cuda()) cuda::synchronize();
}

// `warmup` untimed then `runs` timed calls of step(); samples_per_s counts `items` per call.
template <typename Fn>
StepBenchResult time_runs(const std::string& mode, const StepBenchOptions& o, int warmup, int runs, double items,
                          Fn&& step) {
  for (int i = 0; i < warmup; ++i) step();
  wait_for_device(o.device);
  const size_t mallocs_before = o.device.is_cuda() ? cuda::allocator_stats().device_mallocs : 0;
  const size_t host_allocations_before = host_cache_system_allocations();
  std::vector<double> ms, cpu_ms;
  for (int i = 0; i < runs; ++i) {
    wait_for_device(o.device);
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = process_cpu_ms();
    step();
    wait_for_device(o.device);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    cpu_ms.push_back(process_cpu_ms() - cpu_start);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu_ms.begin(), cpu_ms.end());
  auto quantile = [&](double q) { return ms[size_t(std::min<double>(double(ms.size() - 1), q * double(ms.size() - 1) + 0.5))]; };
  StepBenchResult r;
  r.mode = mode;
  r.median_ms = quantile(0.5);
  r.p10_ms = quantile(0.1);
  r.p90_ms = quantile(0.9);
  r.median_cpu_ms = cpu_ms[cpu_ms.size() / 2];
  r.samples_per_s = items / (r.median_ms / 1e3);
  r.host_allocations_during_timing = host_cache_system_allocations() - host_allocations_before;
  if (o.device.is_cuda()) {
    const cuda::AllocatorStats stats = cuda::allocator_stats();
    r.device_mallocs_during_timing = stats.device_mallocs - mallocs_before;
    r.peak_device_bytes = stats.peak_bytes;
  }
  return r;
}

template <typename Fn>
StepBenchResult time_steps(const std::string& mode, const StepBenchOptions& o, Fn&& step) {
  return time_runs(mode, o, o.warmup, o.steps, double(o.batch), step);
}

}  // namespace

std::vector<StepBenchResult> run_step_bench(const StepBenchOptions& o) {
  DISPA_CHECK(o.batch >= 2 && o.steps >= 1 && o.warmup >= 0,
              "bench-step: need batch >= 2 (BatchNorm), steps >= 1, warmup >= 0; got {}, {}, {}", o.batch, o.steps,
              o.warmup);
  const bool previous_tf32 = cuda_tf32();
  set_cuda_tf32(o.tf32);
  logging::info("bench-step: building synthetic GDSC2-sized data ({} cells x {} genes, {} drugs, P = {}, S = {}) on {}",
                o.cells, o.genes, o.drugs, o.pathways, o.max_genes_per_pathway, o.device.str());
  const FeaturizedDataset data = synthetic_dataset(o);
  DispaConfig config;  // the paper's configuration
  config.attention = o.attention;
  data.fill_config(config);
  Dispa model(config, 0);
  model.to(o.device);
  model.set_fused_attention(o.fused_attention);
  Adam optimizer(model.named_parameters(), 1e-4, 0.9, 0.999, 1e-8, 1e-4);
  std::mt19937_64 rng(1234);
  std::uniform_int_distribution<int64_t> pick(0, int64_t(data.pairs.size()) - 1);
  auto draw = [&] {
    std::vector<int64_t> idx(static_cast<size_t>(o.batch));
    for (int64_t& i : idx) i = pick(rng);
    return idx;
  };

  std::vector<StepBenchResult> results;
  model.train();
  if (o.time_train) results.push_back(time_steps("train_step", o, [&] {
    const Batch batch = make_batch(data, draw(), o.dedup);
    const Tensor loss =
        mse_loss(model.forward_tokens(model.encode(batch.inputs), ForwardOutputs::prediction).prediction, batch.target);
    loss.backward();
    optimizer.step();
    optimizer.zero_grad();
  }));
  model.eval();
  const Batch eval_batch = make_batch(data, draw(), o.dedup);  // gathered once, outside the timed region (as the PyTorch script)
  if (o.time_eval) results.push_back(time_steps("eval_forward", o, [&] {
    NoGrad no_grad;
    model.predict(eval_batch.inputs);
  }));
  if (o.screen || o.screen_baseline) {
    DISPA_CHECK(o.screen_reps >= 1 && o.screen_batch >= 1, "bench-step: need screen reps >= 1 and batch >= 1, got {}, {}",
                o.screen_reps, o.screen_batch);
    const double pairs = double(o.cells) * double(o.drugs);
    logging::info("bench-step: screening {} cells x {} drugs = {} pairs, {} time(s) per path", o.cells, o.drugs, pairs,
                  o.screen_reps);
    if (o.screen)
      results.push_back(time_runs("screen", o, 0, o.screen_reps, pairs, [&] {
        double sum = 0;  // consumes the predictions as dispa predict does (one pass over each batch)
        screen_all_pairs({&model}, data, o.screen_batch, [&](const ScreenBatch& b) {
          for (float v : b.per_model[0]) sum += v;
        });
        if (!std::isfinite(sum)) logging::warn("bench-step: the screen's predictions are not finite");
      }));
    if (o.screen_baseline) {
      std::vector<int64_t> all(data.pairs.size());  // cell-major: synthetic_dataset lists pairs so
      for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
      results.push_back(time_runs("screen_batched", o, 0, o.screen_reps, pairs, [&] {
        NoGrad no_grad;
        for (size_t start = 0; start < all.size(); start += size_t(o.screen_batch)) {
          const std::vector<int64_t> idx(all.begin() + int64_t(start),
                                         all.begin() + int64_t(std::min(all.size(), start + size_t(o.screen_batch))));
          model.predict(make_batch(data, idx).inputs);
        }
      }));
    }
  }
  set_cuda_tf32(previous_tf32);
  return results;
}

}  // namespace dispa::train
