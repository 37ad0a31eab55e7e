// CPU kernels of DiSPA's cell encoder at the eval forward's shapes (bench-step, batch 512: about
// C = 340 distinct cells, P = 112 pathways, h = 512, E = 192):
//   layer_norm/ffn      the gene FFN's LayerNorm over rows [C*P, h]
//   layer_norm/slab     the slab LayerNorm over each cell's [P, E] (rows [C, P*E])
//   rms_norm/heads      differential attention's RMSNorm over [C*P*H, 2*hd] (short rows)
//   copy/ffn            a copy of the [C*P, h] tensor: the memory-bandwidth floor of a forward norm
// each forward only (eval) and forward + backward (training, with weight and bias gradients), and
//   gathered_linear/{dense,dispa}/{gdsc2,uniform}/{fwd,fwdbwd}
// the gene FFN's first layer on expression [C, G = 706] through a pathway index [P, S = 114] into
// h outputs: dense = linear(gather_columns(x, index)) (what the model ran before), dispa =
// gathered_linear (skips padded slots). Index "gdsc2": one 114-gene pathway, the others 5 to 26
// genes (1,834 valid slots of 12,768, like GDSC2's KEGG sets: 1,897); "uniform": sizes uniform in
// 5..114 as in dispa bench-step's synthetic data (about half the slots valid). fwdbwd computes
// the weight and bias gradients (x is constant, as the expression is in training).
// Compare binaries of two commits with the same filter; time is main-thread CPU time, so run with
// OMP_NUM_THREADS=1 for a per-core figure. Run: build/bench/gene_ffn_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/gather.h"
#include "engine/ops/gathered_linear.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {

constexpr int64_t kC = 340, kG = 706, kP = 112, kS = 114, kH = 512, kE = 192, kHeads = 4;

Tensor uniform(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return Tensor::uniform(shape, lo, hi, seed, 0, DType::f32);
}

void set_bytes(benchmark::State& st, int64_t elements, int passes) {
  st.SetBytesProcessed(st.iterations() * elements * int64_t(sizeof(float)) * passes);
}

// ---- row norms ------------------------------------------------------------------------------------

struct NormCase {
  Tensor x, w, b, dy;
  int k = 1;  // normalized_ndim
};

NormCase norm_case(const Shape& shape, int k) {
  NormCase c;
  Shape norm_shape(shape.end() - k, shape.end());
  c.x = uniform(shape, 1, -2, 3);
  c.w = uniform(norm_shape, 2, 0.5, 1.5);
  c.b = uniform(norm_shape, 3);
  c.dy = uniform(shape, 4);
  c.k = k;
  return c;
}

void layer_norm_fwd(benchmark::State& st, const NormCase& c) {
  NoGrad no_grad;
  for (auto _ : st) benchmark::DoNotOptimize(layer_norm(c.x, c.k, c.w, c.b));
  set_bytes(st, c.x.numel(), 2);
}

void layer_norm_fwdbwd(benchmark::State& st, NormCase c) {
  c.x.set_requires_grad();
  c.w.set_requires_grad();
  c.b.set_requires_grad();
  for (auto _ : st) {
    test::backward_with(layer_norm(c.x, c.k, c.w, c.b), c.dy);
    c.x.zero_grad();
    c.w.zero_grad();
    c.b.zero_grad();
  }
  set_bytes(st, c.x.numel(), 5);
}

// The bandwidth yardstick: a copy of the same tensor (read once, write once) is the least a
// forward norm can cost.
void copy_ffn(benchmark::State& st) {
  const Tensor x = uniform({kC * kP, kH}, 1);
  for (auto _ : st) benchmark::DoNotOptimize(x.clone());
  set_bytes(st, x.numel(), 2);
}

void layer_norm_ffn_fwd(benchmark::State& st) { layer_norm_fwd(st, norm_case({kC * kP, kH}, 1)); }
void layer_norm_ffn_fwdbwd(benchmark::State& st) { layer_norm_fwdbwd(st, norm_case({kC * kP, kH}, 1)); }
void layer_norm_slab_fwd(benchmark::State& st) { layer_norm_fwd(st, norm_case({kC, kP, kE}, 2)); }
void layer_norm_slab_fwdbwd(benchmark::State& st) { layer_norm_fwdbwd(st, norm_case({kC, kP, kE}, 2)); }

void rms_norm_heads_fwd(benchmark::State& st) {
  const int64_t d = kE / kHeads;  // 2 * head dim
  Tensor x = uniform({kC * kP * kHeads, d}, 5), w = uniform({d}, 6, 0.5, 1.5);
  NoGrad no_grad;
  for (auto _ : st) benchmark::DoNotOptimize(rms_norm(x, w));
  set_bytes(st, x.numel(), 2);
}

