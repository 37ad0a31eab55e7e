// Putting counts of another transcriptome on the training scale of a DiSPA run (the training
// expression of GDSC2 is log-scale bulk expression z-scored per gene across the 580 cell lines):
//
//   1. gene counts: the counts of every feature matched to a model gene (bio/gene_aliases.h) are
//      added; library size = the sum over all gene features of the cell (not only model genes);
//   2. library-size normalisation: x * target_sum / library (target_sum 1e4 = "counts per 10k",
//      Seurat's and Scanpy's default; 0 = off, e.g. for data already normalised);
//   3. log1p (natural log, as Scanpy's log1p);
//   4. per-gene standardisation within the target data set: (x - mean) / sd with the population
//      sd (ddof = 0, as the training data), over the units that are predicted (`units`), over the
//      individual cells before pooling (`cells`), or not at all (`none`, for input already on the
//      training scale). `automatic` (the default) is `cells` with pseudobulk pooling (a handful
//      of pooled profiles, e.g. three cell lines, is too few to standardise over: on the shared
//      single-cell data it blurs the lines, docs/TRANSFER.md) and `units` otherwise.
//      A gene constant over the data set (sd = 0) and a model gene the data set
//      lacks are set to 0, the training mean.
// Pooling for sparse data happens between 2 and 3: spatial k-nearest-neighbour smoothing (each
// spot becomes the mean normalised profile of itself and its k nearest spots) or pseudobulk (the
// counts of all cells with one label are added, then normalised as one library).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "bio/count_matrix.h"
#include "bio/gene_aliases.h"

namespace dispa::analysis {

enum class Standardize { automatic, units, cells, none };
Standardize parse_standardize(const std::string& text);  // auto|units|cells|none
const char* standardize_name(Standardize s);

struct HarmoniseOptions {
  double target_sum = 1e4;  // 0 = no library-size normalisation
  bool log1p = true;
  Standardize standardize = Standardize::automatic;
};

// Model-gene counts of a batch of cells: dense [cells, G] (G = model genes) and library sizes.
class GeneGatherer {
 public:
  GeneGatherer(const bio::GeneMatch& match, const std::vector<bio::Feature>& features, std::string source);
  int64_t genes() const { return genes_; }
  // counts: [batch.n_cells(), G] (resized); library: [batch.n_cells()].
  void gather(const bio::CountBatch& batch, std::vector<float>& counts, std::vector<double>& library,
              const std::vector<std::string>& barcodes, bool need_non_negative) const;

 private:
  std::vector<int32_t> gene_of_feature_;  // -1: not a model gene
  std::vector<char> is_gene_;             // counts towards the library size
  int64_t genes_;
  std::string source_;
};

// Steps 2 (row-wise, before pooling) and 3.
void normalise_library(float* row, int64_t G, double library, double target_sum);
void log_transform(float* row, int64_t G, bool log1p);

// Running per-gene mean and population sd (double sums).
struct GeneStats {
  explicit GeneStats(int64_t G = 0) : sum(size_t(G), 0.0), sumsq(size_t(G), 0.0) {}
  std::vector<double> sum, sumsq;
  int64_t n = 0;
  void add(const float* row);
  double mean(int64_t g) const { return n ? sum[size_t(g)] / double(n) : 0.0; }
  double sd(int64_t g) const;
};

// Step 4 in place; genes with matched[g] == 0 become 0.
void standardise(float* row, const GeneStats& stats, const std::vector<char>& matched, bool enabled);

// For every point, its k nearest other points (Euclidean), nearest first (ties by index).
// Brute force: at most kMaxKnnPoints points.
constexpr int64_t kMaxKnnPoints = 60000;
std::vector<std::vector<int32_t>> nearest_neighbours(const std::vector<double>& x, const std::vector<double>& y, int k);

}  // namespace dispa::analysis
