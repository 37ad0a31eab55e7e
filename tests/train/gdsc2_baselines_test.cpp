// The baselines on the full GDSC2 benchmark (../shared/data/gdsc2), random 5-fold split, seed 0:
// the issue quotes the additive drug + cell model at about Pearson 0.90 / RMSE 1.21 and drug-mean at
// 0.83 / 1.55 on this benchmark's random split. Loose bounds: the data, not the last digit, is
// under test. Skipped with a message when the shared data is absent.
#include <cmath>

#include <doctest/doctest.h>

#include "tests/support/shared_data.h"
#include "train/baselines.h"

using namespace dispa;
using namespace dispa::train;

TEST_CASE("GDSC2 random split: drug-mean, cell-mean and additive baselines on the test fold") {
  const auto dir = test::shared_path_or_skip("data/gdsc2");
  if (dir.empty()) return;
  const ResponseData data = read_response_folder(dir);
  CHECK(data.excluded.total == 0);
  const ResponseTable& t = data.table;
  REQUIRE(t.size() == 82833);
  CHECK(t.num_cells() == 580);
  CHECK(t.num_drugs() == 170);

  // val_fraction 0: the baselines fit on all four training folds, as in the quoted numbers.
  const Split split = kfold_split(t, {SplitScheme::random, 5, 0, 0.0});
  for (const int fold : {0, 3}) {
    CAPTURE(fold);
    const std::vector<BaselineResult> r = run_baselines(t, split, fold);
    std::vector<std::pair<std::string, Metrics>> rows;
    for (const BaselineResult& b : r) rows.emplace_back(b.name, b.test);
    MESSAGE("fold " << fold << " test (" << split.describe(fold) << ")\n" << metrics_table(rows));
    const Metrics& drug_mean = r[0].test;
    const Metrics& cell_mean = r[1].test;
    const Metrics& additive = r[2].test;
    CHECK(r[2].info["converged"].get<bool>());
    MESSAGE("additive: " << r[2].info.dump());
    CHECK(additive.pearson > 0.88);
    CHECK(additive.rmse < 1.30);
    CHECK(additive.per_drug_pearson_mean > 0.3);  // the cell effect ranks cells within a drug
    CHECK(drug_mean.pearson > 0.80);
    CHECK(drug_mean.pearson < 0.86);
    CHECK(drug_mean.rmse < 1.65);
    CHECK(drug_mean.rmse > 1.45);
    CHECK(cell_mean.pearson < drug_mean.pearson);  // between-drug potency dominates
    CHECK(additive.rmse < drug_mean.rmse);
  }
}

TEST_CASE("GDSC2 cell-blind split: the additive model falls back to drug means for unseen cells") {
  const auto dir = test::shared_path_or_skip("data/gdsc2");
  if (dir.empty()) return;
  const ResponseTable t = read_response_folder(dir).table;
  const Split split = kfold_split(t, {SplitScheme::cell_blind, 5, 0, 0.0});
  const std::vector<BaselineResult> r = run_baselines(t, split, 0);
  // Every test cell is unseen, so cell effects are 0 and additive ~ drug-mean (up to the shrinkage
  // of the drug effects by lambda).
  CHECK(std::abs(r[2].test.rmse - r[0].test.rmse) < 0.02);
  CHECK(std::isnan(r[1].test.pearson));  // cell-mean predicts the global mean for every test pair
}
