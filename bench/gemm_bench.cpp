// GEMM throughput at the model's shapes: our CPU GEMM (engine/ops/gemm_cpu) at every CPU level this
// machine runs ("dispa-avx512", "dispa-avx2", "dispa-portable": engine/cpu_features.h) against
// OpenBLAS cblas_sgemm (the yardstick, linked into benchmarks only) at 1 and 2 threads, and cuBLAS
// on the GPU (CUDA builds only, timed with CUDA events). Shapes are [M, K] x [K, N]:
//   48128 x 218 x 512   gene FFN first layer over B*P = 512*94 pathway rows (S -> h)
//   48128 x 512 x 192   gene FFN second layer (h -> E)
//     512 x 576 x 256   regressor head, 3E -> 256
// "nn" is the product as written; "nt" stores B as [N, K] (linear's weight layout). Every entry runs
// the same product ("gemm/dispa-<level>/..." vs "gemm/openblas/..."), checked against OpenBLAS
// before timing; a summary after the table prints each level's throughput / OpenBLAS's, and
// avx512 / avx2, per shape and thread count. --levels=avx512,avx2 limits the levels timed.
// Run: build/bench/gemm_bench --benchmark_min_time=0.5 [--benchmark_repetitions=5
//      --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true]
#include <benchmark/benchmark.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include "engine/cpu_features.h"
#include "engine/ops/gemm_cpu.h"

#if DISPA_HAVE_OPENBLAS
#include <cblas.h>
#endif
#if DISPA_WITH_CUDA
#include <cuda_runtime.h>

#include "bench/cuda_timing.h"
#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/ops/matmul_math.h"
#endif

namespace {

struct Shape3 {
  int64_t m, k, n;
};
const std::vector<Shape3> kShapes = {{512 * 94, 218, 512}, {512 * 94, 512, 192}, {512, 576, 256}};

struct Operands {
  std::vector<float> a, b, c;
};
Operands make_operands(const Shape3& s) {
  Operands o;
  std::mt19937 gen(12345);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  o.a.resize(size_t(s.m * s.k));
  o.b.resize(size_t(s.k * s.n));
  o.c.assign(size_t(s.m * s.n), 0.f);
  for (float& v : o.a) v = u(gen);
  for (float& v : o.b) v = u(gen);
  return o;
}

double flops(const Shape3& s) { return 2.0 * double(s.m) * double(s.n) * double(s.k); }

void set_threads(int threads) {
  omp_set_num_threads(threads);
#if DISPA_HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif
}

void run_dispa(const Shape3& s, bool tb, Operands& o) {
  dispa::cpu::sgemm(false, tb, s.m, s.n, s.k, 1.f, o.a.data(), s.k, o.b.data(), tb ? s.k : s.n, 0.f, o.c.data(), s.n);
}

#if DISPA_HAVE_OPENBLAS
void run_openblas(const Shape3& s, bool tb, Operands& o) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(s.m), int(s.n), int(s.k), 1.f,
              o.a.data(), int(s.k), o.b.data(), int(tb ? s.k : s.n), 0.f, o.c.data(), int(s.n));
}

// A benchmark of wrong code is worthless: both implementations must agree before timing.
bool results_agree(const Shape3& s, bool tb, std::string* why) {
  Operands o = make_operands(s);
  run_dispa(s, tb, o);
  const std::vector<float> ours = o.c;
  run_openblas(s, tb, o);
  for (size_t i = 0; i < ours.size(); ++i) {
    const double err = std::abs(double(ours[i]) - double(o.c[i]));
    if (!(err <= 1e-4 + 1e-4 * std::abs(double(o.c[i])))) {
      *why = "dispa and OpenBLAS disagree at index " + std::to_string(i) + ": " + std::to_string(ours[i]) + " vs " +
             std::to_string(o.c[i]);
      return false;
    }
  }
  return true;
}
#endif

