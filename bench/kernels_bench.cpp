// Per-kernel GPU throughput at DiSPA's paper shapes (B = 512 pairs, P = 112 pathways, S = 114,
// E = 192, h = 512, 4 heads, L = 17): effective bandwidth for the memory-bound kernels and FLOP/s
// for the cuBLAS GEMMs, each beside the device's peak (read from the device: memory clock x bus
// width for bandwidth, SMs x 128 FP32 lanes x 2 x clock for FP32 FLOP/s).
//
// Bytes are the fewest any implementation must move (each input read once, each output written
// once), so bytes/time is an effective bandwidth and a fraction of peak says how close the kernel
// is to the floor. Times are CUDA-event times of the steady state (allocator warm, L2 not flushed;
// most operands here are far larger than the 50 MB L2). Ops run through the public engine API, so
// a time includes the allocator's cached block handout (no cudaMalloc after the first iteration).
// "fwd+bwd" rows run the op with autograd and backpropagate a given output gradient; their time
// also holds one copy of that gradient (accumulate_grad clones it), which the byte count does not.
// Softmax, gather and differential attention have their own benchmarks beside this file, with
// fused-vs-unfused ratios. Run: build/bench/kernels_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/fill.h"
#include "engine/ops/loss.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"
#include "engine/ops/reduce.h"
#include "engine/ops/shape.h"
#include "engine/optim/optimizer.h"
#include "model/dispa.h"
#include "tests/support/gradcheck.h"

#if DISPA_WITH_CUDA
#include <cuda_runtime.h>

#include "bench/cuda_timing.h"
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#endif

using namespace dispa;

namespace {

constexpr int64_t kB = 512, kP = 112, kS = 114, kE = 192, kH = 512, kHeads = 4, kL = 17;
constexpr int64_t kTokens = kB * kP;  // pathway tokens per batch: rows of the gene FFN

#if DISPA_WITH_CUDA
const Device kGpu = Device::cuda(0);

struct Peaks {
  double bandwidth_gbs = 0, fp32_tflops = 0;
  std::string name;
};

const Peaks& peaks() {
  static const Peaks p = [] {
    Peaks out;
    const cuda::DeviceInfo info = cuda::device_info(0);
    int clock_khz = 0;
    DISPA_CUDA_CHECK(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, 0));
    out.bandwidth_gbs = info.peak_bandwidth_gbs;
    out.fp32_tflops = double(info.multiprocessors) * 128.0 * 2.0 * double(clock_khz) * 1e3 / 1e12;
    out.name = info.name;
    return out;
  }();
  return p;
}

// Times fn with CUDA events per iteration; sets bytes/s or FLOP/s counters and their peak fractions.
void run_timed(benchmark::State& state, const std::function<void()>& fn, double bytes, double flops = 0) {
  bench::time_cuda_iterations(state, fn);
  if (bytes > 0) {
    state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak_GB/s"] = peaks().bandwidth_gbs;
  }
  if (flops > 0) {
    state.counters["TFLOP/s"] = benchmark::Counter(flops / 1e12, benchmark::Counter::kIsIterationInvariantRate);
    state.counters["peak_fp32_TFLOP/s"] = peaks().fp32_tflops;
  }
  state.SetLabel(peaks().name);
}

Tensor gpu_uniform(const Shape& shape, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return Tensor::uniform(shape, lo, hi, seed, 0, DType::f32, kGpu);
}

constexpr double kF = sizeof(float);

// Runs op(x) with autograd and backpropagates dy into x (and the op's parameters).
void forward_backward(const std::function<Tensor(const Tensor&)>& op, Tensor& x, const Tensor& dy) {
  test::backward_with(op(x), dy);
  x.zero_grad();
}

