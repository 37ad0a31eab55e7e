// Baselines: mean predictors by hand, the additive model against a direct solve of its penalised
// normal equations, ridge by hand and the pair-structured Gram against the materialised design,
// lambda selection, Cholesky, and the per-fold runner's JSON.
#include <cmath>
#include <random>

#include <doctest/doctest.h>

#include "engine/error.h"
#include "train/baselines.h"

using namespace dispa;
using namespace dispa::train;

namespace {

bool close(double a, double b, double tol) { return std::abs(a - b) <= tol; }

std::vector<int64_t> all_pairs(const ResponseTable& t) {
  std::vector<int64_t> v(static_cast<size_t>(t.size()));
  for (int64_t i = 0; i < t.size(); ++i) v[static_cast<size_t>(i)] = i;
  return v;
}

// cells x drugs with holes, y = mu + a_d + b_c + noise * N(0, 1) (std::mt19937_64 with a fixed seed;
// the test only needs some fixed numbers, not cross-platform identical ones).
ResponseTable additive_table(int cells, int drugs, double noise, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> a(static_cast<size_t>(drugs)), b(static_cast<size_t>(cells));
  for (double& v : a) v = 2.0 * normal(rng);
  for (double& v : b) v = normal(rng);
  ResponseTable t;
  for (int c = 0; c < cells; ++c)
    for (int d = 0; d < drugs; ++d)
      if ((c + 2 * d) % 5 != 0 || c == 0 || d == 0)
        t.add(fmt::format("C{}", c), fmt::format("D{}", d), 2.5 + a[static_cast<size_t>(d)] +
                                                                    b[static_cast<size_t>(c)] + noise * normal(rng));
  return t;
}

}  // namespace

TEST_CASE("drug-mean and cell-mean: hand values, unseen ids fall back to the global mean") {
  ResponseTable t;
  t.add("C1", "A", 1.0);
  t.add("C2", "A", 3.0);
  t.add("C1", "B", 5.0);
  t.add("C3", "C", 100.0);  // index 3: held out
  const std::vector<int64_t> train{0, 1, 2};
  const EffectModel dm = fit_drug_mean(t, train);
  CHECK(close(dm.global, 3.0, 1e-12));
  CHECK(close(dm.predict(t.find_cell("C1"), t.find_drug("A")), 2.0, 1e-12));
  CHECK(close(dm.predict(t.find_cell("C2"), t.find_drug("B")), 5.0, 1e-12));
  CHECK(close(dm.predict(t.find_cell("C3"), t.find_drug("C")), 3.0, 1e-12));  // unseen drug
  const EffectModel cm = fit_cell_mean(t, train);
  CHECK(close(cm.predict(t.find_cell("C1"), t.find_drug("C")), 3.0, 1e-12));  // (1 + 5) / 2
  CHECK(close(cm.predict(t.find_cell("C2"), t.find_drug("A")), 3.0, 1e-12));
  CHECK(close(cm.predict(t.find_cell("C3"), t.find_drug("A")), 3.0, 1e-12));  // unseen cell
  const std::vector<double> p = dm.predict(t, std::vector<int64_t>{3, 0});
  CHECK(p == std::vector<double>{dm.predict(2, 2), dm.predict(0, 0)});
  CHECK_THROWS_AS(fit_drug_mean(t, std::vector<int64_t>{}), Error);
  CHECK_THROWS_AS(fit_drug_mean(t, std::vector<int64_t>{7}), Error);
}

TEST_CASE("additive: recovers an exactly additive table, including unmeasured pairs") {
  const ResponseTable t = additive_table(20, 8, 0.0, 1);
  std::vector<int64_t> train, test;
  for (int64_t i = 0; i < t.size(); ++i) (i % 4 == 0 ? test : train).push_back(i);
  // With lambda -> 0 the split of the level between mu, the drug and the cell effects drifts slowly
  // (the sweeps need not reach the parameter tolerance), but every prediction mu + a + b is fixed.
  const EffectModel m = fit_additive(t, train, {1e-9, 2000, 1e-13});
  const std::vector<double> p = m.predict(t, test);
  for (size_t k = 0; k < test.size(); ++k) CHECK(close(p[k], t.pairs[static_cast<size_t>(test[k])].ln_ic50, 1e-6));
}