// level: the CPU level our GEMM runs at (OpenBLAS ignores it but is checked against it).
template <typename Fn>
void bench_cpu(benchmark::State& st, Shape3 s, bool tb, int threads, dispa::CpuLevel level, Fn fn) {
  dispa::ScopedCpuLevel scope(level);
  set_threads(threads);
#if DISPA_HAVE_OPENBLAS
  std::string why;
  if (!results_agree(s, tb, &why)) {
    st.SkipWithError(why.c_str());
    return;
  }
#endif
  Operands o = make_operands(s);
  fn(s, tb, o);  // warm-up: packing buffers allocated, pages touched
  for (auto _ : st) {
    fn(s, tb, o);
    benchmark::DoNotOptimize(o.c.data());
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(flops(s) * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

#if DISPA_WITH_CUDA
// cuBLAS through our entry point (cublasGemmStridedBatchedEx, row-major by operand swap), fp32
// or TF32 compute; CUDA events around each call, warm-up first, L2 not flushed (operands of these
// sizes exceed L2 except the head shape).
void bench_cublas(benchmark::State& st, Shape3 s, bool tb, bool tf32) {
  if (!dispa::cuda::available()) {
    st.SkipWithError("no CUDA device");
    return;
  }
  Operands o = make_operands(s);
  int device = 0;
  DISPA_CUDA_CHECK(cudaGetDevice(&device));
  auto upload = [&](const std::vector<float>& host) {
    void* p = dispa::cuda::device_alloc(host.size() * sizeof(float), device);
    dispa::cuda::copy(p, true, host.data(), false, host.size() * sizeof(float));
    return static_cast<float*>(p);
  };
  float* a = upload(o.a);
  float* b = upload(o.b);
  float* c = upload(o.c);
  auto run = [&] {
    dispa::cuda::sgemm_batched(false, tb, s.m, s.n, s.k, 1.f, a, s.k, 0, b, tb ? s.k : s.n, 0, 0.f, c, s.n, 0, 1, tf32);
  };
  dispa::bench::time_cuda_iterations(st, run);
  st.counters["GFLOP/s"] = benchmark::Counter(flops(s) * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
  dispa::cuda::device_free(a, o.a.size() * sizeof(float), device);
  dispa::cuda::device_free(b, o.b.size() * sizeof(float), device);
  dispa::cuda::device_free(c, o.c.size() * sizeof(float), device);
}
#endif

std::string shape_name(const Shape3& s, bool tb) {
  return std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n) + (tb ? "/nt" : "/nn");
}

// Console table as usual, then one line per (shape, threads): dispa / openblas throughput. With
// --benchmark_repetitions it compares medians and also each side's best repetition ("max"
// statistic of GFLOP/s): on a machine shared with other jobs the best run is the one least
// disturbed, so both are printed.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  // Colour only on a terminal (a custom display reporter does not see --benchmark_color).
  RatioReporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_ColorTabular : OO_Tabular) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const auto it = run.counters.find("GFLOP/s");
      if (it == run.counters.end()) continue;
      // function_name is "gemm/<impl>/<shape>/<layout>/threads:<t>": split off the impl.
      const std::string& name = run.run_name.function_name;
      const size_t first = name.find('/'), second = name.find('/', first + 1);
      if (first == std::string::npos || second == std::string::npos) continue;
      const std::string impl = name.substr(first + 1, second - first - 1);
      Entry& e = entries_[name.substr(second + 1)];
      const double value = double(it->second);
      if (run.run_type == Run::RT_Iteration) e.single[impl] = value;  // last repetition if several
      else if (run.aggregate_name == "median") e.median[impl] = value;
      else if (run.aggregate_name == "max") e.best[impl] = value;
    }
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::ostream& out = GetOutputStream();  // the table's stream, so the summary follows it
    char line[320];
    bool header = false;
    for (const auto& [key, e] : entries_) {
      const bool aggregated = !e.median.empty();
      const auto& primary = aggregated ? e.median : e.single;
      if (!primary.count("openblas")) continue;
      if (!header)
        out << "\nsummary, GFLOP/s (" << (aggregated ? "median of repetitions; best repetition after |" : "one run each")
            << "); ratio = dispa level / openblas, target >= 0.70:\n";
      header = true;
      const double blas = primary.at("openblas");
      for (const auto& [impl, ours] : primary) {
        if (impl == "openblas") continue;
        std::snprintf(line, sizeof line, "  %-30s %-15s %6.1f  openblas %6.1f  ratio %.2fx", key.c_str(), impl.c_str(),
                      ours, blas, ours / blas);
        out << line;
        if (e.best.count(impl) && e.best.count("openblas")) {
          std::snprintf(line, sizeof line, "   | best %6.1f vs %6.1f  ratio %.2fx", e.best.at(impl), e.best.at("openblas"),
                        e.best.at(impl) / e.best.at("openblas"));
          out << line;
        }
        out << "\n";
      }
      if (primary.count("dispa-avx512") && primary.count("dispa-avx2")) {
        std::snprintf(line, sizeof line, "  %-30s avx512 / avx2 = %.2fx\n", key.c_str(),
                      primary.at("dispa-avx512") / primary.at("dispa-avx2"));
        out << line;
      }
    }
    out.flush();
  }

 private:
  struct Entry {
    std::map<std::string, double> single, median, best;
  };
  std::map<std::string, Entry> entries_;
};