// ---- elementwise ----------------------------------------------------------------------------
void BM_add_bias(benchmark::State& state) {  // linear's bias broadcast: [B*P, h] + [h]
  Tensor x = gpu_uniform({kTokens, kH}, 1), b = gpu_uniform({kH}, 2);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(add(x, b)); }, 2.0 * kF * double(kTokens * kH));
}
void BM_mul(benchmark::State& state) {  // same-shape product (substructure mask, gates)
  Tensor a = gpu_uniform({kTokens, kE}, 3), b = gpu_uniform({kTokens, kE}, 4);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(mul(a, b)); }, 3.0 * kF * double(kTokens * kE));
}
void BM_relu(benchmark::State& state) {
  Tensor x = gpu_uniform({kTokens, kH}, 5);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(relu(x)); }, 2.0 * kF * double(kTokens * kH));
}
void BM_relu_fwd_bwd(benchmark::State& state) {  // fwd: read x, write y; bwd: read x, dy, write dx
  Tensor x = gpu_uniform({kTokens, kH}, 6).set_requires_grad();
  Tensor dy = gpu_uniform({kTokens, kH}, 7);
  run_timed(state, [&] { forward_backward([](const Tensor& t) { return relu(t); }, x, dy); },
            5.0 * kF * double(kTokens * kH));
}
void BM_gelu(benchmark::State& state) {
  Tensor x = gpu_uniform({kTokens, kH}, 8);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(gelu(x)); }, 2.0 * kF * double(kTokens * kH));
}
void BM_affine_scalar(benchmark::State& state) {
  Tensor x = gpu_uniform({kTokens, kH}, 9);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(affine_scalar(x, 0.5, 1.0)); }, 2.0 * kF * double(kTokens * kH));
}
void BM_add_inplace(benchmark::State& state) {  // gradient accumulation: dst += src
  Tensor dst = gpu_uniform({kTokens, kH}, 10), src = gpu_uniform({kTokens, kH}, 11);
  run_timed(state, [&] { add_inplace(dst, src, 1e-3); }, 3.0 * kF * double(kTokens * kH));
}
void BM_sum_to_bias_grad(benchmark::State& state) {  // bias gradient: [B*P, h] -> [h]
  Tensor x = gpu_uniform({kTokens, kH}, 12);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(sum_to(x, {kH})); }, kF * double(kTokens * kH + kH));
}

// ---- fills and random streams -----------------------------------------------------------------
void BM_fill(benchmark::State& state) {
  Tensor x = gpu_uniform({kTokens, kH}, 13);
  run_timed(state, [&] { fill_(x, 0.25); }, kF * double(kTokens * kH));
}
void BM_fill_uniform(benchmark::State& state) {  // Philox4x32-10, four values per counter
  Tensor x = gpu_uniform({kTokens, kH}, 14);
  uint64_t offset = 0;
  run_timed(state, [&] { fill_uniform_(x, -1.0, 1.0, 15, offset += 1 << 20); }, kF * double(kTokens * kH));
}
void BM_dropout(benchmark::State& state) {  // training-mode dropout p = 0.5 (mask from Philox, not stored)
  Tensor x = gpu_uniform({kTokens, kH}, 16);
  NoGrad no_grad;
  uint64_t offset = 0;
  run_timed(state, [&] { benchmark::DoNotOptimize(dropout(x, 0.5, true, 17, offset += 1 << 20)); },
            2.0 * kF * double(kTokens * kH));
}

// ---- normalisation ------------------------------------------------------------------------------
void BM_layer_norm_ffn(benchmark::State& state) {  // gene FFN norm: rows [B*P, h]
  Tensor x = gpu_uniform({kTokens, kH}, 18), w = gpu_uniform({kH}, 19, 0.5, 1.5), b = gpu_uniform({kH}, 20);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(layer_norm(x, 1, w, b)); }, 2.0 * kF * double(kTokens * kH));
}
void BM_layer_norm_ffn_fwd_bwd(benchmark::State& state) {  // fwd 2n, bwd: read x, dy, write dx (+ dw, db)
  Tensor x = gpu_uniform({kTokens, kH}, 21).set_requires_grad();
  Tensor w = gpu_uniform({kH}, 22, 0.5, 1.5).set_requires_grad(), b = gpu_uniform({kH}, 23).set_requires_grad();
  Tensor dy = gpu_uniform({kTokens, kH}, 24);
  run_timed(state, [&] {
    forward_backward([&](const Tensor& t) { return layer_norm(t, 1, w, b); }, x, dy);
    w.zero_grad();
    b.zero_grad();
  }, 5.0 * kF * double(kTokens * kH));
}
void BM_layer_norm_slab(benchmark::State& state) {  // slab norm over each sample's [P, E]
  Tensor x = gpu_uniform({kB, kP, kE}, 25), w = gpu_uniform({kP, kE}, 26, 0.5, 1.5), b = gpu_uniform({kP, kE}, 27);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(layer_norm(x, 2, w, b)); }, 2.0 * kF * double(kTokens * kE));
}
void BM_rms_norm_heads(benchmark::State& state) {  // differential attention's subln: [B, H, P, 2*hd]
  const int64_t d = 2 * (kE / (2 * kHeads));
  Tensor x = gpu_uniform({kB, kHeads, kP, d}, 28), w = gpu_uniform({d}, 29, 0.5, 1.5);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(rms_norm(x, w)); }, 2.0 * kF * double(kB * kHeads * kP * d));
}
void BM_batch_norm_head(benchmark::State& state) {  // head block: [B, 256] training mode
  Tensor x = gpu_uniform({kB, 256}, 30), w = gpu_uniform({256}, 31, 0.5, 1.5), b = gpu_uniform({256}, 32);
  Tensor rm = Tensor::zeros({256}, DType::f32, kGpu), rv = Tensor::ones({256}, DType::f32, kGpu);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(batch_norm1d(x, w, b, rm, rv, true)); },
            2.0 * kF * double(kB * 256));
}

