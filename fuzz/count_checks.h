// What a count source that opened must satisfy (bio/count_matrix.h), shared by the 10x folder,
// 10x .h5 and AnnData .h5ad targets: dimensions agree, barcodes are unique and non-empty, and
// streaming the whole source hands out every cell exactly once, in order, with feature indices in
// range, finite values, no feature twice in one cell and as many entries as the source announced.
// The source is streamed with three batch sizes (one cell, a few cells, all cells at once), which
// must give the same counts: the batch boundaries of the streaming readers are where an
// off-by-one would hide.
#pragma once
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "bio/count_matrix.h"
#include "fuzz/fuzz_target.h"

namespace dispa::fuzz {

// Every cell's entries, cell-major, as one CountBatch covering all cells.
inline bio::CountBatch stream_all(bio::CountSource& s, int64_t max_cells) {
  bio::CountBatch all;
  all.clear(0);
  int64_t next_cell = 0;
  std::vector<int64_t> stamp(size_t(s.n_features()), -1);  // last cell that used each feature
  s.scan(max_cells, [&](const bio::CountBatch& b) {
    require(b.first_cell == next_cell, "batches are consecutive, in barcode order");
    require(b.n_cells() >= 1 && b.n_cells() <= max_cells, "a batch holds 1..max_cells cells");
    require(b.offsets.front() == 0 && b.offsets.back() == b.n_entries(), "offsets cover the batch's entries");
    require(b.features.size() == b.values.size(), "one feature index per value");
    for (int64_t c = 0; c < b.n_cells(); ++c) {
      const int64_t cell = b.first_cell + c;
      require(b.offsets[size_t(c)] <= b.offsets[size_t(c) + 1], "offsets never decrease");
      for (int64_t i = b.offsets[size_t(c)]; i < b.offsets[size_t(c) + 1]; ++i) {
        const int32_t f = b.features[size_t(i)];
        require(f >= 0 && f < s.n_features(), "feature indices are in range");
        require(std::isfinite(b.values[size_t(i)]), "values are finite");
        require(stamp[size_t(f)] != cell, "a feature occurs at most once per cell");
        stamp[size_t(f)] = cell;
        all.features.push_back(f);
        all.values.push_back(b.values[size_t(i)]);
      }
      all.offsets.push_back(all.n_entries());
    }
    next_cell += b.n_cells();
  });
  require(next_cell == s.n_cells(), "a scan covers every cell exactly once");
  return all;
}

inline bool same_counts(const bio::CountBatch& a, const bio::CountBatch& b) {
  return a.offsets == b.offsets && a.features == b.features && a.values == b.values;
}

inline void check_count_source(bio::CountSource& s) {
  require(s.n_cells() > 0 && s.n_cells() == int64_t(s.barcodes().size()), "a source that opens has cells");
  require(s.n_features() == int64_t(s.features().size()), "n_features counts the features");
  const std::set<std::string> unique(s.barcodes().begin(), s.barcodes().end());
  require(unique.size() == s.barcodes().size(), "barcodes are unique");
  require(!unique.begin()->empty(), "barcodes are non-empty");
  require(!s.describe().empty() && !s.format().empty(), "a source describes itself");
  const bio::CountBatch one = stream_all(s, 1);
  require(s.n_entries() < 0 || s.n_entries() == one.n_entries(), "the scan yields the announced entries");
  require(same_counts(stream_all(s, 3), one), "batches of 3 cells give the same counts as batches of 1");
  require(same_counts(stream_all(s, s.n_cells()), one), "one batch of all cells gives the same counts");
}

}  // namespace dispa::fuzz