double max_of(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }

void register_all(const std::vector<dispa::CpuLevel>& levels) {
  for (const Shape3& s : kShapes)
    for (bool tb : {false, true})
      for (int threads : {1, 2}) {
        const std::string tail = shape_name(s, tb) + "/threads:" + std::to_string(threads);
        for (dispa::CpuLevel level : levels) {
          const std::string name = "gemm/dispa-" + std::string(dispa::cpu_level_name(level)) + "/" + tail;
          benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) {
            bench_cpu(st, s, tb, threads, level, run_dispa);
          })->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("max", max_of);
        }
#if DISPA_HAVE_OPENBLAS
        benchmark::RegisterBenchmark(("gemm/openblas/" + tail).c_str(), [=](benchmark::State& st) {
          bench_cpu(st, s, tb, threads, dispa::cpu_level(), run_openblas);
        })->UseRealTime()->Unit(benchmark::kMillisecond)->ComputeStatistics("max", max_of);
#endif
      }
#if DISPA_WITH_CUDA
  for (const Shape3& s : kShapes)
    for (bool tf32 : {false, true})
      benchmark::RegisterBenchmark(("gemm_gpu/cublas_" + std::string(tf32 ? "tf32/" : "fp32/") + shape_name(s, true)).c_str(),
                                   [=](benchmark::State& st) { bench_cublas(st, s, true, tf32); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
#endif
}


// --levels=a,b (our flag, taken out before Google Benchmark parses the rest): the CPU levels to
// time; default every level this machine runs.
std::vector<dispa::CpuLevel> take_levels_flag(int& argc, char** argv) {
  std::vector<dispa::CpuLevel> levels = dispa::runnable_cpu_levels();
  std::reverse(levels.begin(), levels.end());  // highest first in the table
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--levels=", 0) != 0) continue;
    levels.clear();
    std::string list = arg.substr(9) + ",";
    for (size_t at = 0, comma; (comma = list.find(',', at)) != std::string::npos; at = comma + 1)
      if (comma > at) levels.push_back(dispa::parse_cpu_level(list.substr(at, comma - at), "--levels"));
    for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
    --argc;
    break;
  }
  return levels;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<dispa::CpuLevel> levels = take_levels_flag(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
#if DISPA_HAVE_OPENBLAS
  benchmark::AddCustomContext("openblas", std::string(openblas_get_config()) + ", core " + openblas_get_corename());
#endif
  benchmark::AddCustomContext("cpu", dispa::cpu_dispatch_summary());
  for (dispa::CpuLevel level : levels) {
    const dispa::cpu::SgemmBlocking b = dispa::cpu::sgemm_blocking(level);
    benchmark::AddCustomContext("dispa-" + std::string(dispa::cpu_level_name(level)),
                                std::string(b.kernel) + " micro-kernel, KC " + std::to_string(b.kc) + ", MC " +
                                    std::to_string(b.mc) + ", NC " + std::to_string(b.nc));
  }
  register_all(levels);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
