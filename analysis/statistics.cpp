// Statistics of the mechanism analyses (see statistics.h).
#include "analysis/statistics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <span>

#include "engine/error.h"
#include "train/metrics.h"

namespace dispa::analysis {

double auroc(const std::vector<double>& positives, const std::vector<double>& negatives) {
  DISPA_CHECK(!positives.empty() && !negatives.empty(), "auroc: needs positives and negatives ({} and {})",
              positives.size(), negatives.size());
  std::vector<double> all = positives;
  all.insert(all.end(), negatives.begin(), negatives.end());
  const std::vector<double> ranks = train::average_ranks(std::span<const double>(all));  // 1-based, ties averaged
  double rank_sum = 0;
  for (size_t i = 0; i < positives.size(); ++i) rank_sum += ranks[i];
  const double n1 = double(positives.size()), n0 = double(negatives.size());
  return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0);
}

std::pair<double, double> mean_sd(const std::vector<double>& v) {
  if (v.empty()) return {std::numeric_limits<double>::quiet_NaN(), 0.0};
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  double ss = 0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return {mean, v.size() < 2 ? 0.0 : std::sqrt(ss / double(v.size() - 1))};
}

double empirical_p(double observed, const std::vector<double>& null) {
  size_t at_least = 0;
  for (double x : null) at_least += x >= observed;
  return (1.0 + double(at_least)) / (1.0 + double(null.size()));
}

double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b) {
  DISPA_CHECK(a.size() == b.size(), "adjusted_rand_index: partitions of {} and {} items", a.size(), b.size());
  std::map<std::pair<int, int>, double> table;
  std::map<int, double> rows, cols;
  for (size_t i = 0; i < a.size(); ++i) {
    table[{a[i], b[i]}] += 1;
    rows[a[i]] += 1;
    cols[b[i]] += 1;
  }
  auto pairs = [](double n) { return n * (n - 1) / 2; };
  double index = 0, sum_rows = 0, sum_cols = 0;
  for (const auto& [_, n] : table) index += pairs(n);
  for (const auto& [_, n] : rows) sum_rows += pairs(n);
  for (const auto& [_, n] : cols) sum_cols += pairs(n);
  const double total = pairs(double(a.size()));
  if (total == 0) return 0.0;
  const double expected = sum_rows * sum_cols / total, maximum = 0.5 * (sum_rows + sum_cols);
  if (maximum == expected) return 0.0;  // both partitions trivial (one cluster or all singletons)
  return (index - expected) / (maximum - expected);
}

std::vector<int> kmeans(const std::vector<double>& x, int64_t dim, int k, uint64_t seed, int restarts) {
  DISPA_CHECK(dim > 0 && x.size() % size_t(dim) == 0, "kmeans: {} values are not rows of {}", x.size(), dim);
  const int64_t n = int64_t(x.size()) / dim;
  DISPA_CHECK(k >= 1 && k <= n, "kmeans: k = {} for {} points", k, n);
  auto dist2 = [&](int64_t i, const std::vector<double>& c, int j) {
    double s = 0;
    for (int64_t d = 0; d < dim; ++d) s += std::pow(x[size_t(i * dim + d)] - c[size_t(j * dim + d)], 2);
    return s;
  };
  std::mt19937_64 rng(seed);
  std::vector<int> best;
  double best_inertia = std::numeric_limits<double>::infinity();
  for (int restart = 0; restart < restarts; ++restart) {
    // k-means++ seeding: each next centre drawn with probability proportional to d².
    std::vector<double> c;
    const int64_t first = int64_t(rng() % uint64_t(n));
    c.insert(c.end(), x.begin() + first * dim, x.begin() + (first + 1) * dim);
    std::vector<double> d2(static_cast<size_t>(n));
    for (int j = 1; j < k; ++j) {
      double total = 0;
      for (int64_t i = 0; i < n; ++i) {
        double m = std::numeric_limits<double>::infinity();
        for (int q = 0; q < j; ++q) m = std::min(m, dist2(i, c, q));
        d2[size_t(i)] = m;
        total += m;
      }
      double r = std::uniform_real_distribution<double>(0.0, total)(rng);
      int64_t pick = n - 1;
      for (int64_t i = 0; i < n; ++i) {
        r -= d2[size_t(i)];
        if (r <= 0) {
          pick = i;
          break;
        }
      }
      c.insert(c.end(), x.begin() + pick * dim, x.begin() + (pick + 1) * dim);
    }
    std::vector<int> label(size_t(n), -1);
    for (int iter = 0; iter < 100; ++iter) {
      bool changed = false;
      for (int64_t i = 0; i < n; ++i) {
        int arg = 0;
        for (int j = 1; j < k; ++j)
          if (dist2(i, c, j) < dist2(i, c, arg)) arg = j;
        changed |= label[size_t(i)] != arg;
        label[size_t(i)] = arg;
      }
      if (!changed) break;
      std::vector<double> sum(size_t(k * dim), 0.0);
      std::vector<int64_t> count(size_t(k), 0);
      for (int64_t i = 0; i < n; ++i) {
        ++count[size_t(label[size_t(i)])];
        for (int64_t d = 0; d < dim; ++d) sum[size_t(label[size_t(i)] * dim + d)] += x[size_t(i * dim + d)];
      }
      for (int j = 0; j < k; ++j)
        if (count[size_t(j)] > 0)  // an empty cluster keeps its centre
          for (int64_t d = 0; d < dim; ++d) c[size_t(j * dim + d)] = sum[size_t(j * dim + d)] / double(count[size_t(j)]);
    }
    double inertia = 0;
    for (int64_t i = 0; i < n; ++i) inertia += dist2(i, c, label[size_t(i)]);
    if (inertia < best_inertia) {
      best_inertia = inertia;
      best = label;
    }
  }
  return best;
}

int rank_of(size_t index, const std::vector<double>& values) {
  int rank = 1;
  for (size_t j = 0; j < values.size(); ++j) rank += j != index && values[j] >= values[index];
  return rank;
}

}  // namespace dispa::analysis
