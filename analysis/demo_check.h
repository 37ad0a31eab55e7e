// `dispa demo`'s mechanism check: the demo (train/demo.h) trains DiSPA on synthetic data with
// planted fragment -> pathway effects; this asks, for the trained model, whether raw attention and
// each attribution method put the planted pathway in the top 3 of its fragment's row, scored as the
// benchmark scores one run (analysis/mechanism_benchmark.h). --quick attributes a sample of 96 test
// pairs with 8 integrated-gradient steps so the test suite stays fast.
#pragma once
#include <string>

#include "analysis/mechanism_benchmark.h"
#include "train/demo.h"

namespace dispa::analysis {

struct DemoCheck {
  train::DemoResult demo;
  BenchmarkRun run;    // recovered / auroc / ranks per method (and random)
  std::string report;  // the demo's report followed by the recovery table
};

// With options.out_dir, metrics.json also gets "recovery": {method: {recovered, auroc, ranks}}.
DemoCheck run_demo_check(const train::DemoOptions& options);

}  // namespace dispa::analysis