// ---- reductions and loss ---------------------------------------------------------------------------
void BM_mean_pathways(benchmark::State& state) {  // pooling: mean over P of [B, P, E]
  Tensor x = gpu_uniform({kB, kP, kE}, 33);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(mean(x, 1)); }, kF * double(kTokens * kE + kB * kE));
}
void BM_sum_all(benchmark::State& state) {
  Tensor x = gpu_uniform({kTokens, kH}, 34);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(sum_all(x)); }, kF * double(kTokens * kH));
}
void BM_mse(benchmark::State& state) {  // [B]: launch-bound by nature, shown for completeness
  Tensor p = gpu_uniform({kB}, 35), t = gpu_uniform({kB}, 36);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(mse_loss(p, t)); }, 2.0 * kF * double(kB));
}

// ---- shape ----------------------------------------------------------------------------------------
void BM_permute_heads(benchmark::State& state) {  // [B, P, H, d] -> [B, H, P, d]
  const int64_t d = kE / kHeads;
  Tensor x = gpu_uniform({kB, kP, kHeads, d}, 37);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(permute(x, {0, 2, 1, 3})); }, 2.0 * kF * double(kTokens * kE));
}
void BM_concat_pool(benchmark::State& state) {  // z = [mean_P(view1), view2, mean_L(subs)]: 3 x [B, E]
  Tensor a = gpu_uniform({kB, kE}, 38), b = gpu_uniform({kB, kE}, 39), c = gpu_uniform({kB, kE}, 40);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(concat({a, b, c}, 1)); }, 6.0 * kF * double(kB * kE));
}
void BM_slice_columns(benchmark::State& state) {  // a column block of [B*P, 3E] (e.g. one projection)
  Tensor x = gpu_uniform({kTokens, 3 * kE}, 41);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(slice(x, 1, kE, 2 * kE)); }, 2.0 * kF * double(kTokens * kE));
}

// ---- optimizer -------------------------------------------------------------------------------------
void BM_adam_paper_model(benchmark::State& state) {  // one fused Adam step over every DiSPA parameter
  DispaConfig c;
  c.genes = 706;
  c.pathways = kP;
  c.max_genes_per_pathway = kS;
  c.drug_dim = 1043;
  c.max_substructures = kL;
  Dispa model(c, 0);
  model.to(kGpu);
  double n = 0;
  for (auto& [name, p] : model.named_parameters()) {
    p.accumulate_grad(gpu_uniform(p.shape(), 42));
    n += double(p.numel());
  }
  Adam adam(model.named_parameters(), 1e-4, 0.9, 0.999, 1e-8, 1e-4);
  // read p, g, m, v; write p, m, v
  run_timed(state, [&] { adam.step(); }, 7.0 * kF * n);
  state.counters["params"] = n;
}

