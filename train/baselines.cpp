// Baselines: effect models (drug-mean, cell-mean, additive) and ridge (see baselines.h).
#include "train/baselines.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace dispa::train {

namespace {

size_t u(int64_t i) { return static_cast<size_t>(i); }

void check_pairs(const ResponseTable& table, std::span<const int64_t> pairs, const char* what) {
  DISPA_CHECK(!pairs.empty(), "{}: no training pairs", what);
  for (const int64_t i : pairs)
    DISPA_CHECK(i >= 0 && i < table.size(), "{}: pair index {} outside [0, {})", what, i, table.size());
}

double mean_y(const ResponseTable& table, std::span<const int64_t> pairs) {
  double s = 0;
  for (const int64_t i : pairs) s += table.pairs[u(i)].ln_ic50;
  return s / static_cast<double>(pairs.size());
}

std::vector<double> values(const ResponseTable& table, std::span<const int64_t> pairs) {
  std::vector<double> y(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) y[k] = table.pairs[u(pairs[k])].ln_ic50;
  return y;
}

std::vector<int32_t> drug_ids(const ResponseTable& table, std::span<const int64_t> pairs) {
  std::vector<int32_t> d(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) d[k] = table.pairs[u(pairs[k])].drug;
  return d;
}

// Per-group mean of y minus the global mean (0 for a group without pairs).
std::vector<double> group_offsets(const ResponseTable& table, std::span<const int64_t> pairs, bool by_drug,
                                  double global) {
  const size_t n = by_drug ? table.drug_names.size() : table.cell_ids.size();
  std::vector<double> sum(n, 0.0), count(n, 0.0);
  for (const int64_t i : pairs) {
    const ResponsePair& p = table.pairs[u(i)];
    const auto g = static_cast<size_t>(by_drug ? p.drug : p.cell);
    sum[g] += p.ln_ic50;
    count[g] += 1.0;
  }
  std::vector<double> offset(n, 0.0);
  for (size_t g = 0; g < n; ++g)
    if (count[g] > 0) offset[g] = sum[g] / count[g] - global;
  return offset;
}

// Subtracts the mean over ids with pairs from their effects and adds it to the global level.
void recentre(std::vector<double>& effect, const std::vector<double>& count, double& global) {
  double sum = 0.0, ids = 0.0;
  for (size_t g = 0; g < effect.size(); ++g)
    if (count[g] > 0) sum += effect[g], ids += 1.0;
  const double shift = sum / ids;
  for (size_t g = 0; g < effect.size(); ++g)
    if (count[g] > 0) effect[g] -= shift;
  global += shift;
}

}  // namespace

double EffectModel::predict(int32_t cell, int32_t drug) const {
  double p = global;
  if (!drug_effect.empty()) p += drug_effect[static_cast<size_t>(drug)];
  if (!cell_effect.empty()) p += cell_effect[static_cast<size_t>(cell)];
  return p;
}

std::vector<double> EffectModel::predict(const ResponseTable& table, std::span<const int64_t> pairs) const {
  std::vector<double> out(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    const ResponsePair& p = table.pairs[u(pairs[k])];
    out[k] = predict(p.cell, p.drug);
  }
  return out;
}

EffectModel fit_drug_mean(const ResponseTable& table, std::span<const int64_t> train) {
  check_pairs(table, train, "fit_drug_mean");
  EffectModel m;
  m.global = mean_y(table, train);
  m.drug_effect = group_offsets(table, train, true, m.global);
  return m;
}

EffectModel fit_cell_mean(const ResponseTable& table, std::span<const int64_t> train) {
  check_pairs(table, train, "fit_cell_mean");
  EffectModel m;
  m.global = mean_y(table, train);
  m.cell_effect = group_offsets(table, train, false, m.global);
  return m;
}

