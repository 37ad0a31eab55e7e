// Count matrices of other transcriptomes (single-cell and spatial), genes x cells, as the readers
// of bio/ deliver them: barcodes, features (id, symbol, type) and the non-zero counts, handed out
// in batches of consecutive cells so that a data set of 100k+ cells never has to be held whole.
//
// Formats (open_counts picks by content, not only by name):
//   * a 10x Genomics matrix folder (matrix.mtx[.gz], features.tsv[.gz] or genes.tsv[.gz],
//     barcodes.tsv[.gz]), or a folder holding filtered_feature_bc_matrix/   (tenx_mtx.h)
//   * a 10x Genomics HDF5 matrix (.h5, Cell Ranger 3+ `matrix` group or 2.x genome group)  (tenx_h5.h)
//   * an AnnData file (.h5ad: X dense, CSR or CSC; or raw/X or layers/NAME)               (h5ad.h)
//   * a plain expression table (TSV/GCT, any layout bio::read_expression reads)           (here)
// Values are whatever the file holds (raw counts for 10x; for AnnData and TSV possibly
// already-normalised values: the caller decides how to harmonise them).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace dispa::bio {

struct Feature {
  std::string id;      // e.g. Ensembl id (10x column 1); the symbol again when the source has none
  std::string symbol;  // as the file spells it (not normalised)
  std::string type;    // "Gene Expression" (default), "Antibody Capture", ...
  bool is_gene() const { return type.empty() || type == "Gene Expression"; }
};

// Cells [first_cell, first_cell + n_cells()) with their non-zero entries, column-compressed:
// cell j owns entries [offsets[j], offsets[j + 1]) of `features` (indices into features()) and
// `values`. Within a cell, entries are in file order and each feature occurs at most once.
struct CountBatch {
  int64_t first_cell = 0;
  std::vector<int64_t> offsets{0};
  std::vector<int32_t> features;
  std::vector<float> values;
  int64_t n_cells() const { return int64_t(offsets.size()) - 1; }
  int64_t n_entries() const { return int64_t(values.size()); }
  void clear(int64_t first) {
    first_cell = first;
    offsets.assign(1, 0);
    features.clear();
    values.clear();
  }
};

class CountSource {
 public:
  virtual ~CountSource() = default;
  const std::string& source() const { return source_; }      // the path, for messages
  const std::string& format() const { return format_; }      // "10x MatrixMarket folder", ...
  const std::vector<std::string>& barcodes() const { return barcodes_; }
  const std::vector<Feature>& features() const { return features_; }
  int64_t n_cells() const { return int64_t(barcodes_.size()); }
  int64_t n_features() const { return int64_t(features_.size()); }
  int64_t n_entries() const { return n_entries_; }           // non-zero entries; -1 if unknown before a scan

  // Calls `visit` on consecutive batches of at most `max_cells` cells, in barcode order, covering
  // every cell exactly once. May be called again (each call reads the data again).
  virtual void scan(int64_t max_cells, const std::function<void(const CountBatch&)>& visit) = 0;
  // One line for the log: format, cells, features, entries.
  std::string describe() const;

 protected:
  // Barcodes must be unique and non-empty (error naming both positions otherwise).
  void set_barcodes(std::vector<std::string> barcodes, const std::string& where);
  std::string source_, format_;
  std::vector<std::string> barcodes_;
  std::vector<Feature> features_;
  int64_t n_entries_ = -1;
};

// Hands out batches of at most max_cells cells of `all` (cells [0, all.n_cells())).
void scan_in_memory(const CountBatch& all, int64_t max_cells, const std::function<void(const CountBatch&)>& visit);

// All counts in memory, cell-major (the readers' fallback for layouts that cannot be streamed by
// cell: a MatrixMarket file not sorted by cell, AnnData CSC, TSV).
class InMemoryCounts : public CountSource {
 public:
  InMemoryCounts(std::string source, std::string format, std::vector<std::string> barcodes,
                 std::vector<Feature> features, CountBatch all);
  void scan(int64_t max_cells, const std::function<void(const CountBatch&)>& visit) override;

 private:
  CountBatch all_;
};

struct CountReadOptions {
  // AnnData: which matrix (X, raw/X, layers/<name>); raw/X takes its genes from raw/var.
  std::string h5ad_matrix = "X";
  // AnnData: the var column holding gene symbols; empty = the var index, or, when the index holds
  // Ensembl ids (ENSG...), the first of gene_symbols, gene_symbol, feature_name, gene_name, symbol.
  std::string h5ad_gene_column;
};

// Opens any of the formats above (errors say which files were expected).
std::unique_ptr<CountSource> open_counts(const std::filesystem::path& path, const CountReadOptions& options = {});

}  // namespace dispa::bio
