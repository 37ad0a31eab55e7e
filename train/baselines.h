// Baselines fitted on a split's training pairs, reported beside the model in every run
// (DESIGN.md, "Evaluation"): drug-mean, cell-mean, the additive drug + cell effect model, and ridge
// regression on features supplied by the caller (e.g. [pathway scores, drug fingerprint]).
//
// Effect models predict  global + drug_effect[drug] + cell_effect[cell]; an id without training
// pairs contributes 0, so an unseen drug/cell falls back to the global training mean.
//   drug-mean: global = mean y, drug_effect = mean of the drug's y - global, no cell effect.
//   cell-mean: the same per cell line.
//   additive:  minimises  sum_i (y_i - mu - a_{d(i)} - b_{c(i)})^2 + lambda (sum_d a_d^2 + sum_c b_c^2)
//              by backfitting (block coordinate descent; Hastie & Tibshirani 1990, ch. 4):
//                mu  <- mean_i (y_i - a_{d(i)} - b_{c(i)})
//                a_d <- sum_{i in d} (y_i - mu - b_{c(i)}) / (n_d + lambda)
//                b_c <- sum_{i in c} (y_i - mu - a_{d(i)}) / (n_c + lambda)
//              until no parameter moves by more than `tolerance`. The objective is strictly convex
//              for lambda > 0, so the sweeps converge to its unique minimiser. The small ridge
//              (default lambda = 1, against hundreds of pairs per drug and tens per cell) makes the
//              solution unique (mu vs. effects) and shrinks effects of ids with few pairs.
//
// Ridge: features are standardised with the training rows' mean and population SD (a constant
// column gets weight 0), the intercept is the training mean of y, and the weights solve
//   (Z^T Z + lambda I) w = Z^T (y - ybar)
// by Cholesky (train/dense_matrix.h). lambda is the grid value with the lowest validation RMSE
// (ties: the larger lambda); the model is fitted on the training rows only. For pair features
// [cell_x[cell], drug_x[drug]] the Gram matrix is assembled from per-cell and per-drug sums in
// O(cells * Fc^2 + drugs * Fd^2 + pairs * Fd + cells * Fc * Fd), never materialising the
// pairs x (Fc + Fd) design matrix (82k pairs x 2k features would be 1.3 GB).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "train/dense_matrix.h"
#include "train/metrics.h"
#include "train/response.h"
#include "train/splits.h"

namespace dispa::train {

struct EffectModel {
  double global = 0.0;
  std::vector<double> drug_effect;  // [table.num_drugs()]
  std::vector<double> cell_effect;  // [table.num_cells()]
  int iterations = 0;               // backfitting sweeps (additive only)
  bool converged = true;

  double predict(int32_t cell, int32_t drug) const;
  std::vector<double> predict(const ResponseTable& table, std::span<const int64_t> pairs) const;
};

EffectModel fit_drug_mean(const ResponseTable& table, std::span<const int64_t> train);
EffectModel fit_cell_mean(const ResponseTable& table, std::span<const int64_t> train);

struct AdditiveOptions {
  double lambda = 1.0;
  int max_iterations = 500;
  double tolerance = 1e-9;
};
EffectModel fit_additive(const ResponseTable& table, std::span<const int64_t> train,
                         const AdditiveOptions& options = {});

// ---- ridge -----------------------------------------------------------------------------------

// The standardised normal equations: gram = Z^T Z, rhs = Z^T (y - ybar).
struct RidgeSystem {
  int64_t n = 0;
  double y_mean = 0.0;
  std::vector<double> mean, scale;  // per feature; scale 0 marks a constant column
  Matrix gram;
  std::vector<double> rhs;
};

struct RidgeModel {
  double lambda = 0.0;
  double intercept = 0.0;
  std::vector<double> mean, scale, weights;  // prediction = intercept + sum_j w_j (x_j - mean_j) / scale_j
  double predict(const double* x) const;
};

// Rows of x (one per example) against y.
RidgeSystem ridge_system(const Matrix& x, std::span<const double> y);
RidgeModel solve_ridge(const RidgeSystem& system, double lambda);

// Pair features: the row of pair i is [cell[table.pairs[i].cell], drug[table.pairs[i].drug]];
// cell has table.num_cells() rows and drug has table.num_drugs() rows (the caller aligns them to
// the table's ids; rows of ids without pairs are ignored).
struct PairFeatures {
  const Matrix* cell = nullptr;
  const Matrix* drug = nullptr;
  int64_t cols() const { return cell->cols + drug->cols; }
};
RidgeSystem ridge_system(const PairFeatures& features, const ResponseTable& table, std::span<const int64_t> pairs);
std::vector<double> predict_ridge(const RidgeModel& model, const PairFeatures& features, const ResponseTable& table,
                                  std::span<const int64_t> pairs);

// 10^-2 ... 10^6 (9 values).
std::vector<double> default_ridge_grid();

struct RidgeSelection {
  RidgeModel model;                                      // fitted with the chosen lambda
  std::vector<std::pair<double, double>> val_rmse;       // (lambda, validation RMSE) per grid value
};
// Chooses lambda on the validation rows (needs at least one unless the grid has one value).
RidgeSelection fit_ridge(const Matrix& x_train, std::span<const double> y_train, const Matrix& x_val,
                         std::span<const double> y_val, std::span<const double> grid);
RidgeSelection fit_ridge(const PairFeatures& features, const ResponseTable& table, std::span<const int64_t> train,
                         std::span<const int64_t> val, std::span<const double> grid);

// ---- all baselines on one fold -----------------------------------------------------------------

struct BaselineOptions {
  AdditiveOptions additive;
  const PairFeatures* ridge_features = nullptr;  // null: no ridge baseline
  std::vector<double> ridge_grid = default_ridge_grid();
};

struct BaselineResult {
  std::string name;            // "drug_mean", "cell_mean", "additive", "ridge"
  std::optional<Metrics> val;  // absent when the fold has no validation pairs
  Metrics test;
  nlohmann::json info;         // e.g. {"lambda": 100} for ridge, {"iterations": 12} for additive
};

// Fits every baseline on the fold's training pairs and scores validation and test pairs.
std::vector<BaselineResult> run_baselines(const ResponseTable& table, const Split& split, int fold,
                                          const BaselineOptions& options = {});
// {"drug_mean": {metrics of `role`}, ...}; role is Role::test or Role::val (a baseline without
// validation metrics is left out of the latter).
nlohmann::json baselines_to_json(const std::vector<BaselineResult>& results, Role role = Role::test);

}  // namespace dispa::train
