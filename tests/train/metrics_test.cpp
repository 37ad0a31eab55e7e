// Metrics against hand-computed values (worked out in the comments), ties, per-drug Pearson's entry
// rule, undefined cases (NaN, never a throw) and the JSON form.
#include <cmath>
#include <limits>

#include <doctest/doctest.h>

#include "engine/error.h"
#include "train/metrics.h"

using namespace dispa;
using namespace dispa::train;

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
bool close(double a, double b, double tol = 1e-12) { return std::abs(a - b) <= tol; }
}  // namespace

TEST_CASE("metrics: hand-computed values") {
  // y = 1 2 3 4, p = 1 3 2 5: errors 0 -1 1 -1.
  const std::vector<double> y{1, 2, 3, 4}, p{1, 3, 2, 5};
  CHECK(close(rmse(y, p), std::sqrt(0.75)));  // sum e^2 = 3
  CHECK(close(mae(y, p), 0.75));
  // ybar 2.5, pbar 2.75; sum dy dp = 5.5, sum dy^2 = 5, sum dp^2 = 8.75.
  CHECK(close(pearson(y, p), 5.5 / std::sqrt(5.0 * 8.75)));
  CHECK(close(pearson(y, p), 0.8315218406202999, 1e-15));
  // No ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) with rank differences 0 1 -1 0.
  CHECK(close(spearman(y, p), 1.0 - 6.0 * 2.0 / (4.0 * 15.0)));
  CHECK(close(r2_score(y, p), 1.0 - 3.0 / 5.0));
  // Perfect and anti-correlated.
  CHECK(close(pearson(y, std::vector<double>{2, 4, 6, 8}), 1.0));
  CHECK(close(spearman(y, std::vector<double>{40, 30, 20, 10}), -1.0));
  CHECK(close(r2_score(y, y), 1.0));
  // R^2 is negative for a predictor worse than the mean: p = 4 3 2 1, sum e^2 = 9 + 1 + 1 + 9 = 20.
  CHECK(close(r2_score(y, std::vector<double>{4, 3, 2, 1}), 1.0 - 20.0 / 5.0));
}

TEST_CASE("average ranks and Spearman with ties") {
  CHECK(average_ranks(std::vector<double>{10, 20, 20, 30}) == std::vector<double>{1, 2.5, 2.5, 4});
  CHECK(average_ranks(std::vector<double>{5, 5, 5}) == std::vector<double>{2, 2, 2});
  CHECK(average_ranks(std::vector<double>{3, 1, 2, 1}) == std::vector<double>{4, 1.5, 3, 1.5});
  // y ranks 1 2.5 2.5 4 vs p ranks 1 2 3 4: centred -1.5 0 0 1.5 and -1.5 -.5 .5 1.5;
  // sum products 4.5, sums of squares 4.5 and 5 -> 4.5 / sqrt(22.5).
  CHECK(close(spearman(std::vector<double>{1, 2, 2, 3}, std::vector<double>{1, 2, 3, 4}), 4.5 / std::sqrt(22.5)));
  CHECK_THROWS_AS(average_ranks(std::vector<double>{1, kNaN}), Error);
}