// ---- gathered linear ------------------------------------------------------------------------------

// Pathway p's genes fill its first n_p slots (distinct genes, as bench-step's synthetic data).
Tensor pathway_index(bool gdsc2) {
  std::mt19937_64 rng(0);
  std::vector<int32_t> index(size_t(kP * kS), -1), genes(static_cast<size_t>(kG));
  for (int64_t p = 0; p < kP; ++p) {
    const int64_t n = gdsc2 ? (p == 0 ? kS : 5 + (p * 7) % 22) : std::uniform_int_distribution<int64_t>(5, kS)(rng);
    for (int64_t g = 0; g < kG; ++g) genes[size_t(g)] = int32_t(g);
    std::shuffle(genes.begin(), genes.end(), rng);
    for (int64_t s = 0; s < n; ++s) index[size_t(p * kS + s)] = genes[size_t(s)];
  }
  return Tensor::from_vector(index, {kP, kS});
}

struct LinearCase {
  Tensor x = uniform({kC, kG}, 7, -2, 2);
  Tensor index, w = uniform({kH, kS}, 8, -0.1, 0.1), b = uniform({kH}, 9, -0.1, 0.1);
  Tensor dy = uniform({kC, kP, kH}, 10);
  int64_t valid = 0;
};

LinearCase make_linear_case(bool gdsc2) {
  LinearCase c;
  c.index = pathway_index(gdsc2);
  for (int32_t v : c.index.to_vector<int32_t>()) c.valid += v >= 0;
  // A benchmark of wrong code is worthless: the two must agree before either is timed.
  const std::vector<float> a = linear(gather_columns(c.x, c.index), c.w, c.b).to_vector<float>();
  const std::vector<float> g = gathered_linear(c.x, c.index, c.w, c.b).to_vector<float>();
  for (size_t i = 0; i < a.size(); ++i)
    if (!(std::abs(a[i] - g[i]) <= 1e-4f + 1e-4f * std::abs(a[i])))
      throw std::runtime_error("gathered_linear differs from linear(gather_columns) at " + std::to_string(i));
  return c;
}

const LinearCase& linear_case(bool gdsc2) {
  static const LinearCase sparse = make_linear_case(true), uniform_sizes = make_linear_case(false);
  return gdsc2 ? sparse : uniform_sizes;
}

Tensor run_linear(bool dispa, const LinearCase& c, const Tensor& w, const Tensor& b) {
  return dispa ? gathered_linear(c.x, c.index, w, b) : linear(gather_columns(c.x, c.index), w, b);
}

void gathered_fwd(benchmark::State& st, bool dispa, bool gdsc2) {
  const LinearCase& c = linear_case(gdsc2);
  NoGrad no_grad;
  for (auto _ : st) benchmark::DoNotOptimize(run_linear(dispa, c, c.w, c.b));
  st.counters["valid_slots"] = double(c.valid);
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(kC * c.valid * kH),
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void gathered_fwdbwd(benchmark::State& st, bool dispa, bool gdsc2) {
  const LinearCase& c = linear_case(gdsc2);
  Tensor w = c.w.clone().set_requires_grad(), b = c.b.clone().set_requires_grad();
  for (auto _ : st) {
    test::backward_with(run_linear(dispa, c, w, b), c.dy);
    w.zero_grad();
    b.zero_grad();
  }
  st.counters["valid_slots"] = double(c.valid);
}

}  // namespace

BENCHMARK_CAPTURE(gathered_fwd, dense_gdsc2, false, true)->Name("gathered_linear/dense/gdsc2/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gathered_fwd, dispa_gdsc2, true, true)->Name("gathered_linear/dispa/gdsc2/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gathered_fwd, dense_uniform, false, false)->Name("gathered_linear/dense/uniform/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gathered_fwd, dispa_uniform, true, false)->Name("gathered_linear/dispa/uniform/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gathered_fwdbwd, dense_gdsc2, false, true)->Name("gathered_linear/dense/gdsc2/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gathered_fwdbwd, dispa_gdsc2, true, true)->Name("gathered_linear/dispa/gdsc2/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gathered_fwdbwd, dense_uniform, false, false)->Name("gathered_linear/dense/uniform/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(gathered_fwdbwd, dispa_uniform, true, false)->Name("gathered_linear/dispa/uniform/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK(copy_ffn)->Name("copy/ffn")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_ffn_fwd)->Name("layer_norm/ffn/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_ffn_fwdbwd)->Name("layer_norm/ffn/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_slab_fwd)->Name("layer_norm/slab/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_slab_fwdbwd)->Name("layer_norm/slab/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK(rms_norm_heads_fwd)->Name("rms_norm/heads/fwd")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