// ---- cuBLAS GEMMs at the model's shapes (fp32; TF32 variants with /tf32) --------------------------
void gemm_case(benchmark::State& state, int64_t m, int64_t k, int64_t n, bool tf32) {
  Tensor a = gpu_uniform({m, k}, 43), b = gpu_uniform({k, n}, 44);
  NoGrad no_grad;
  const bool previous = cuda_tf32();
  set_cuda_tf32(tf32);
  run_timed(state, [&] { benchmark::DoNotOptimize(matmul(a, b)); }, kF * double(m * k + k * n + m * n),
            2.0 * double(m) * double(k) * double(n));
  set_cuda_tf32(previous);
}
void BM_gemm_gene_fc1(benchmark::State& s) { gemm_case(s, kTokens, kS, kH, s.range(0)); }
void BM_gemm_gene_fc2(benchmark::State& s) { gemm_case(s, kTokens, kH, kE, s.range(0)); }
void BM_gemm_qkv_proj(benchmark::State& s) { gemm_case(s, kTokens, kE, kE, s.range(0)); }
void BM_gemm_sub_fc1(benchmark::State& s) { gemm_case(s, kB * kL, 1043, kH, s.range(0)); }
void BM_gemm_head(benchmark::State& s) { gemm_case(s, kB, 3 * kE, 256, s.range(0)); }

void BM_bmm_scores(benchmark::State& state) {  // Path2Sub scores: [B*H*2, P, hd] x [B*H*2, L, hd]^T
  const int64_t batch = kB * kHeads * 2, hd = kE / (2 * kHeads);
  Tensor q = gpu_uniform({batch, kP, hd}, 45), k = gpu_uniform({batch, kL, hd}, 46);
  NoGrad no_grad;
  run_timed(state, [&] { benchmark::DoNotOptimize(matmul(q, k, false, true)); },
            kF * double(batch * (kP * hd + kL * hd + kP * kL)), 2.0 * double(batch * kP * kL * hd));
}
#endif

}  // namespace

#if DISPA_WITH_CUDA
#define DISPA_GPU_BENCH(fn) BENCHMARK(fn)->Name(std::string(#fn).substr(3) + "/cuda")->UseManualTime()->Unit(benchmark::kMicrosecond)
DISPA_GPU_BENCH(BM_add_bias);
DISPA_GPU_BENCH(BM_mul);
DISPA_GPU_BENCH(BM_relu);
DISPA_GPU_BENCH(BM_relu_fwd_bwd);
DISPA_GPU_BENCH(BM_gelu);
DISPA_GPU_BENCH(BM_affine_scalar);
DISPA_GPU_BENCH(BM_add_inplace);
DISPA_GPU_BENCH(BM_sum_to_bias_grad);
DISPA_GPU_BENCH(BM_fill);
DISPA_GPU_BENCH(BM_fill_uniform);
DISPA_GPU_BENCH(BM_dropout);
DISPA_GPU_BENCH(BM_layer_norm_ffn);
DISPA_GPU_BENCH(BM_layer_norm_ffn_fwd_bwd);
DISPA_GPU_BENCH(BM_layer_norm_slab);
DISPA_GPU_BENCH(BM_rms_norm_heads);
DISPA_GPU_BENCH(BM_batch_norm_head);
DISPA_GPU_BENCH(BM_mean_pathways);
DISPA_GPU_BENCH(BM_sum_all);
DISPA_GPU_BENCH(BM_mse);
DISPA_GPU_BENCH(BM_permute_heads);
DISPA_GPU_BENCH(BM_concat_pool);
DISPA_GPU_BENCH(BM_slice_columns);
DISPA_GPU_BENCH(BM_adam_paper_model);
DISPA_GPU_BENCH(BM_gemm_gene_fc1)->ArgName("tf32")->Arg(0)->Arg(1);
DISPA_GPU_BENCH(BM_gemm_gene_fc2)->ArgName("tf32")->Arg(0)->Arg(1);
DISPA_GPU_BENCH(BM_gemm_qkv_proj)->ArgName("tf32")->Arg(0)->Arg(1);
DISPA_GPU_BENCH(BM_gemm_sub_fc1)->ArgName("tf32")->Arg(0)->Arg(1);
DISPA_GPU_BENCH(BM_gemm_head)->ArgName("tf32")->Arg(0)->Arg(1);
DISPA_GPU_BENCH(BM_bmm_scores);
#endif

int main(int argc, char** argv) {
  if (!cuda_available()) {  // every case needs the device; say so instead of failing in a fixture
    std::fprintf(stderr, "kernels_bench: no CUDA device%s; nothing to measure\n", DISPA_WITH_CUDA ? "" : " (CPU-only build)");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
