// CPU kernels of DiSPA's cell encoder at the eval forward's shapes (bench-step, batch 512: about
// C = 340 distinct cells, P = 112 pathways, h = 512, E = 192):
//   layer_norm/ffn      the gene FFN's LayerNorm over rows [C*P, h]
//   layer_norm/slab     the slab LayerNorm over each cell's [P, E] (rows [C, P*E])
//   rms_norm/heads      differential attention's RMSNorm over [C*P*H, 2*hd] (short rows)
//   copy/ffn            a copy of the [C*P, h] tensor: the memory-bandwidth floor of a forward norm
// each forward only (eval) and forward + backward (training, with weight and bias gradients).
// Compare binaries of two commits with the same filter; time is main-thread CPU time, so run with
// OMP_NUM_THREADS=1 for a per-core figure. Run: build/bench/gene_ffn_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <functional>

#include "engine/autograd.h"
#include "engine/ops/norm.h"
#include "tests/support/gradcheck.h"

using namespace dispa;

namespace {

constexpr int64_t kC = 340, kP = 112, kH = 512, kE = 192, kHeads = 4;

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

}  // namespace

BENCHMARK(copy_ffn)->Name("copy/ffn")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_ffn_fwd)->Name("layer_norm/ffn/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_ffn_fwdbwd)->Name("layer_norm/ffn/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_slab_fwd)->Name("layer_norm/slab/fwd")->Unit(benchmark::kMillisecond);
BENCHMARK(layer_norm_slab_fwdbwd)->Name("layer_norm/slab/fwdbwd")->Unit(benchmark::kMillisecond);
BENCHMARK(rms_norm_heads_fwd)->Name("rms_norm/heads/fwd")->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
