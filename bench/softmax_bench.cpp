// softmax / masked_softmax at the model's shapes: Path2Sub attention rows [B*H*P, L] = [512*4*94, 17]
// and Drug2Path rows [B*H, P] = [512*4, 94], key mask [B, 1, L] broadcast over heads and queries.
// Pairs share a name and differ in the implementation segment:
//   <op>/unfused/cpu  the textbook chain with every intermediate materialised (row max, x - max,
//                     exp, row sum, divide: five passes over memory), each pass OpenMP over rows;
//   <op>/dispa/cpu    the fused op (one pass per row, row in cache);
//   softmax/unfused/cuda  exp -> sum(keepdim) -> div as three dispa CUDA ops (it skips the max
//                     pass, so it flatters the baseline); <op>/dispa/cuda the warp-per-row kernel.
// Every contender is checked against the CPU reference before it is timed. GPU times are CUDA-event
// times of the steady state (allocator warm; L2 not cleared). The reporter prints dispa/unfused
// time ratios per pair. Run: build/bench/softmax_bench [--benchmark_filter=cpu]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"
#include "engine/ops/softmax.h"

#if DISPA_WITH_CUDA
#include <cuda_runtime.h>

#include "bench/cuda_timing.h"
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#endif

using namespace dispa;

namespace {
constexpr int64_t kBatch = 512;  // mask rows: one per cell-drug pair

struct SoftmaxCase {
  Tensor x;     // [B, rows / B, K]
  Tensor mask;  // [B, 1, K] f32, about 70% keys kept, key 0 always kept
  int64_t rows, K;
};

SoftmaxCase make_case(int64_t rows, int64_t K, Device device) {
  SoftmaxCase c;
  c.rows = rows;
  c.K = K;
  c.x = Tensor::uniform({kBatch, rows / kBatch, K}, -4.0, 4.0, 7).to(device);
  std::vector<float> keep = Tensor::uniform({kBatch, 1, K}, 0.0, 1.0, 8).to_vector<float>();
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = (i % size_t(K) == 0 || keep[i] < 0.7f) ? 1.f : 0.f;
  c.mask = Tensor::from_vector(keep, {kBatch, 1, K}, device);
  return c;
}

// The unfused reference: every step writes a full intermediate, as an op-by-op framework would.
struct Unfused {
  std::vector<float> row_max, shifted, expd, row_sum;
  void run(const float* x, const float* mask, int64_t rows, int64_t K, float* y) {
    const int64_t n = rows * K, per_batch = rows / kBatch;
    row_max.resize(size_t(rows));
    shifted.resize(size_t(n));
    expd.resize(size_t(n));
    row_sum.resize(size_t(rows));
    auto kept = [&](int64_t r, int64_t k) { return mask == nullptr || mask[(r / per_batch) * K + k] != 0.f; };
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float m = -INFINITY;
      for (int64_t k = 0; k < K; ++k)
        if (kept(r, k)) m = std::max(m, x[r * K + k]);
      row_max[size_t(r)] = m;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) shifted[size_t(i)] = kept(i / K, i % K) ? x[i] - row_max[size_t(i / K)] : -INFINITY;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) expd[size_t(i)] = std::exp(shifted[size_t(i)]);
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      float s = 0.f;
      for (int64_t k = 0; k < K; ++k) s += expd[size_t(r * K + k)];
      row_sum[size_t(r)] = s;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) y[i] = row_sum[size_t(i / K)] > 0.f ? expd[size_t(i)] / row_sum[size_t(i / K)] : 0.f;
  }
};

// Largest |a - b| between a tensor (any device) and a host reference; NaN counts as a mismatch.
bool matches(const Tensor& got, const std::vector<float>& want, double tol) {
  const std::vector<double> g = got.to_f64_vector();
  for (size_t i = 0; i < want.size(); ++i)
    if (!(std::abs(g[i] - double(want[i])) <= tol)) return false;
  return true;
}

std::vector<float> reference(const SoftmaxCase& host, bool masked) {
  std::vector<float> y(size_t(host.rows * host.K));
  Unfused u;
  const Tensor x = host.x.to(Device::cpu()), mask = host.mask.to(Device::cpu());
  u.run(x.data<float>(), masked ? mask.data<float>() : nullptr, host.rows, host.K, y.data());
  return y;
}

void set_throughput(benchmark::State& st, const SoftmaxCase& c) {
  st.SetBytesProcessed(int64_t(st.iterations()) * 2 * c.rows * c.K * int64_t(sizeof(float)));  // read x, write y
  st.counters["rows"] = double(c.rows);
  st.counters["K"] = double(c.K);
}