EffectModel fit_additive(const ResponseTable& table, std::span<const int64_t> train, const AdditiveOptions& o) {
  check_pairs(table, train, "fit_additive");
  DISPA_CHECK(o.lambda >= 0.0 && std::isfinite(o.lambda), "fit_additive: lambda must be >= 0, got {}", o.lambda);
  EffectModel m;
  m.global = mean_y(table, train);
  m.drug_effect.assign(table.drug_names.size(), 0.0);
  m.cell_effect.assign(table.cell_ids.size(), 0.0);
  std::vector<double> n_drug(m.drug_effect.size(), 0.0), n_cell(m.cell_effect.size(), 0.0);
  for (const int64_t i : train) {
    n_drug[static_cast<size_t>(table.pairs[u(i)].drug)] += 1.0;
    n_cell[static_cast<size_t>(table.pairs[u(i)].cell)] += 1.0;
  }
  std::vector<double> sum_drug(n_drug.size()), sum_cell(n_cell.size());
  m.converged = false;
  for (m.iterations = 1; m.iterations <= o.max_iterations; ++m.iterations) {
    double change = 0.0;
    // mu
    double s = 0.0;
    for (const int64_t i : train) {
      const ResponsePair& p = table.pairs[u(i)];
      s += p.ln_ic50 - m.drug_effect[static_cast<size_t>(p.drug)] - m.cell_effect[static_cast<size_t>(p.cell)];
    }
    const double mu = s / static_cast<double>(train.size());
    change = std::max(change, std::abs(mu - m.global));
    m.global = mu;
    // drug effects given cell effects
    std::fill(sum_drug.begin(), sum_drug.end(), 0.0);
    for (const int64_t i : train) {
      const ResponsePair& p = table.pairs[u(i)];
      sum_drug[static_cast<size_t>(p.drug)] += p.ln_ic50 - mu - m.cell_effect[static_cast<size_t>(p.cell)];
    }
    for (size_t d = 0; d < sum_drug.size(); ++d) {
      const double a = n_drug[d] > 0 ? sum_drug[d] / (n_drug[d] + o.lambda) : 0.0;
      change = std::max(change, std::abs(a - m.drug_effect[d]));
      m.drug_effect[d] = a;
    }
    // cell effects given drug effects
    std::fill(sum_cell.begin(), sum_cell.end(), 0.0);
    for (const int64_t i : train) {
      const ResponsePair& p = table.pairs[u(i)];
      sum_cell[static_cast<size_t>(p.cell)] += p.ln_ic50 - mu - m.drug_effect[static_cast<size_t>(p.drug)];
    }
    for (size_t c = 0; c < sum_cell.size(); ++c) {
      const double b = n_cell[c] > 0 ? sum_cell[c] / (n_cell[c] + o.lambda) : 0.0;
      change = std::max(change, std::abs(b - m.cell_effect[c]));
      m.cell_effect[c] = b;
    }
    // Recentre: at the optimum sum_d a_d = sum_c b_c = 0 (the mu and a_d conditions give
    // lambda sum_d a_d = sum_i r_i = 0). Moving the means of a and b into mu leaves every fitted
    // value unchanged and lowers the penalty, so it is a descent step; it removes the slow drift
    // of the level between mu, a and b that plain sweeps shed only at rate ~lambda / n.
    recentre(m.drug_effect, n_drug, m.global);
    recentre(m.cell_effect, n_cell, m.global);
    if (change <= o.tolerance) {
      m.converged = true;
      break;
    }
  }
  m.iterations = std::min(m.iterations, o.max_iterations);
  return m;
}

// ---- ridge -----------------------------------------------------------------------------------

namespace {

// Standardises a centred, unscaled system in place: gram_jk / (s_j s_k), rhs_j / s_j; a constant
// column (scale 0) becomes an identity row with rhs 0, so its weight is 0 for every lambda.
void standardise(RidgeSystem& sys, const std::vector<bool>& constant_column) {
  const int64_t f = static_cast<int64_t>(sys.mean.size());
  for (int64_t j = 0; j < f; ++j) {
    const double var = sys.gram.at(j, j) / static_cast<double>(sys.n);
    sys.scale[u(j)] = constant_column[u(j)] || !(var > 0.0) ? 0.0 : std::sqrt(var);
  }
  for (int64_t j = 0; j < f; ++j) {
    const double sj = sys.scale[u(j)];
    for (int64_t k = 0; k <= j; ++k) {
      const double sk = sys.scale[u(k)];
      double g = (sj > 0 && sk > 0) ? sys.gram.at(j, k) / (sj * sk) : 0.0;
      if (j == k && sj == 0.0) g = 1.0;
      sys.gram.at(j, k) = g;
      sys.gram.at(k, j) = g;
    }
    sys.rhs[u(j)] = sj > 0 ? sys.rhs[u(j)] / sj : 0.0;
  }
}

}  // namespace

