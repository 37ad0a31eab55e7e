// The planted-mechanism benchmark (dispa demo --attribution-benchmark): on the demo's synthetic
// data (train/demo.h), for seeds S, S+1, ..., S+N−1 and both attention kinds, train DiSPA, attribute
// every test pair with every method (analysis/attribution.h) and ask whether the planted
// fragment -> pathway effects come out.
//
//   fragment x pathway score   S[f, p] = mean over the test pairs whose drug carries fragment f of
//                              the method's map value at (p, f) (signed for the attention methods,
//                              |.| for the attributions, as aggregate() summarises them)
//   recovered                  planted pairs (f, p) with p in the top 3 of S[f, ·] (ties count
//                              against p), of K planted
//   auroc                      planted cells vs every other (f, p) cell of fragments seen in test
//   attention_sd, drug2path    diagnostics of raw attention: the sd across a drug's test cells of
//                              A[p, f] (averaged over the drugs carrying f), and the Drug2Path map
//                              a[p] averaged over the pairs carrying f (it sees drugs, not fragments)
//   random                     the same protocol with S drawn uniformly at random (a baseline:
//                              recovered ≈ 3K/P, auroc ≈ 0.5)
//   off-target attention       Path2Sub |A| mass on cells that are not planted, as a share of all
//                              |A| mass, over the test pairs whose drug carries a planted fragment,
//                              and the lift (mean |A| on planted cells / mean |A| elsewhere)
// Reported as mean ± sd over seeds, one line per method and attention kind:
//   attribution <method> <differential|vanilla>: recovered <mean> of <K> (sd <s>), auroc <a>
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/attribution.h"
#include "train/demo.h"

namespace dispa::analysis {

struct BenchmarkOptions {
  train::DemoOptions demo;  // data and training of every run; demo.seed is the first seed
  int seeds = 5;
  std::vector<std::string> kinds = {"differential", "vanilla"};
  AttributionOptions attribution;
  std::filesystem::path out_dir;  // optional: benchmark.json and benchmark.tsv (one row per run x method)
};

// One trained model's numbers.
struct BenchmarkRun {
  uint64_t seed = 0;
  std::string kind;
  double rmse = 0, drug_mean_rmse = 0;  // test pairs
  std::vector<std::string> methods;     // method names, then "random"
  std::vector<int> recovered;           // per method
  std::vector<double> auroc;            // per method
  std::vector<std::vector<int>> ranks;  // per method, per planted pair
  double off_target_share = 0, uniform_off_target_share = 0, planted_lift = 0;
};

struct BenchmarkResult {
  std::vector<BenchmarkRun> runs;
  int planted = 0, pathways = 0, cells = 0, epochs = 0;
  std::string report;    // the printed lines and a short table
  nlohmann::json summary;
};

BenchmarkResult run_attribution_benchmark(const BenchmarkOptions& options);

// The scoring of one trained model (exposed for tests): S[f, p] per method from the attributions of
// `test` pairs, then ranks of the planted pathways, AUROC and the off-target attention mass.
BenchmarkRun score_run(const train::DemoData& demo, const std::vector<PairAttribution>& attributions,
                       uint64_t random_seed);

}  // namespace dispa::analysis
