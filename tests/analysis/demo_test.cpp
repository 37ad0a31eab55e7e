// The built-in demo end to end in its quick setting (analysis/demo_check.h over train/demo.h): it
// must beat the drug-mean baseline on held-out pairs (the planted interactions are learnable), list
// every planted pair, and report each method's recovery of them with a valid rank.
#include <algorithm>
#include <cmath>

#include <doctest/doctest.h>

#include "analysis/demo_check.h"
#include "engine/log.h"

using namespace dispa;
using namespace dispa::analysis;

TEST_CASE("demo (quick): beats the drug-mean baseline; every method's recovery of the planted pairs is reported") {
  logging::set_quiet(true);
  train::DemoOptions o;
  o.quick = true;
  const DemoCheck c = run_demo_check(o);
  logging::set_quiet(false);
  const double model_rmse = c.demo.metrics.at("rmse").get<double>();
  const double drug_mean_rmse = c.demo.metrics.at("baselines").at("drug_mean").at("rmse").get<double>();
  CHECK(std::isfinite(model_rmse));
  CHECK(model_rmse < drug_mean_rmse);
  const int K = int(c.demo.data->planted.size());
  REQUIRE(K == 4);
  for (const auto& p : c.demo.data->planted) {
    CHECK(p.drugs.size() >= 2);
    CHECK(std::abs(p.weight) == 1.5);
    CHECK(c.report.find(p.fragment) != std::string::npos);
  }
  REQUIRE(c.run.methods.size() == 8);  // 5 methods, attention_sd, drug2path, random
  for (size_t m = 0; m < c.run.methods.size(); ++m) {
    CHECK(c.run.recovered[m] >= 0);
    CHECK(c.run.recovered[m] <= K);
    for (int r : c.run.ranks[m]) CHECK((r >= 1 && r <= 12));
    CHECK(c.report.find(c.run.methods[m]) != std::string::npos);
  }
  CHECK(c.demo.metrics.at("recovery").at("occlusion").at("ranks").size() == size_t(K));
  // Even the quick model has learnt the planted interactions well enough for occlusion to put them
  // above the other fragment x pathway cells.
  const size_t occlusion = size_t(std::find(c.run.methods.begin(), c.run.methods.end(), "occlusion") - c.run.methods.begin());
  CHECK(c.run.auroc[occlusion] > 0.7);
}