template <bool kMasked>
void unfused_cpu(benchmark::State& st) {
  SoftmaxCase c = make_case(st.range(0), st.range(1), Device::cpu());
  Tensor y = Tensor::empty({c.rows, c.K});
  Unfused u;
  for (auto _ : st) {
    u.run(c.x.data<float>(), kMasked ? c.mask.data<float>() : nullptr, c.rows, c.K, y.data<float>());
    benchmark::DoNotOptimize(y.data<float>());
    benchmark::ClobberMemory();
  }
  set_throughput(st, c);
}

template <bool kMasked>
void dispa_cpu(benchmark::State& st) {
  SoftmaxCase c = make_case(st.range(0), st.range(1), Device::cpu());
  NoGrad no_grad;  // measure the op, not the tape
  auto op = [&] { return kMasked ? masked_softmax(c.x, c.mask) : softmax(c.x); };
  if (!matches(op(), reference(c, kMasked), 1e-6)) {
    st.SkipWithError("dispa CPU softmax does not match the reference");
    return;
  }
  for (auto _ : st) benchmark::DoNotOptimize(op());
  set_throughput(st, c);
}

#if DISPA_WITH_CUDA
template <typename Op>
void time_cuda(benchmark::State& st, const SoftmaxCase& c, const std::vector<float>& want, double tol, Op op) {
  if (!matches(op(), want, tol)) {
    st.SkipWithError("CUDA result does not match the CPU reference");
    return;
  }
  bench::time_cuda_iterations(st, [&] { benchmark::DoNotOptimize(op()); });
  set_throughput(st, c);
}

void unfused_cuda(benchmark::State& st) {
  if (!cuda::available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  SoftmaxCase c = make_case(st.range(0), st.range(1), Device::cuda());
  NoGrad no_grad;
  time_cuda(st, c, reference(c, false), 1e-5, [&] {
    Tensor e = exp(c.x);
    return div(e, sum(e, -1, true));
  });
}

template <bool kMasked>
void dispa_cuda(benchmark::State& st) {
  if (!cuda::available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  SoftmaxCase c = make_case(st.range(0), st.range(1), Device::cuda());
  NoGrad no_grad;
  time_cuda(st, c, reference(c, kMasked), 1e-6, [&] { return kMasked ? masked_softmax(c.x, c.mask) : softmax(c.x); });
}
#endif

// Prints "<name>: dispa/unfused = 0.42x" (real time) for each pair after the usual console table.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    // One time per benchmark: the median when repetitions are aggregated, else the single run.
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Iteration && !medians_.count(r.run_name.str())) {
        times_[r.run_name.str()] = r.GetAdjustedRealTime();
      } else if (r.run_type == Run::RT_Aggregate && r.aggregate_name == "median") {
        times_[r.run_name.str()] = r.GetAdjustedRealTime();
        medians_.insert(r.run_name.str());
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const auto& [name, t] : times_) {
      const size_t at = name.find("/dispa/");
      if (at == std::string::npos) continue;
      std::string base = name;
      base.replace(at, 7, "/unfused/");
      const auto it = times_.find(base);
      if (it != times_.end())
        std::printf("%s: dispa/unfused = %.2fx\n", name.c_str(), t / it->second);
    }
  }

 private:
  std::map<std::string, double> times_;
  std::set<std::string> medians_;
};

void model_shapes(benchmark::internal::Benchmark* b) {
  b->Args({kBatch * 4 * 94, 17})->Args({kBatch * 4, 94})->ArgNames({"rows", "K"})->Unit(benchmark::kMicrosecond);
}
}  // namespace

BENCHMARK(unfused_cpu<false>)->Name("softmax/unfused/cpu")->Apply(model_shapes)->UseRealTime();
BENCHMARK(dispa_cpu<false>)->Name("softmax/dispa/cpu")->Apply(model_shapes)->UseRealTime();
BENCHMARK(unfused_cpu<true>)->Name("masked_softmax/unfused/cpu")->Apply(model_shapes)->UseRealTime();
BENCHMARK(dispa_cpu<true>)->Name("masked_softmax/dispa/cpu")->Apply(model_shapes)->UseRealTime();
#if DISPA_WITH_CUDA
BENCHMARK(unfused_cuda)->Name("softmax/unfused/cuda")->Apply(model_shapes)->UseManualTime();
BENCHMARK(dispa_cuda<false>)->Name("softmax/dispa/cuda")->Apply(model_shapes)->UseManualTime();
BENCHMARK(dispa_cuda<true>)->Name("masked_softmax/dispa/cuda")->Apply(model_shapes)->UseManualTime();
#endif

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
