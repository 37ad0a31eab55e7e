// Fused differential cross-attention (model/diff_attention.h), forward + backward, at DiSPA's
// shapes: Path2Sub (B = 512, Lq = 94 pathways, Lk = 17 substructures with a key mask) and
// Drug2Path (B = 512, Lq = 1, Lk = 94 pathways, no mask); H = 4, D = 24 (attention dim 192).
// Baseline: the scalar reference of tests/model/diff_attention_reference.h in f32 (nested loops,
// every intermediate materialised, one thread). Contenders: the fused CPU op (OpenMP threads as
// OMP_NUM_THREADS says) and, in a CUDA build with a device, the fused kernels (CUDA-event time,
// L2 not cleared, allocator warm after the first iteration). Every contender is checked against
// the baseline's output before it is timed. At exit a line per case prints contender/baseline.
//   build/bench/diff_attention_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>
#include <string>

#include "engine/autograd.h"
#include "engine/cuda/runtime.h"
#include "engine/dtype.h"
#include "model/diff_attention.h"
#include "tests/model/diff_attention_reference.h"
#include "tests/support/gradcheck.h"

#if DISPA_WITH_CUDA
#include "bench/cuda_timing.h"
#include "engine/cuda/check.h"
#endif

namespace {

using namespace dispa;
using Case = test::DiffAttentionCase<float>;

struct BenchShape {
  const char* name;
  int64_t batch, lq, lk;
  int mask_kind;
};
const BenchShape kCases[] = {{"path2sub", 512, 94, 17, 1}, {"drug2path", 512, 1, 94, 0}};
constexpr int kHeads = 4, kHeadDim = 24;

Case make_case(const BenchShape& s) {
  return test::make_diff_attention_case<float>(s.batch, s.lq, s.lk, kHeads, kHeadDim, 7, s.mask_kind);
}
std::vector<float> make_dy(const BenchShape& s) {
  return test::make_diff_attention_case<float>(s.batch, s.lq, 1, kHeads, kHeadDim, 8).q;
}

// The fused op's output on `device` must match the scalar reference before anything is timed.
std::string mismatch(const Case& c, const test::DiffAttentionTensors<float>& t) {
  NoGrad no_grad;
  const Tensor y = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, c.lambda_init, t.weight, c.heads).output;
  const auto want = test::reference_forward(c).y;
  const auto got = y.to_f64_vector();
  for (size_t e = 0; e < got.size(); ++e)
    if (!(std::abs(got[e] - want[e]) <= 2e-5 + 1e-4 * std::abs(want[e])))  // NaN fails
      return "element " + std::to_string(e) + ": " + std::to_string(got[e]) + " vs " + std::to_string(want[e]);
  return {};
}

void naive_cpu(benchmark::State& st, const BenchShape& s) {
  const Case c = make_case(s);
  const auto dy = make_dy(s);
  for (auto _ : st) {
    const auto f = test::reference_forward(c);
    const auto g = test::reference_backward(c, f, dy);
    benchmark::DoNotOptimize(g.dq.data());
  }
}

void fused(benchmark::State& st, const BenchShape& s, Device device) {
  if (device.is_cuda() && !cuda::available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  const Case c = make_case(s);
  auto t = test::to_tensors(c, device, true);
  if (const std::string msg = mismatch(c, t); !msg.empty()) {
    st.SkipWithError(("fused output differs from the reference: " + msg).c_str());
    return;
  }
  const Tensor dy = Tensor::from_vector(make_dy(s), c.q_shape(), device);
  auto step = [&] {
    for (Tensor* x : {&t.q, &t.k, &t.v, &t.lambda, &t.weight}) x->zero_grad();
    DiffAttentionResult r = diff_attention(t.q, t.k, t.v, t.mask, t.lambda, c.lambda_init, t.weight, c.heads);
    test::backward_with(r.output, dy);
  };
  if (device.is_cpu()) {
    for (auto _ : st) step();
    return;
  }
#if DISPA_WITH_CUDA
  bench::time_cuda_iterations(st, step, 1);  // one warm-up: the caching allocator then holds every block
#endif
}

// After the usual table, prints per case "<contender> / naive_cpu" for real time and for the main
// thread's CPU time (the steadier number on a loaded machine; equal work only with one thread),
// from the fastest repetition of each.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& r : runs) {
      if (r.error_occurred || r.run_type != Run::RT_Iteration) continue;
      std::string name = r.benchmark_name();
      name = name.substr(0, name.find("/real_time"));
      name = name.substr(0, name.find("/manual_time"));
      auto [it, fresh] = times_.try_emplace(name, Times{r.GetAdjustedRealTime(), r.GetAdjustedCPUTime()});
      if (!fresh) it->second = {std::min(it->second.real, r.GetAdjustedRealTime()),
                                std::min(it->second.cpu, r.GetAdjustedCPUTime())};
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    for (const BenchShape& s : kCases) {
      const auto base = times_.find(std::string("diff_attention/naive_cpu/") + s.name);
      if (base == times_.end()) continue;
      for (const char* impl : {"fused_cpu", "fused_cuda"}) {
        const auto it = times_.find(std::string("diff_attention/") + impl + "/" + s.name);
        if (it == times_.end()) continue;
        std::printf("%s / naive_cpu: real time %.3fx (%.1fx faster)", it->first.c_str(), it->second.real / base->second.real,
                    base->second.real / it->second.real);
        if (std::string(impl) == "fused_cpu")
          std::printf(", main-thread CPU time %.3fx", it->second.cpu / base->second.cpu);
        std::printf("\n");
      }
    }
  }

 private:
  struct Times {
    double real, cpu;
  };
  std::map<std::string, Times> times_;
};

}  // namespace

int main(int argc, char** argv) {
  for (const BenchShape& s : kCases) {
    const std::string tail = std::string("/") + s.name;
    benchmark::RegisterBenchmark(("diff_attention/naive_cpu" + tail).c_str(), naive_cpu, s)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("diff_attention/fused_cpu" + tail).c_str(), fused, s, Device::cpu())
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
#if DISPA_WITH_CUDA
    benchmark::RegisterBenchmark(("diff_attention/fused_cuda" + tail).c_str(), fused, s, Device::cuda())
        ->Unit(benchmark::kMillisecond)
        ->UseManualTime();
#endif
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
