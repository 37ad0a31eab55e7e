// run_baseline_evaluation (`dispa baselines`) on gdsc2-mini: writes a split and baselines.json, and
// reusing the written split gives the same numbers.
#include <fstream>

#include <doctest/doctest.h>

#include "engine/error.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"
#include "engine/log.h"
#include "train/baseline_run.h"

using namespace dispa;
using namespace dispa::train;

TEST_CASE("run_baseline_evaluation: files, keys, and a reused split") {
  const auto dir = test::shared_path_or_skip("data/gdsc2-mini");
  if (dir.empty()) return;
  logging::set_quiet(true);  // keep the test output to doctest's
  test::TempDir tmp("baseline_run");
  BaselineRunOptions o;
  o.data_dir = dir;
  o.split = "cell-blind";
  o.folds = 4;
  o.seed = 3;
  o.out_dir = tmp.path() / "run";
  const BaselineRunResult a = run_baseline_evaluation(o);
  CHECK(std::filesystem::exists(o.out_dir / "split.tsv"));
  std::ifstream in(o.out_dir / "baselines.json");
  const nlohmann::json j = nlohmann::json::parse(in);
  CHECK(j == a.json);
  CHECK(j["split"]["scheme"] == "cell-blind");
  REQUIRE(j["folds"].size() == 4);
  for (const char* name : {"drug_mean", "cell_mean", "additive"}) {
    CHECK(j["folds"][0]["baselines"].contains(name));
    CHECK(j["mean"][name].contains("rmse"));
    CHECK(j["sd"][name].contains("per_drug_pearson_mean"));
  }
  CHECK(a.table.find("mean additive") != std::string::npos);

  BaselineRunOptions reuse;
  reuse.data_dir = dir;
  reuse.split_file = o.out_dir / "split.tsv";
  reuse.fold = 2;
  const BaselineRunResult b = run_baseline_evaluation(reuse);
  REQUIRE(b.json["folds"].size() == 1);
  CHECK(b.json["folds"][0]["baselines"] == a.json["folds"][2]["baselines"]);

  BaselineRunOptions tgsa;
  tgsa.data_dir = dir;
  tgsa.split = "tgsa-cell-blind";
  CHECK(run_baseline_evaluation(tgsa).json["folds"].size() == 1);
  tgsa.split = "tgsa-drug-blind";
  CHECK_THROWS_AS(run_baseline_evaluation(tgsa), Error);  // needs --scaffolds
  logging::set_quiet(false);
}