TEST_CASE("per-drug Pearson: entry rule, constant predictions count as 0") {
  // drug 0: y 1 2 3, p 1 2 4 -> sum dy dp = 3, sum dy^2 = 2, sum dp^2 = 42/9 -> 3 / sqrt(2 * 42 / 9).
  // drug 1: y 3 2 1 0, p 0 1 2 3 -> -1.
  // drug 2: two pairs -> left out.  drug 3: constant y -> left out.
  // drug 4: y 1 2 3, p constant -> 0.
  const std::vector<int32_t> d{0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4};
  const std::vector<double> y{1, 2, 3, 3, 2, 1, 0, 1, 2, 5, 5, 5, 1, 2, 3};
  const std::vector<double> p{1, 2, 4, 0, 1, 2, 3, 2, 1, 1, 2, 3, 2, 2, 2};
  const double r0 = 3.0 / std::sqrt(2.0 * 42.0 / 9.0);
  const auto per = per_drug_pearson(y, p, d);
  REQUIRE(per.size() == 3);
  CHECK(per[0].first == 0);
  CHECK(close(per[0].second, r0));
  CHECK(per[1].first == 1);
  CHECK(close(per[1].second, -1.0));
  CHECK(per[2].first == 4);
  CHECK(per[2].second == 0.0);
  const Metrics m = compute_metrics(y, p, d);
  CHECK(m.n == 15);
  CHECK(m.drugs_scored == 3);
  CHECK(close(m.per_drug_pearson_mean, (r0 - 1.0 + 0.0) / 3.0));
  CHECK(m.per_drug_pearson_median == 0.0);
  // Even count: median is the mean of the middle two (drug 4 dropped by giving it 2 pairs).
  const std::vector<int32_t> d2{0, 0, 0, 1, 1, 1, 1};
  const std::vector<double> y2(y.begin(), y.begin() + 7), p2(p.begin(), p.begin() + 7);
  CHECK(close(compute_metrics(y2, p2, d2).per_drug_pearson_median, 0.5 * (r0 - 1.0)));
}

TEST_CASE("metrics: undefined cases are NaN, size errors throw") {
  const std::vector<double> y{1, 2, 3};
  CHECK(std::isnan(pearson(y, std::vector<double>{2, 2, 2})));
  CHECK(std::isnan(spearman(y, std::vector<double>{2, 2, 2})));
  CHECK(std::isnan(r2_score(std::vector<double>{1, 1, 1}, y)));
  CHECK(std::isnan(pearson(y, std::vector<double>{1, kNaN, 3})));
  CHECK(std::isnan(spearman(y, std::vector<double>{1, kNaN, 3})));  // no throw: NaN is not ranked
  CHECK(std::isnan(rmse(y, std::vector<double>{1, kNaN, 3})));
  CHECK(std::isnan(pearson(y, std::vector<double>{1, std::numeric_limits<double>::infinity(), 3})));
  const Metrics m = compute_metrics(y, std::vector<double>{1, kNaN, 3}, std::vector<int32_t>{0, 0, 0});
  CHECK(std::isnan(m.per_drug_pearson_mean));
  // No drug enters: NaN, and zero drugs scored.
  const Metrics none = compute_metrics(y, y, std::vector<int32_t>{0, 1, 2});
  CHECK(none.drugs_scored == 0);
  CHECK(std::isnan(none.per_drug_pearson_median));
  CHECK_THROWS_AS(rmse(y, std::vector<double>{1, 2}), Error);
  CHECK_THROWS_AS(pearson(std::vector<double>{}, std::vector<double>{}), Error);
  CHECK_THROWS_AS(per_drug_pearson(y, y, std::vector<int32_t>{0}), Error);
}

TEST_CASE("metrics JSON keys, NaN as null, round trip, table") {
  Metrics m;
  m.n = 4;
  m.rmse = 1.25;
  m.mae = 1.0;
  m.pearson = 0.9;
  m.spearman = 0.8;
  m.r2 = 0.5;
  m.per_drug_pearson_mean = kNaN;
  m.per_drug_pearson_median = 0.25;
  m.drugs_scored = 1;
  const nlohmann::json j = metrics_to_json(m);
  for (const char* key : {"rmse", "mae", "pearson", "spearman", "r2", "per_drug_pearson_mean",
                          "per_drug_pearson_median", "n", "drugs_scored"})
    CHECK(j.contains(key));
  CHECK(j["per_drug_pearson_mean"].is_null());
  CHECK(j["rmse"].get<double>() == 1.25);
  const Metrics back = metrics_from_json(nlohmann::json::parse(j.dump()));
  CHECK(back.rmse == 1.25);
  CHECK(std::isnan(back.per_drug_pearson_mean));
  CHECK(back.drugs_scored == 1);

  const std::string table = metrics_table({{"additive", m}, {"drug_mean", m}});
  CHECK(table.find("RMSE") != std::string::npos);
  CHECK(table.find("additive") != std::string::npos);
  CHECK(table.find("1.2500") != std::string::npos);
  CHECK(table.find("n/a") != std::string::npos);
}