TEST_CASE("additive with lambda = 1 matches a direct solve of the penalised normal equations") {
  const ResponseTable t = additive_table(12, 6, 0.7, 2);
  const std::vector<int64_t> train = all_pairs(t);
  const double lambda = 1.0;
  const EffectModel m = fit_additive(t, train, {lambda, 10000, 1e-13});
  REQUIRE(m.converged);
  // Unknowns [mu, a_0..a_5, b_0..b_11]; design row = [1, onehot(drug), onehot(cell)];
  // (X^T X + lambda diag(0, 1, ..., 1)) theta = X^T y.
  const int64_t nd = t.num_drugs(), nc = t.num_cells(), k = 1 + nd + nc;
  Matrix a(k, k);
  std::vector<double> rhs(static_cast<size_t>(k), 0.0);
  for (const ResponsePair& p : t.pairs) {
    const int64_t idx[3] = {0, 1 + p.drug, 1 + nd + p.cell};
    for (const int64_t r : idx) {
      rhs[static_cast<size_t>(r)] += p.ln_ic50;
      for (const int64_t c : idx) a.at(r, c) += 1.0;
    }
  }
  for (int64_t j = 1; j < k; ++j) a.at(j, j) += lambda;
  cholesky_factor(a);
  const std::vector<double> theta = cholesky_solve(a, rhs);
  CHECK(close(m.global, theta[0], 1e-8));
  for (int64_t d = 0; d < nd; ++d) CHECK(close(m.drug_effect[static_cast<size_t>(d)], theta[static_cast<size_t>(1 + d)], 1e-8));
  for (int64_t c = 0; c < nc; ++c)
    CHECK(close(m.cell_effect[static_cast<size_t>(c)], theta[static_cast<size_t>(1 + nd + c)], 1e-8));
}

TEST_CASE("cholesky: solves a known system; rejects an indefinite matrix") {
  // A = [[4, 2, 2], [2, 5, 3], [2, 3, 6]], x = [1, -1, 2] -> b = A x = [6, 3, 11].
  Matrix a(3, 3);
  const double v[9] = {4, 2, 2, 2, 5, 3, 2, 3, 6};
  std::copy(v, v + 9, a.data.begin());
  cholesky_factor(a);
  CHECK(close(a.at(0, 0), 2.0, 1e-15));
  CHECK(a.at(0, 1) == 0.0);
  const std::vector<double> x = cholesky_solve(a, std::vector<double>{6, 3, 11});
  CHECK(close(x[0], 1.0, 1e-12));
  CHECK(close(x[1], -1.0, 1e-12));
  CHECK(close(x[2], 2.0, 1e-12));
  Matrix bad(2, 2);
  bad.data = {1, 2, 2, 1};
  try {
    cholesky_factor(bad);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("not positive definite (pivot 1 of 2") != std::string::npos);
  }
}

TEST_CASE("ridge: one feature by hand") {
  // x = 1 2 3 4, y = 2x. z = (x - 2.5) / sqrt(1.25); Z^T Z = 4, Z^T (y - 5) = 2 * 5 / sqrt(1.25).
  // lambda = 4 halves the least-squares weight: prediction = 5 + 0.5 * 2 * (x - 2.5).
  Matrix x(4, 1);
  x.data = {1, 2, 3, 4};
  const std::vector<double> y{2, 4, 6, 8};
  const RidgeSystem sys = ridge_system(x, y);
  CHECK(close(sys.gram.at(0, 0), 4.0, 1e-12));
  CHECK(close(sys.scale[0], std::sqrt(1.25), 1e-12));
  const RidgeModel m = solve_ridge(sys, 4.0);
  const double at4 = 4.0;
  CHECK(close(m.predict(&at4), 6.5, 1e-12));
  const RidgeModel ls = solve_ridge(sys, 0.0);
  const double at10 = 10.0;
  CHECK(close(ls.predict(&at10), 20.0, 1e-12));
}

