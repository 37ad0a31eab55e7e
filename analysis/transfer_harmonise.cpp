// Harmonisation steps for zero-shot transfer (see transfer_harmonise.h).
#include "analysis/transfer_harmonise.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"

namespace dispa::analysis {

Standardize parse_standardize(const std::string& text) {
  if (text == "auto") return Standardize::automatic;
  if (text == "units") return Standardize::units;
  if (text == "cells") return Standardize::cells;
  if (text == "none") return Standardize::none;
  fail("unknown standardisation '{}' (expected auto, units, cells or none)", text);
}

const char* standardize_name(Standardize s) {
  return s == Standardize::automatic ? "auto" : s == Standardize::units ? "units" : s == Standardize::cells ? "cells" : "none";
}

GeneGatherer::GeneGatherer(const bio::GeneMatch& match, const std::vector<bio::Feature>& features, std::string source)
    : gene_of_feature_(features.size(), -1),
      is_gene_(features.size(), 0),
      genes_(int64_t(match.features_of_gene.size())),
      source_(std::move(source)) {
  for (size_t g = 0; g < match.features_of_gene.size(); ++g)
    for (int32_t f : match.features_of_gene[g]) gene_of_feature_[size_t(f)] = int32_t(g);
  for (size_t f = 0; f < features.size(); ++f) is_gene_[f] = features[f].is_gene();
}

void GeneGatherer::gather(const bio::CountBatch& batch, std::vector<float>& counts, std::vector<double>& library,
                          const std::vector<std::string>& barcodes, bool need_non_negative) const {
  const int64_t n = batch.n_cells();
  counts.assign(size_t(n * genes_), 0.0f);
  library.assign(size_t(n), 0.0);
  for (int64_t c = 0; c < n; ++c) {
    float* row = counts.data() + c * genes_;
    for (int64_t i = batch.offsets[size_t(c)]; i < batch.offsets[size_t(c) + 1]; ++i) {
      const int32_t f = batch.features[size_t(i)];
      const float v = batch.values[size_t(i)];
      DISPA_CHECK(!need_non_negative || v >= 0.0f,
                  "{}: negative value {} (cell '{}', feature {}): library-size normalisation and log1p need counts; "
                  "if the matrix is already normalised or log-scaled use --target-sum 0 --no-log1p",
                  source_, v, barcodes[size_t(batch.first_cell + c)], f + 1);
      if (is_gene_[size_t(f)]) library[size_t(c)] += v;
      const int32_t g = gene_of_feature_[size_t(f)];
      if (g >= 0) row[g] += v;
    }
  }
}

void normalise_library(float* row, int64_t G, double library, double target_sum) {
  if (target_sum <= 0) return;
  // An empty library stays all zero (nothing to scale).
  const double scale = library > 0 ? target_sum / library : 0.0;
  for (int64_t g = 0; g < G; ++g) row[g] = float(double(row[g]) * scale);
}

void log_transform(float* row, int64_t G, bool log1p) {
  if (!log1p) return;
  for (int64_t g = 0; g < G; ++g) row[g] = float(std::log1p(double(row[g])));
}

void GeneStats::add(const float* row) {
  for (size_t g = 0; g < sum.size(); ++g) {
    sum[g] += row[g];
    sumsq[g] += double(row[g]) * row[g];
  }
  ++n;
}

double GeneStats::sd(int64_t g) const {
  if (n == 0) return 0.0;
  const double m = mean(g);
  return std::sqrt(std::max(0.0, sumsq[size_t(g)] / double(n) - m * m));
}

void standardise(float* row, const GeneStats& stats, const std::vector<char>& matched, bool enabled) {
  for (size_t g = 0; g < matched.size(); ++g) {
    if (!matched[g]) {
      row[g] = 0.0f;
      continue;
    }
    if (!enabled) continue;
    const double sd = stats.sd(int64_t(g));
    // sd relative to the mean guards against cancellation in sumsq/n - mean^2 for constant genes.
    row[g] = sd > 1e-6 * std::max(1.0, std::abs(stats.mean(int64_t(g)))) ? float((row[g] - stats.mean(int64_t(g))) / sd)
                                                                          : 0.0f;
  }
}

std::vector<std::vector<int32_t>> nearest_neighbours(const std::vector<double>& x, const std::vector<double>& y, int k) {
  const int64_t n = int64_t(x.size());
  DISPA_CHECK(k >= 1, "k-nearest-neighbour smoothing: k must be at least 1, got {}", k);
  DISPA_CHECK(n <= kMaxKnnPoints, "k-nearest-neighbour smoothing of {} spots: at most {} are supported (use pseudobulk or no pooling)",
              n, kMaxKnnPoints);
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(n));
  std::vector<std::pair<double, int32_t>> d;
  for (int64_t i = 0; i < n; ++i) {
    d.clear();
    for (int64_t j = 0; j < n; ++j)
      if (j != i) d.emplace_back((x[size_t(i)] - x[size_t(j)]) * (x[size_t(i)] - x[size_t(j)]) +
                                     (y[size_t(i)] - y[size_t(j)]) * (y[size_t(i)] - y[size_t(j)]),
                                 int32_t(j));
    const size_t m = std::min<size_t>(size_t(k), d.size());
    std::partial_sort(d.begin(), d.begin() + long(m), d.end());
    for (size_t t = 0; t < m; ++t) out[size_t(i)].push_back(d[t].second);
  }
  return out;
}

}  // namespace dispa::analysis
