// The model's pathway gather: expression [B, G] = [512, 706] gathered through the pathway index
// [P, S] = [94, 218] (padding -1) into [B, P, S], forward and forward+backward.
// Pairs share a name and differ in the implementation segment:
//   gather_columns_fwd/naive/cpu    single-threaded loop, bounds check per element (the reference)
//   gather_columns_fwd/dispa/cpu    dispa::gather_columns (validate once, OpenMP over B)
//   gather_columns_fwdbwd/...       the same plus the scatter-add backward
//   gather_columns_fwd/dispa/cuda   the CUDA op (includes the device index check and its sync)
//   gather_columns_fwd/copy/cuda    a device copy of the output's bytes: the bandwidth yardstick
// Every dispa benchmark first checks its result against the naive one (a benchmark of wrong code
// is worthless). The dispa CPU numbers include allocating the 23 MB output on every call (the
// naive loop reuses one buffer): with glibc's defaults that is a fresh mmap and thousands of page
// faults per call, which can cost more than the gather itself. To see the op alone, run with
// MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=4294967295 (a CPU caching allocator
// would remove the difference for every op). Run: build/bench/gather_bench [--benchmark_filter=cpu]; quote results with the
// device, commit and command in bench/RESULTS.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/gather.h"

#if DISPA_WITH_CUDA
#include "bench/cuda_timing.h"
#endif

using namespace dispa;

namespace {

constexpr int64_t kB = 512, kG = 706, kP = 94, kS = 218;

// Pathway p holds 5 + (37 p mod 214) genes (so rows range from 5 to 218, about half full, as the
// KEGG sets restricted to 706 genes are) and genes repeat across pathways; the rest is -1.
Tensor pathway_index() {
  std::vector<int32_t> v(size_t(kP * kS), -1);
  for (int64_t p = 0; p < kP; ++p) {
    const int64_t len = 5 + (37 * p) % 214;
    for (int64_t s = 0; s < len; ++s) v[size_t(p * kS + s)] = int32_t((p * 131 + s * 17) % kG);
  }
  return Tensor::from_vector(v, {kP, kS});
}

struct GatherCase {
  Tensor x = Tensor::uniform({kB, kG}, -2, 2, 1);
  Tensor index = pathway_index();
  Tensor upstream = Tensor::uniform({kB, kP, kS}, -1, 1, 2);
};

const GatherCase& gather_case() {
  static const GatherCase c;
  return c;
}

// The reference: what one would write first.
void naive_forward(const float* x, const int32_t* index, float* out) {
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t i = 0; i < kP * kS; ++i) {
      const int64_t g = index[i];
      out[b * kP * kS + i] = (g >= 0 && g < kG) ? x[b * kG + g] : 0.0f;
    }
}

void naive_backward(const float* dy, const int32_t* index, float* dx) {
  std::fill(dx, dx + kB * kG, 0.0f);
  for (int64_t b = 0; b < kB; ++b)
    for (int64_t i = 0; i < kP * kS; ++i) {
      const int64_t g = index[i];
      if (g >= 0 && g < kG) dx[b * kG + g] += dy[b * kP * kS + i];
    }
}

void require_equal(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  if (got != want) throw std::runtime_error(std::string(what) + ": dispa result differs from the naive reference");
}

void set_bytes(benchmark::State& st, bool backward) {
  // Forward reads the index and writes [B, P, S] (x stays in cache); backward reads dy and
  // read-modify-writes dx. A lower bound on traffic, so GB/s is comparable across devices.
  const int64_t out_bytes = kB * kP * kS * 4, index_bytes = kP * kS * 4;
  st.SetBytesProcessed(st.iterations() * (out_bytes + index_bytes + (backward ? out_bytes : 0)));
}

