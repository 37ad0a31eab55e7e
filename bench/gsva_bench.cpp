// Pathway scoring speed on the GDSC2 expression (580 cells x 706 genes) x all KEGG sets
// (pathways_kegg.gmt, 112 sets kept at min size 5), the workload of bench/compare_gsva_r.sh.
//  - pathways/<method>: score_gene_sets(), the scope of one R gsva() call (gene filter, set
//    selection, scoring); R's own times come from compare_gsva_r.sh, not from here.
//  - gsva_density/r_loop vs gsva_density/dispa: GSVA's O(G N^2) kernel-CDF step as R's C code
//    runs it (every ordered pair, a division per pair) against ours (each pair once, sorted, SIMD
//    table lookup); checked equal (to 1e-9) before timing.
//  - read_expression/<dtype>: parsing expression.tsv (target: well under 100 ms).
// Threads: OMP_NUM_THREADS (compare_gsva_r.sh uses 2). Data: DISPA_SHARED (default ../shared).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>

#include "bio/expression.h"
#include "bio/gmt.h"
#include "bio/gsva.h"
#include "bio/pathway_scores.h"
#include "engine/log.h"

namespace {

using namespace dispa;
using namespace dispa::bio;

std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("DISPA_SHARED"); env && *env) return env;
  return DISPA_SHARED_DEFAULT;
}

struct Workload {
  ExpressionMatrix expression;  // f64, as the CLI reads it
  std::vector<GeneSet> sets;
};

// Loaded once; nullopt (and the benchmark skipped) when the shared data is absent.
const std::optional<Workload>& workload() {
  static const std::optional<Workload> w = []() -> std::optional<Workload> {
    const auto dir = shared_dir() / "data/gdsc2";
    if (!std::filesystem::exists(dir / "expression.tsv")) return std::nullopt;
    logging::set_quiet(true);
    ExpressionReadOptions o;
    o.dtype = DType::f64;
    return Workload{read_expression(dir / "expression.tsv", o), read_gmt(dir / "pathways_kegg.gmt")};
  }();
  return w;
}

void score(benchmark::State& state, ScoreMethod method) {
  const auto& w = workload();
  if (!w) return state.SkipWithError("shared data not found (set DISPA_SHARED)");
  ScoreOptions o;
  o.method = method;
  o.dtype = DType::f64;
  for (auto _ : state) benchmark::DoNotOptimize(score_gene_sets(w->expression, w->sets, o).scores);
  state.counters["samples/s"] =
      benchmark::Counter(double(w->expression.n_samples()) * double(state.iterations()), benchmark::Counter::kIsRate);
}

// R's row_d(): for every test value, sum the table CDF over every density value (i = j included).
std::vector<double> density_r_loop(const std::vector<double>& x, int64_t n, int64_t g) {
  std::vector<double> out(size_t(n * g)), column(static_cast<size_t>(n));
#pragma omp parallel for schedule(dynamic, 4) firstprivate(column)
  for (int64_t j = 0; j < g; ++j) {
    for (int64_t i = 0; i < n; ++i) column[size_t(i)] = x[size_t(i * g + j)];
    const double bw = gsva_sample_sd(column.data(), n) / 4.0;
    for (int64_t t = 0; t < n; ++t) {
      double left_tail = 0.0;
      for (int64_t i = 0; i < n; ++i) left_tail += gsva_kernel_cdf(column[size_t(t)] - column[size_t(i)], bw);
      left_tail = left_tail / double(n);
      out[size_t(t * g + j)] = -1.0 * std::log((1.0 - left_tail) / left_tail);
    }
  }
  return out;
}

void density_r_loop_bench(benchmark::State& state) {
  const auto& w = workload();
  if (!w) return state.SkipWithError("shared data not found (set DISPA_SHARED)");
  const std::vector<double> x = w->expression.values().to_f64_vector();
  const int64_t n = w->expression.n_samples(), g = w->expression.n_genes();
  for (auto _ : state) benchmark::DoNotOptimize(density_r_loop(x, n, g));
  state.counters["pairs/s"] =
      benchmark::Counter(double(n) * double(n) * double(g) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void density_dispa_bench(benchmark::State& state) {
  const auto& w = workload();
  if (!w) return state.SkipWithError("shared data not found (set DISPA_SHARED)");
  const int64_t n = w->expression.n_samples(), g = w->expression.n_genes();
  {  // a benchmark of wrong code is worthless: ours must equal R's loop
    const std::vector<double> want = density_r_loop(w->expression.values().to_f64_vector(), n, g);
    const std::vector<double> got = gsva_gene_density(w->expression.values()).to_vector<double>();
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
    // Summation order alone moves the logit by ~1e-12; one table index off would move it by > 1e-7.
    if (!(worst <= 1e-9)) return state.SkipWithError("gsva density differs from R's loop");
  }
  for (auto _ : state) benchmark::DoNotOptimize(gsva_gene_density(w->expression.values()));
  state.counters["pairs/s"] =
      benchmark::Counter(double(n) * double(n) * double(g) * double(state.iterations()), benchmark::Counter::kIsRate);
}

void read_bench(benchmark::State& state, DType dtype) {
  const auto path = shared_dir() / "data/gdsc2/expression.tsv";
  if (!std::filesystem::exists(path)) return state.SkipWithError("shared data not found (set DISPA_SHARED)");
  ExpressionReadOptions o;
  o.dtype = dtype;
  for (auto _ : state) benchmark::DoNotOptimize(read_expression(path, o));
  state.SetBytesProcessed(int64_t(std::filesystem::file_size(path)) * int64_t(state.iterations()));
}

BENCHMARK_CAPTURE(score, ssgsea, ScoreMethod::ssgsea)->Name("pathways/ssgsea")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(score, gsva, ScoreMethod::gsva)->Name("pathways/gsva")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(score, zscore, ScoreMethod::zscore)->Name("pathways/zscore")->Unit(benchmark::kMillisecond);
BENCHMARK(density_r_loop_bench)->Name("gsva_density/r_loop")->Unit(benchmark::kMillisecond);
BENCHMARK(density_dispa_bench)->Name("gsva_density/dispa")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(read_bench, f32, DType::f32)->Name("read_expression/f32")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(read_bench, f64, DType::f64)->Name("read_expression/f64")->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
