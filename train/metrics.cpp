// Regression metrics (definitions and conventions in metrics.h).
#include "train/metrics.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace dispa::train {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_sizes(std::span<const double> y, std::span<const double> p, const char* what) {
  DISPA_CHECK(y.size() == p.size(), "{}: {} targets but {} predictions", what, y.size(), p.size());
  DISPA_CHECK(!y.empty(), "{}: no values", what);
}

bool all_finite(std::span<const double> x) {
  return std::all_of(x.begin(), x.end(), [](double v) { return std::isfinite(v); });
}

// Exact test (a mean-centred sum of squares of equal values can round to a tiny non-zero).
bool constant(std::span<const double> x) {
  return std::all_of(x.begin(), x.end(), [&](double v) { return v == x[0]; });
}

double mean(std::span<const double> x) {
  double s = 0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

// Pearson without the argument checks; NaN for a constant side or non-finite input.
double pearson_unchecked(std::span<const double> y, std::span<const double> p) {
  if (!all_finite(y) || !all_finite(p) || constant(y) || constant(p)) return kNaN;
  const double my = mean(y), mp = mean(p);
  double syy = 0, spp = 0, syp = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double dy = y[i] - my, dp = p[i] - mp;
    syy += dy * dy;
    spp += dp * dp;
    syp += dy * dp;
  }
  return std::clamp(syp / std::sqrt(syy * spp), -1.0, 1.0);
}

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  std::sort(v.begin(), v.end());
  const size_t m = v.size() / 2;
  return v.size() % 2 == 1 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

}  // namespace

double rmse(std::span<const double> y, std::span<const double> p) {
  check_sizes(y, p, "rmse");
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += (y[i] - p[i]) * (y[i] - p[i]);
  return std::sqrt(s / static_cast<double>(y.size()));
}

double mae(std::span<const double> y, std::span<const double> p) {
  check_sizes(y, p, "mae");
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) s += std::abs(y[i] - p[i]);
  return s / static_cast<double>(y.size());
}

double pearson(std::span<const double> y, std::span<const double> p) {
  check_sizes(y, p, "pearson");
  return pearson_unchecked(y, p);
}

std::vector<double> average_ranks(std::span<const double> x) {
  for (size_t i = 0; i < x.size(); ++i)
    DISPA_CHECK(!std::isnan(x[i]), "average_ranks: value {} is NaN (NaN has no rank)", i);
  std::vector<size_t> order(x.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> rank(x.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && x[order[j]] == x[order[i]]) ++j;
    // Positions i..j-1 (0-based) tie: each gets the mean of ranks i+1..j.
    const double r = 0.5 * static_cast<double>(i + 1 + j);
    for (size_t k = i; k < j; ++k) rank[order[k]] = r;
    i = j;
  }
  return rank;
}

double spearman(std::span<const double> y, std::span<const double> p) {
  check_sizes(y, p, "spearman");
  if (!all_finite(y) || !all_finite(p)) return kNaN;
  const std::vector<double> ry = average_ranks(y), rp = average_ranks(p);
  return pearson_unchecked(ry, rp);
}

double r2_score(std::span<const double> y, std::span<const double> p) {
  check_sizes(y, p, "r2_score");
  if (constant(y)) return kNaN;
  const double my = mean(y);
  double ss_res = 0, ss_tot = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    ss_res += (y[i] - p[i]) * (y[i] - p[i]);
    ss_tot += (y[i] - my) * (y[i] - my);
  }
  return 1.0 - ss_res / ss_tot;
}

std::vector<std::pair<int32_t, double>> per_drug_pearson(std::span<const double> y, std::span<const double> p,
                                                         std::span<const int32_t> drug) {
  check_sizes(y, p, "per_drug_pearson");
  DISPA_CHECK(drug.size() == y.size(), "per_drug_pearson: {} targets but {} drug ids", y.size(), drug.size());
  std::map<int32_t, std::pair<std::vector<double>, std::vector<double>>> groups;
  for (size_t i = 0; i < y.size(); ++i) {
    auto& g = groups[drug[i]];
    g.first.push_back(y[i]);
    g.second.push_back(p[i]);
  }
  std::vector<std::pair<int32_t, double>> out;
  for (const auto& [d, g] : groups) {
    if (g.first.size() < 3 || constant(g.first)) continue;
    // A constant (finite) prediction counts as r = 0; NaN/inf predictions stay NaN.
    const bool flat = all_finite(g.second) && constant(g.second);
    out.emplace_back(d, flat ? 0.0 : pearson_unchecked(g.first, g.second));
  }
  return out;
}

