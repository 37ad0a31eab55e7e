// The built-in demo end to end in its quick setting: it must run, beat the drug-mean baseline on
// held-out pairs (the planted interactions are learnable), and report every planted pair with a
// valid rank and finite attention.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/log.h"
#include "train/demo.h"

using namespace dispa;

TEST_CASE("demo: quick run beats the drug-mean baseline and reports each planted pair") {
  logging::set_quiet(true);
  train::DemoOptions options;
  options.quick = true;
  const train::DemoResult result = train::run_demo(options);
  logging::set_quiet(false);
  const double model_rmse = result.metrics.at("rmse").get<double>();
  const double drug_mean_rmse = result.metrics.at("baselines").at("drug_mean").at("rmse").get<double>();
  CHECK(std::isfinite(model_rmse));
  CHECK(model_rmse < drug_mean_rmse);
  REQUIRE(!result.planted.empty());
  for (const auto& p : result.planted) {
    CHECK(p.rank >= 1);
    CHECK(p.rank <= p.pathways);
    CHECK(std::isfinite(p.attention));
    CHECK(p.drugs_with_fragment >= 2);
  }
  CHECK(result.report.find("planted pairs recovered") != std::string::npos);
}