RidgeSystem ridge_system(const Matrix& x, std::span<const double> y) {
  DISPA_CHECK(x.rows == static_cast<int64_t>(y.size()), "ridge_system: {} feature rows but {} targets", x.rows,
              y.size());
  DISPA_CHECK(x.rows > 0 && x.cols > 0, "ridge_system: empty design matrix [{}, {}]", x.rows, x.cols);
  const int64_t n = x.rows, f = x.cols;
  RidgeSystem sys;
  sys.n = n;
  sys.mean.assign(u(f), 0.0);
  sys.scale.assign(u(f), 0.0);
  sys.rhs.assign(u(f), 0.0);
  sys.gram = Matrix(f, f);
  for (const double v : y) sys.y_mean += v;
  sys.y_mean /= static_cast<double>(n);
  std::vector<bool> constant(u(f), true);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < f; ++j) {
      sys.mean[u(j)] += x.at(i, j);
      if (x.at(i, j) != x.at(0, j)) constant[u(j)] = false;
    }
  for (double& m : sys.mean) m /= static_cast<double>(n);
  std::vector<double> z(u(f));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < f; ++j) z[u(j)] = x.at(i, j) - sys.mean[u(j)];
    const double r = y[u(i)] - sys.y_mean;
    for (int64_t j = 0; j < f; ++j) {
      double* g = sys.gram.row(j);
      const double zj = z[u(j)];
      for (int64_t k = 0; k <= j; ++k) g[k] += zj * z[u(k)];
      sys.rhs[u(j)] += zj * r;
    }
  }
  standardise(sys, constant);
  return sys;
}

RidgeSystem ridge_system(const PairFeatures& features, const ResponseTable& table, std::span<const int64_t> pairs) {
  DISPA_CHECK(features.cell && features.drug, "ridge_system: pair features need both a cell and a drug matrix");
  const Matrix& cx = *features.cell;
  const Matrix& dx = *features.drug;
  DISPA_CHECK(cx.rows == table.num_cells() && dx.rows == table.num_drugs(),
              "ridge_system: feature rows ({} cell, {} drug) must match the table's {} cells and {} drugs", cx.rows,
              dx.rows, table.num_cells(), table.num_drugs());
  check_pairs(table, pairs, "ridge_system");
  const int64_t fc = cx.cols, fd = dx.cols, f = fc + fd;
  DISPA_CHECK(f > 0, "ridge_system: no features");

  RidgeSystem sys;
  sys.n = static_cast<int64_t>(pairs.size());
  sys.mean.assign(u(f), 0.0);
  sys.scale.assign(u(f), 0.0);
  sys.rhs.assign(u(f), 0.0);
  sys.gram = Matrix(f, f);
  sys.y_mean = mean_y(table, pairs);

  // Pair counts and residual sums per cell and per drug.
  std::vector<double> n_cell(u(cx.rows), 0.0), n_drug(u(dx.rows), 0.0), r_cell(n_cell.size(), 0.0),
      r_drug(n_drug.size(), 0.0);
  for (const int64_t i : pairs) {
    const ResponsePair& p = table.pairs[u(i)];
    n_cell[static_cast<size_t>(p.cell)] += 1.0;
    n_drug[static_cast<size_t>(p.drug)] += 1.0;
    r_cell[static_cast<size_t>(p.cell)] += p.ln_ic50 - sys.y_mean;
    r_drug[static_cast<size_t>(p.drug)] += p.ln_ic50 - sys.y_mean;
  }
  // Pair-weighted means, constant-column flags, and centred copies of the feature rows.
  std::vector<bool> constant(u(f), true);
  auto centre = [&](const Matrix& m, const std::vector<double>& w, int64_t offset) {
    Matrix c = m;
    int64_t first = -1;
    for (int64_t r = 0; r < m.rows; ++r) {
      if (w[u(r)] == 0.0) continue;
      if (first < 0) first = r;
      for (int64_t j = 0; j < m.cols; ++j) {
        sys.mean[u(offset + j)] += w[u(r)] * m.at(r, j);
        if (m.at(r, j) != m.at(first, j)) constant[u(offset + j)] = false;
      }
    }
    for (int64_t j = 0; j < m.cols; ++j) sys.mean[u(offset + j)] /= static_cast<double>(sys.n);
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t j = 0; j < m.cols; ++j) c.at(r, j) -= sys.mean[u(offset + j)];
    return c;
  };
  const Matrix cc = centre(cx, n_cell, 0), dc = centre(dx, n_drug, fc);

  // Diagonal blocks: sum over ids of count * row row^T (lower triangle), and the right-hand side.
  auto diagonal_block = [&](const Matrix& m, const std::vector<double>& w, const std::vector<double>& r,
                            int64_t offset) {
#pragma omp parallel for schedule(dynamic, 16)
    for (int64_t j = 0; j < m.cols; ++j) {
      double* g = sys.gram.row(offset + j) + offset;
      for (int64_t id = 0; id < m.rows; ++id) {
        if (w[u(id)] == 0.0) continue;
        const double* row = m.row(id);
        const double a = w[u(id)] * row[j];
        for (int64_t k = 0; k <= j; ++k) g[k] += a * row[k];
      }
      double s = 0.0;
      for (int64_t id = 0; id < m.rows; ++id) s += m.at(id, j) * r[u(id)];
      sys.rhs[u(offset + j)] = s;
    }
  };
  diagonal_block(cc, n_cell, r_cell, 0);
  diagonal_block(dc, n_drug, r_drug, fc);

  // Cross block (drug rows, cell columns): sum_c (sum of centred drug rows paired with c) x cc_c.
  Matrix drug_sum(cx.rows, fd);
  for (const int64_t i : pairs) {
    const ResponsePair& p = table.pairs[u(i)];
    double* s = drug_sum.row(p.cell);
    const double* d = dc.row(p.drug);
    for (int64_t k = 0; k < fd; ++k) s[k] += d[k];
  }