void gather_columns_fwd_naive_cpu(benchmark::State& st) {
  const GatherCase& c = gather_case();
  std::vector<float> out(size_t(kB * kP * kS));
  for (auto _ : st) {
    naive_forward(c.x.data<float>(), c.index.data<int32_t>(), out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  set_bytes(st, false);
}

void gather_columns_fwd_dispa_cpu(benchmark::State& st) {
  const GatherCase& c = gather_case();
  std::vector<float> want(size_t(kB * kP * kS));
  naive_forward(c.x.data<float>(), c.index.data<int32_t>(), want.data());
  require_equal(gather_columns(c.x, c.index).to_vector<float>(), want, "gather_columns forward");
  NoGrad no_grad;
  for (auto _ : st) benchmark::DoNotOptimize(gather_columns(c.x, c.index));
  set_bytes(st, false);
}

void gather_columns_fwdbwd_naive_cpu(benchmark::State& st) {
  const GatherCase& c = gather_case();
  std::vector<float> out(size_t(kB * kP * kS)), dx(size_t(kB * kG));
  for (auto _ : st) {
    naive_forward(c.x.data<float>(), c.index.data<int32_t>(), out.data());
    naive_backward(c.upstream.data<float>(), c.index.data<int32_t>(), dx.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  set_bytes(st, true);
}

// Forward, then backward seeded with the upstream gradient through a hand-recorded op.
// x, index and up live on one device.
void dispa_fwdbwd(Tensor& x, const Tensor& index, const Tensor& up) {
  x.zero_grad();
  Tensor y = gather_columns(x, index);
  Tensor loss = Tensor::scalar(0.0, DType::f32, x.device());
  record("bench_upstream", {y}, loss, [y, up](const Tensor&) { y.accumulate_grad(up); });
  loss.backward();
}

void gather_columns_fwdbwd_dispa_cpu(benchmark::State& st) {
  const GatherCase& c = gather_case();
  Tensor x = c.x.clone();
  x.set_requires_grad();
  std::vector<float> want(size_t(kB * kG));
  naive_backward(c.upstream.data<float>(), c.index.data<int32_t>(), want.data());
  dispa_fwdbwd(x, c.index, c.upstream);
  require_equal(x.grad().to_vector<float>(), want, "gather_columns backward");
  for (auto _ : st) {
    dispa_fwdbwd(x, c.index, c.upstream);
    benchmark::DoNotOptimize(x.grad());
  }
  set_bytes(st, true);
}

#if DISPA_WITH_CUDA
void gather_columns_fwd_dispa_cuda(benchmark::State& st) {
  if (!cuda_available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  const GatherCase& c = gather_case();
  const Tensor x = c.x.to(Device::cuda()), index = c.index.to(Device::cuda());
  std::vector<float> want(size_t(kB * kP * kS));
  naive_forward(c.x.data<float>(), c.index.data<int32_t>(), want.data());
  require_equal(gather_columns(x, index).to_vector<float>(), want, "gather_columns forward (cuda)");
  NoGrad no_grad;
  bench::time_cuda_iterations(st, [&] { benchmark::DoNotOptimize(gather_columns(x, index)); });
  set_bytes(st, false);
}

void gather_columns_fwd_copy_cuda(benchmark::State& st) {
  if (!cuda_available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  const Tensor out = Tensor::zeros({kB, kP, kS}, DType::f32, Device::cuda());
  bench::time_cuda_iterations(st, [&] { benchmark::DoNotOptimize(out.clone()); });
  set_bytes(st, false);
}

void gather_columns_fwdbwd_dispa_cuda(benchmark::State& st) {
  if (!cuda_available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  const GatherCase& c = gather_case();
  Tensor x = c.x.to(Device::cuda());
  x.set_requires_grad();
  const Tensor index = c.index.to(Device::cuda()), up = c.upstream.to(Device::cuda());
  bench::time_cuda_iterations(st, [&] { dispa_fwdbwd(x, index, up); });
  set_bytes(st, true);
}
#endif

}  // namespace

BENCHMARK(gather_columns_fwd_naive_cpu)->Name("gather_columns_fwd/naive/cpu")->Unit(benchmark::kMicrosecond);
BENCHMARK(gather_columns_fwd_dispa_cpu)->Name("gather_columns_fwd/dispa/cpu")->Unit(benchmark::kMicrosecond);
BENCHMARK(gather_columns_fwdbwd_naive_cpu)->Name("gather_columns_fwdbwd/naive/cpu")->Unit(benchmark::kMicrosecond);
BENCHMARK(gather_columns_fwdbwd_dispa_cpu)->Name("gather_columns_fwdbwd/dispa/cpu")->Unit(benchmark::kMicrosecond);
#if DISPA_WITH_CUDA
BENCHMARK(gather_columns_fwd_copy_cuda)->Name("gather_columns_fwd/copy/cuda")->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(gather_columns_fwd_dispa_cuda)->Name("gather_columns_fwd/dispa/cuda")->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(gather_columns_fwdbwd_dispa_cuda)->Name("gather_columns_fwdbwd/dispa/cuda")->UseManualTime()->Unit(benchmark::kMicrosecond);
#endif

BENCHMARK_MAIN();
