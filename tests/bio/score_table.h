// Score tables (the fixtures' and ours) read back for comparison, and the fixture check itself:
// per gene set Pearson >= min_pearson and max |ours - R| <= max_abs, failing on NaN.
#pragma once
#include <cmath>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "bio/expression.h"
#include "bio/pathway_scores.h"

namespace dispa::test {

// A score table is an expression-layout TSV whose "genes" are set ids (kept as written).
inline bio::ExpressionMatrix read_score_table(const std::filesystem::path& path) {
  bio::ExpressionReadOptions o;
  o.layout = bio::ExpressionLayout::samples_by_genes;
  o.symbol_case = bio::SymbolCase::keep;
  o.dtype = DType::f64;
  return bio::read_expression(path, o);
}

struct SetAgreement {
  std::string worst_set;
  double min_pearson = 1, max_abs = 0;
};

// got: [N, P] scores with ids/samples; want: the R table. Empty string when it agrees.
inline std::string compare_scores(const std::vector<std::string>& samples, const std::vector<std::string>& ids,
                                  const Tensor& got, const bio::ExpressionMatrix& want, double min_pearson,
                                  double max_abs, SetAgreement* summary = nullptr) {
  if (samples != want.samples()) return "sample order differs from the fixture";
  if (ids != want.genes()) return fmt::format("gene-set ids differ: got {}, fixture {}", ids, want.genes());
  const std::vector<double> g = got.to_f64_vector();
  const int64_t n = want.n_samples(), p = want.n_genes();
  SetAgreement s;
  std::string failure;
  for (int64_t k = 0; k < p; ++k) {
    double mg = 0, mw = 0, worst = 0;
    for (int64_t i = 0; i < n; ++i) mg += g[size_t(i * p + k)], mw += want.at(i, k);
    mg /= double(n), mw /= double(n);
    double sgw = 0, sgg = 0, sww = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double a = g[size_t(i * p + k)] - mg, b = want.at(i, k) - mw;
      sgw += a * b, sgg += a * a, sww += b * b;
      const double err = std::fabs(g[size_t(i * p + k)] - want.at(i, k));
      if (!(err <= worst)) worst = std::isnan(err) ? INFINITY : err;
    }
    const double r = sgw / std::sqrt(sgg * sww);
    if (!(r >= s.min_pearson) || worst > s.max_abs) s.worst_set = ids[size_t(k)];
    s.min_pearson = std::isnan(r) ? -INFINITY : std::min(s.min_pearson, r);
    s.max_abs = std::max(s.max_abs, worst);
    if (failure.empty() && (!(r >= min_pearson) || !(worst <= max_abs)))
      failure = fmt::format("set {}: pearson {:.8f} (need >= {}), max |diff| {:.3g} (need <= {})", ids[size_t(k)], r,
                            min_pearson, worst, max_abs);
  }
  if (summary) *summary = s;
  return failure;
}

}  // namespace dispa::test