#pragma omp parallel for schedule(static)
  for (int64_t k = 0; k < fd; ++k) {
    double* g = sys.gram.row(fc + k);
    for (int64_t c = 0; c < cx.rows; ++c) {
      const double s = drug_sum.at(c, k);
      if (s == 0.0) continue;
      const double* row = cc.row(c);
      for (int64_t j = 0; j < fc; ++j) g[j] += s * row[j];
    }
  }
  standardise(sys, constant);
  return sys;
}

RidgeModel solve_ridge(const RidgeSystem& sys, double lambda) {
  DISPA_CHECK(lambda >= 0.0 && std::isfinite(lambda), "solve_ridge: lambda must be >= 0, got {}", lambda);
  Matrix a = sys.gram;
  for (int64_t j = 0; j < a.rows; ++j)
    if (sys.scale[u(j)] > 0) a.at(j, j) += lambda;
  cholesky_factor(a);
  RidgeModel m;
  m.lambda = lambda;
  m.intercept = sys.y_mean;
  m.mean = sys.mean;
  m.scale = sys.scale;
  m.weights = cholesky_solve(a, sys.rhs);
  return m;
}

double RidgeModel::predict(const double* x) const {
  double p = intercept;
  for (size_t j = 0; j < weights.size(); ++j)
    if (scale[j] > 0) p += weights[j] * (x[j] - mean[j]) / scale[j];
  return p;
}

std::vector<double> predict_ridge(const RidgeModel& model, const PairFeatures& f, const ResponseTable& table,
                                  std::span<const int64_t> pairs) {
  DISPA_CHECK(static_cast<int64_t>(model.weights.size()) == f.cols(),
              "predict_ridge: model has {} weights, the features {} columns", model.weights.size(), f.cols());
  // The prediction splits into a cell part and a drug part: compute each once per id.
  auto partial = [&](const Matrix& m, size_t offset) {
    std::vector<double> out(u(m.rows), 0.0);
    for (int64_t r = 0; r < m.rows; ++r)
      for (int64_t j = 0; j < m.cols; ++j) {
        const size_t k = offset + u(j);
        if (model.scale[k] > 0) out[u(r)] += model.weights[k] * (m.at(r, j) - model.mean[k]) / model.scale[k];
      }
    return out;
  };
  const std::vector<double> cell_part = partial(*f.cell, 0), drug_part = partial(*f.drug, u(f.cell->cols));
  std::vector<double> out(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    const ResponsePair& p = table.pairs[u(pairs[k])];
    out[k] = model.intercept + cell_part[static_cast<size_t>(p.cell)] + drug_part[static_cast<size_t>(p.drug)];
  }
  return out;
}

std::vector<double> default_ridge_grid() { return {1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6}; }

namespace {
template <typename Predict>
RidgeSelection select_lambda(const RidgeSystem& sys, std::span<const double> grid, std::span<const double> y_val,
                             Predict predict_val) {
  DISPA_CHECK(!grid.empty(), "fit_ridge: empty lambda grid");
  DISPA_CHECK(!y_val.empty() || grid.size() == 1, "fit_ridge: choosing lambda from {} values needs validation rows",
              grid.size());
  RidgeSelection out;
  double best = 0.0;
  std::vector<double> sorted(grid.begin(), grid.end());
  std::sort(sorted.begin(), sorted.end());
  for (const double lambda : sorted) {
    RidgeModel m = solve_ridge(sys, lambda);
    const double e = y_val.empty() ? 0.0 : rmse(y_val, predict_val(m));
    out.val_rmse.emplace_back(lambda, e);
    if (out.val_rmse.size() == 1 || e <= best) {  // <=: ties go to the larger lambda
      best = e;
      out.model = std::move(m);
    }
  }
  return out;
}
}  // namespace

