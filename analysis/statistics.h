// The statistics the mechanism analyses report, written out so their definitions are in one place:
//   auroc               P(score of a random positive > score of a random negative), ties count ½
//                       (the Mann-Whitney U statistic / (n_pos·n_neg), from average ranks)
//   mean_sd             mean and sample sd (n − 1; 0 for n < 2)
//   empirical_p         (1 + #{null >= observed}) / (1 + n_null): a permutation p-value that is
//                       never 0 (Phipson & Smyth 2010)
//   adjusted_rand_index Hubert & Arabie (1985): 1 = identical partitions, ~0 = chance
//   kmeans              Lloyd's algorithm from k-means++ seeds, best of `restarts` by inertia
//   shuffled            a Fisher-Yates permutation from a seeded mt19937_64 (same on every platform)
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace dispa::analysis {

double auroc(const std::vector<double>& positives, const std::vector<double>& negatives);
std::pair<double, double> mean_sd(const std::vector<double>& values);
double empirical_p(double observed, const std::vector<double>& null);

// Partitions as one label per item (any integers).
double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b);

// rows: n points of dimension `dim` (row-major). Returns a cluster in [0, k) per point.
std::vector<int> kmeans(const std::vector<double>& rows, int64_t dim, int k, uint64_t seed, int restarts = 10);

template <typename T>
std::vector<T> shuffled(std::vector<T> v, uint64_t seed);

// 1-based rank of values[index] among values (1 = largest). Ties count against it
// (1 + #{j != index: values[j] >= values[index]}), so a constant score never "recovers" anything.
int rank_of(size_t index, const std::vector<double>& values);

}  // namespace dispa::analysis

#include <random>

namespace dispa::analysis {
template <typename T>
std::vector<T> shuffled(std::vector<T> v, uint64_t seed) {
  std::mt19937_64 rng(seed);
  for (size_t i = v.size(); i > 1; --i) {
    const size_t j = size_t(rng() % i);  // modulo bias is negligible for these sizes (< 2^20)
    std::swap(v[i - 1], v[j]);
  }
  return v;
}
}  // namespace dispa::analysis
