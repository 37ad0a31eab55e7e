// dispa bench-step as a library call on the CPU at toy sizes: both modes are measured with finite,
// ordered quantiles, the statistics count the requested steps' batch, and bad settings are errors.
// (Timings themselves are never asserted on.)
#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"
#include "train/step_bench.h"

using namespace dispa;

namespace {
train::StepBenchOptions toy_options() {
  train::StepBenchOptions o;
  o.cells = 12;
  o.genes = 30;
  o.pathways = 5;
  o.max_genes_per_pathway = 8;
  o.drugs = 6;
  o.drug_dim = 20;
  o.max_substructures = 4;
  o.batch = 8;
  o.steps = 3;
  o.warmup = 1;
  return o;
}
}  // namespace

TEST_CASE("bench-step: a training step and an eval forward are measured (CPU, toy sizes)") {
  for (bool dedup : {true, false}) {
    for (const char* attention : {"differential", "vanilla"}) {
      CAPTURE(dedup);
      CAPTURE(attention);
      train::StepBenchOptions o = toy_options();
      o.dedup = dedup;
      o.attention = attention;
      const auto results = train::run_step_bench(o);
      REQUIRE(results.size() == 2);
      CHECK(results[0].mode == "train_step");
      CHECK(results[1].mode == "eval_forward");
      for (const auto& r : results) {
        CHECK(std::isfinite(r.median_ms));
        CHECK(r.p10_ms <= r.median_ms);
        CHECK(r.median_ms <= r.p90_ms);
        CHECK(r.samples_per_s > 0);
        CHECK(r.device_mallocs_during_timing == 0);  // CPU: not counted
      }
    }
  }
}

TEST_CASE("bench-step: a batch BatchNorm cannot use, or no timed steps, is an error") {
  train::StepBenchOptions o = toy_options();
  o.batch = 1;
  CHECK_THROWS_WITH_AS(train::run_step_bench(o), doctest::Contains("need batch >= 2"), Error);
  o = toy_options();
  o.steps = 0;
  CHECK_THROWS_WITH_AS(train::run_step_bench(o), doctest::Contains("steps >= 1"), Error);
}