RidgeSelection fit_ridge(const Matrix& x_train, std::span<const double> y_train, const Matrix& x_val,
                         std::span<const double> y_val, std::span<const double> grid) {
  DISPA_CHECK(x_val.rows == static_cast<int64_t>(y_val.size()), "fit_ridge: {} validation rows but {} targets",
              x_val.rows, y_val.size());
  DISPA_CHECK(x_val.rows == 0 || x_val.cols == x_train.cols, "fit_ridge: {} validation columns, {} training columns",
              x_val.cols, x_train.cols);
  const RidgeSystem sys = ridge_system(x_train, y_train);
  return select_lambda(sys, grid, y_val, [&](const RidgeModel& m) {
    std::vector<double> p(u(x_val.rows));
    for (int64_t i = 0; i < x_val.rows; ++i) p[u(i)] = m.predict(x_val.row(i));
    return p;
  });
}

RidgeSelection fit_ridge(const PairFeatures& features, const ResponseTable& table, std::span<const int64_t> train,
                         std::span<const int64_t> val, std::span<const double> grid) {
  const RidgeSystem sys = ridge_system(features, table, train);
  const std::vector<double> y_val = values(table, val);
  return select_lambda(sys, grid, y_val,
                       [&](const RidgeModel& m) { return predict_ridge(m, features, table, val); });
}

// ---- all baselines on one fold -----------------------------------------------------------------

std::vector<BaselineResult> run_baselines(const ResponseTable& table, const Split& split, int fold,
                                          const BaselineOptions& options) {
  DISPA_CHECK(fold >= 0 && fold < split.folds(), "run_baselines: fold {} outside [0, {})", fold, split.folds());
  DISPA_CHECK(split.num_pairs() == table.size(), "run_baselines: split has {} pairs, the table {}", split.num_pairs(),
              table.size());
  const std::vector<int64_t> train = split.indices(fold, Role::train);
  const std::vector<int64_t> val = split.indices(fold, Role::val);
  const std::vector<int64_t> test = split.indices(fold, Role::test);
  const std::vector<double> y_val = values(table, val), y_test = values(table, test);
  const std::vector<int32_t> d_val = drug_ids(table, val), d_test = drug_ids(table, test);

  std::vector<BaselineResult> out;
  auto add = [&](std::string name, const std::vector<double>& p_val, const std::vector<double>& p_test,
                 nlohmann::json info) {
    BaselineResult r;
    r.name = std::move(name);
    if (!val.empty()) r.val = compute_metrics(y_val, p_val, d_val);
    r.test = compute_metrics(y_test, p_test, d_test);
    r.info = std::move(info);
    out.push_back(std::move(r));
  };
  const EffectModel drug_mean = fit_drug_mean(table, train);
  add("drug_mean", drug_mean.predict(table, val), drug_mean.predict(table, test), nlohmann::json::object());
  const EffectModel cell_mean = fit_cell_mean(table, train);
  add("cell_mean", cell_mean.predict(table, val), cell_mean.predict(table, test), nlohmann::json::object());
  const EffectModel additive = fit_additive(table, train, options.additive);
  add("additive", additive.predict(table, val), additive.predict(table, test),
      {{"lambda", options.additive.lambda}, {"iterations", additive.iterations}, {"converged", additive.converged}});
  if (options.ridge_features) {
    const RidgeSelection sel = fit_ridge(*options.ridge_features, table, train, val, options.ridge_grid);
    nlohmann::json grid = nlohmann::json::array();
    for (const auto& [lambda, e] : sel.val_rmse) grid.push_back({{"lambda", lambda}, {"val_rmse", e}});
    add("ridge", predict_ridge(sel.model, *options.ridge_features, table, val),
        predict_ridge(sel.model, *options.ridge_features, table, test),
        {{"lambda", sel.model.lambda}, {"features", options.ridge_features->cols()}, {"grid", grid}});
  }
  return out;
}

nlohmann::json baselines_to_json(const std::vector<BaselineResult>& results, Role role) {
  DISPA_CHECK(role == Role::test || role == Role::val, "baselines_to_json: role must be test or val");
  nlohmann::json j = nlohmann::json::object();
  for (const BaselineResult& r : results) {
    if (role == Role::test) j[r.name] = metrics_to_json(r.test);
    else if (r.val) j[r.name] = metrics_to_json(*r.val);
  }
  return j;
}

}  // namespace dispa::train