Metrics compute_metrics(std::span<const double> y, std::span<const double> p, std::span<const int32_t> drug) {
  Metrics m;
  m.n = static_cast<int64_t>(y.size());
  m.rmse = rmse(y, p);
  m.mae = mae(y, p);
  m.pearson = pearson(y, p);
  m.spearman = spearman(y, p);
  m.r2 = r2_score(y, p);
  const auto per_drug = per_drug_pearson(y, p, drug);
  std::vector<double> r;
  for (const auto& [d, v] : per_drug) r.push_back(v);
  m.drugs_scored = static_cast<int64_t>(r.size());
  m.per_drug_pearson_mean = r.empty() ? kNaN : std::accumulate(r.begin(), r.end(), 0.0) / static_cast<double>(r.size());
  m.per_drug_pearson_median = median(r);
  return m;
}

namespace {
nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }
double number_or_nan(const nlohmann::json& j, const char* key) {
  DISPA_CHECK(j.contains(key), "metrics JSON: missing key '{}'", key);
  return j.at(key).is_null() ? kNaN : j.at(key).get<double>();
}
}  // namespace

nlohmann::json metrics_to_json(const Metrics& m) {
  return {{"n", m.n},
          {"rmse", number_or_null(m.rmse)},
          {"mae", number_or_null(m.mae)},
          {"pearson", number_or_null(m.pearson)},
          {"spearman", number_or_null(m.spearman)},
          {"r2", number_or_null(m.r2)},
          {"per_drug_pearson_mean", number_or_null(m.per_drug_pearson_mean)},
          {"per_drug_pearson_median", number_or_null(m.per_drug_pearson_median)},
          {"drugs_scored", m.drugs_scored}};
}

Metrics metrics_from_json(const nlohmann::json& j) {
  Metrics m;
  m.n = j.value("n", int64_t{0});
  m.rmse = number_or_nan(j, "rmse");
  m.mae = number_or_nan(j, "mae");
  m.pearson = number_or_nan(j, "pearson");
  m.spearman = number_or_nan(j, "spearman");
  m.r2 = number_or_nan(j, "r2");
  m.per_drug_pearson_mean = number_or_nan(j, "per_drug_pearson_mean");
  m.per_drug_pearson_median = number_or_nan(j, "per_drug_pearson_median");
  m.drugs_scored = j.value("drugs_scored", int64_t{0});
  return m;
}

void write_json_file(const std::filesystem::path& file, const nlohmann::json& j) {
  io::write_file_atomically(file, j.dump(2) + "\n");
}

std::string metrics_table(const std::vector<std::pair<std::string, Metrics>>& rows) {
  size_t name_width = 5;
  for (const auto& [name, m] : rows) name_width = std::max(name_width, name.size());
  auto num = [](double v, int width) {
    return std::isfinite(v) ? fmt::format("{:>{}.4f}", v, width) : fmt::format("{:>{}}", "n/a", width);
  };
  std::string out = fmt::format("{:<{}} {:>7} {:>7} {:>7} {:>8} {:>9} {:>7} {:>12} {:>14}\n", "model", name_width, "n",
                                "RMSE", "MAE", "Pearson", "Spearman", "R2", "drug-r mean", "drug-r median");
  for (const auto& [name, m] : rows) {
    out += fmt::format("{:<{}} {:>7} {} {} {} {} {} {} {}\n", name, name_width, m.n, num(m.rmse, 7), num(m.mae, 7),
                       num(m.pearson, 8), num(m.spearman, 9), num(m.r2, 7), num(m.per_drug_pearson_mean, 12),
                       num(m.per_drug_pearson_median, 14));
  }
  return out;
}

}  // namespace dispa::train