TEST_CASE("ridge: the pair-structured system equals the materialised design") {
  const ResponseTable t = additive_table(15, 7, 0.5, 3);
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  Matrix cell(t.num_cells(), 5), drug(t.num_drugs(), 4);
  for (double& v : cell.data) v = uni(rng) + 3.0;  // offset: centring must be right
  for (double& v : drug.data) v = uni(rng) > 0.3 ? 1.0 : 0.0;
  for (int64_t c = 0; c < cell.rows; ++c) cell.at(c, 2) = 7.0;  // a constant column
  std::vector<int64_t> train;
  for (int64_t i = 0; i < t.size(); ++i)
    if (i % 3 != 0) train.push_back(i);
  const PairFeatures pf{&cell, &drug};

  Matrix dense(static_cast<int64_t>(train.size()), 9);
  std::vector<double> y;
  for (size_t k = 0; k < train.size(); ++k) {
    const ResponsePair& p = t.pairs[static_cast<size_t>(train[k])];
    for (int j = 0; j < 5; ++j) dense.at(static_cast<int64_t>(k), j) = cell.at(p.cell, j);
    for (int j = 0; j < 4; ++j) dense.at(static_cast<int64_t>(k), 5 + j) = drug.at(p.drug, j);
    y.push_back(p.ln_ic50);
  }
  const RidgeSystem a = ridge_system(pf, t, train), b = ridge_system(dense, y);
  CHECK(a.scale[2] == 0.0);
  CHECK(b.scale[2] == 0.0);
  for (size_t i = 0; i < a.gram.data.size(); ++i) CHECK(close(a.gram.data[i], b.gram.data[i], 1e-9));
  for (size_t j = 0; j < a.rhs.size(); ++j) {
    CHECK(close(a.rhs[j], b.rhs[j], 1e-9));
    CHECK(close(a.mean[j], b.mean[j], 1e-12));
    CHECK(close(a.scale[j], b.scale[j], 1e-12));
  }
  const RidgeModel m = solve_ridge(a, 3.0);
  CHECK(m.weights[2] == 0.0);
  std::vector<int64_t> test;
  for (int64_t i = 0; i < t.size(); i += 3) test.push_back(i);
  const std::vector<double> p = predict_ridge(m, pf, t, test);
  for (size_t k = 0; k < test.size(); ++k) {
    const ResponsePair& q = t.pairs[static_cast<size_t>(test[k])];
    double row[9];
    for (int j = 0; j < 5; ++j) row[j] = cell.at(q.cell, j);
    for (int j = 0; j < 4; ++j) row[5 + j] = drug.at(q.drug, j);
    CHECK(close(p[k], m.predict(row), 1e-12));
  }
}

TEST_CASE("ridge: lambda chosen on validation") {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  auto make = [&](int n, bool signal, Matrix& x, std::vector<double>& y) {
    x = Matrix(n, 6);
    y.assign(static_cast<size_t>(n), 0.0);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < 6; ++j) x.at(i, j) = normal(rng);
      y[static_cast<size_t>(i)] = signal ? x.at(i, 0) - 2.0 * x.at(i, 3) + 0.01 * normal(rng) : normal(rng);
    }
  };
  Matrix xt, xv;
  std::vector<double> yt, yv;
  make(200, true, xt, yt);
  make(100, true, xv, yv);
  const std::vector<double> grid = default_ridge_grid();
  const RidgeSelection clean = fit_ridge(xt, yt, xv, yv, grid);
  CHECK(clean.model.lambda <= 1.0);  // a near-noiseless linear signal wants little shrinkage
  CHECK(clean.val_rmse.size() == grid.size());
  make(30, false, xt, yt);
  make(200, false, xv, yv);
  const RidgeSelection noise = fit_ridge(xt, yt, xv, yv, grid);
  CHECK(noise.model.lambda >= 100.0);  // pure noise: shrink to the mean
  CHECK_THROWS_AS(fit_ridge(xt, yt, Matrix(0, 6), std::vector<double>{}, grid), Error);
  const std::vector<double> one{10.0};
  CHECK(fit_ridge(xt, yt, Matrix(0, 6), std::vector<double>{}, one).model.lambda == 10.0);
}

TEST_CASE("run_baselines: every baseline on one fold, JSON under the documented keys") {
  const ResponseTable t = additive_table(30, 10, 0.3, 6);
  const Split split = kfold_split(t, {SplitScheme::random, 5, 1, 0.1});
  Matrix cell(t.num_cells(), 3), drug(t.num_drugs(), 2);
  for (int64_t c = 0; c < cell.rows; ++c) cell.at(c, 0) = static_cast<double>(c % 4);
  for (int64_t d = 0; d < drug.rows; ++d) drug.at(d, 1) = static_cast<double>(d);
  const PairFeatures pf{&cell, &drug};
  BaselineOptions o;
  o.ridge_features = &pf;
  const std::vector<BaselineResult> r = run_baselines(t, split, 2, o);
  REQUIRE(r.size() == 4);
  CHECK(r[0].name == "drug_mean");
  CHECK(r[2].name == "additive");
  CHECK(r[3].name == "ridge");
  CHECK(r[2].test.rmse < r[0].test.rmse);  // the table is additive plus small noise
  CHECK(r[2].test.rmse < 0.5);
  CHECK(r[2].test.pearson > 0.95);
  CHECK(r[0].test.per_drug_pearson_mean == 0.0);  // constant within a drug
  REQUIRE(r[2].val.has_value());
  CHECK(r[3].info.contains("lambda"));
  const nlohmann::json test = baselines_to_json(r);
  for (const char* name : {"drug_mean", "cell_mean", "additive", "ridge"}) {
    REQUIRE(test.contains(name));
    for (const char* key : {"rmse", "mae", "pearson", "spearman", "r2", "per_drug_pearson_mean",
                            "per_drug_pearson_median"})
      CHECK(test[name].contains(key));
  }
  CHECK(baselines_to_json(r, Role::val)["additive"]["n"].get<int64_t>() == split.count(2, Role::val));
}
