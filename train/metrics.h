// Regression metrics for drug response, computed in double precision.
//
//   RMSE = sqrt(mean (y - p)^2)          MAE = mean |y - p|
//   Pearson r = sum (y - ybar)(p - pbar) / sqrt(sum (y - ybar)^2 sum (p - pbar)^2)   (two-pass)
//   Spearman rho = Pearson r of the ranks; tied values get the average of their ranks (the
//                  "fractional ranking" of scipy.stats.spearmanr / rankdata(method="average"))
//   R^2 = 1 - sum (y - p)^2 / sum (y - ybar)^2     (sklearn's r2_score; can be negative)
//
// Per-drug Pearson: global Pearson on GDSC is dominated by between-drug potency differences (a
// drug-mean predictor already scores ~0.83), so we also correlate within each drug. A drug enters
// when it has >= 3 pairs and its measured values are not all equal. If its predictions are all
// equal (a drug-mean predictor, for instance), its Pearson is undefined and is counted as 0: a
// constant predictor carries no within-drug information. We report the mean and the median
// (average of the two middle values for an even count) over the drugs that enter, and how many
// entered. With no drug entering, both are NaN.
//
// Undefined values are NaN, never a throw: Pearson/Spearman with a constant side, R^2 with
// constant y, and every correlation when a prediction is NaN or infinite. In JSON, NaN is null.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace dispa::train {

struct Metrics {
  int64_t n = 0;
  double rmse = 0, mae = 0, pearson = 0, spearman = 0, r2 = 0;
  double per_drug_pearson_mean = 0, per_drug_pearson_median = 0;
  int64_t drugs_scored = 0;  // drugs that entered the per-drug statistics
};

// Inputs must have equal, non-zero lengths (throws otherwise, naming the function and sizes).
double rmse(std::span<const double> y, std::span<const double> p);
double mae(std::span<const double> y, std::span<const double> p);
double pearson(std::span<const double> y, std::span<const double> p);
double spearman(std::span<const double> y, std::span<const double> p);
double r2_score(std::span<const double> y, std::span<const double> p);
// 1-based ranks with ties averaged; x must be free of NaN (throws otherwise: NaN has no order).
std::vector<double> average_ranks(std::span<const double> x);

// Pearson per drug (drug[i] is any integer id), with the entry rule of the header comment.
// Returns (drug id, r) for the drugs that entered, ordered by drug id.
std::vector<std::pair<int32_t, double>> per_drug_pearson(std::span<const double> y, std::span<const double> p,
                                                         std::span<const int32_t> drug);

// All metrics at once.
Metrics compute_metrics(std::span<const double> y, std::span<const double> p, std::span<const int32_t> drug);

// {"n", "rmse", "mae", "pearson", "spearman", "r2", "per_drug_pearson_mean",
//  "per_drug_pearson_median", "drugs_scored"}; NaN becomes null.
nlohmann::json metrics_to_json(const Metrics& m);
Metrics metrics_from_json(const nlohmann::json& j);  // null becomes NaN

// Writes JSON (2-space indent) atomically: a temp file beside `file`, then rename, so a reader never
// sees half a metrics.json.
void write_json_file(const std::filesystem::path& file, const nlohmann::json& j);

// A fixed-width table, one row per (name, metrics), NaN shown as "n/a":
//   model           n    RMSE     MAE  Pearson  Spearman      R2  drug-r mean  drug-r median
std::string metrics_table(const std::vector<std::pair<std::string, Metrics>>& rows);

}  // namespace dispa::train
