// Drug-response measurements and cell-line annotations from a data folder in the format of
// ../shared/data/gdsc2/README.md: `response.tsv` (cell_id, drug_name, ln_ic50; long form, an
// unmeasured pair has no row) and `cells.tsv` (cell_id, ..., lineage, ...).
//
// Policy (DESIGN.md, "Data formats"): a malformed row, a duplicate pair, or a NaN/inf/NA ln_ic50
// is an error naming the file, the line and the value. A pair whose cell or drug is not in the
// caller's known sets (the cells of the expression matrix, the drugs with a structure) is a
// documented skip: it is excluded, counted and reported with examples in ExcludedPairs, never
// dropped silently.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace dispa::train {

// One measured pair; cell and drug index ResponseTable::cell_ids / drug_names.
struct ResponsePair {
  int32_t cell = 0;
  int32_t drug = 0;
  double ln_ic50 = 0.0;
};

struct ResponseTable {
  std::vector<std::string> cell_ids;    // distinct, in order of first appearance in the file
  std::vector<std::string> drug_names;  // distinct, in order of first appearance in the file
  std::vector<ResponsePair> pairs;      // kept pairs, in file order
  std::unordered_map<std::string, int32_t> cell_index, drug_index;

  int64_t size() const { return static_cast<int64_t>(pairs.size()); }
  int32_t num_cells() const { return static_cast<int32_t>(cell_ids.size()); }
  int32_t num_drugs() const { return static_cast<int32_t>(drug_names.size()); }
  int32_t find_cell(const std::string& id) const;    // -1 when absent
  int32_t find_drug(const std::string& name) const;  // -1 when absent
  std::vector<double> values() const;                // ln_ic50 of every pair
  // Adds a pair, interning new ids (tests and synthetic data build tables this way).
  void add(const std::string& cell_id, const std::string& drug_name, double ln_ic50);
};

// What read_response left out, and why.
struct ExcludedPairs {
  int64_t total = 0;              // rows excluded
  int64_t missing_cell = 0;       // rows whose cell is not known (a row may count in both)
  int64_t missing_drug = 0;       // rows whose drug is not known
  std::vector<std::string> cells;  // distinct unknown cell ids, sorted
  std::vector<std::string> drugs;  // distinct unknown drug names, sorted
  std::vector<std::string> examples;  // the first rows excluded: "file:line: cell / drug: reason"
  // One paragraph for the log: counts, the distinct ids (at most 10 of each) and the examples.
  std::string summary() const;
};

struct ResponseReadOptions {
  const std::unordered_set<std::string>* known_cells = nullptr;  // null: every cell is known
  const std::unordered_set<std::string>* known_drugs = nullptr;  // null: every drug is known
  int max_examples = 5;
};

struct ResponseData {
  ResponseTable table;
  ExcludedPairs excluded;
};

// Reads a response table (columns found by header name: cell_id, drug_name, ln_ic50; others are
// ignored). Throws dispa::Error naming file and line for a malformed row, an empty id, a non-finite
// or non-numeric ln_ic50 (with the text), or a pair that appears twice (with both lines).
ResponseData read_response(const std::filesystem::path& file, const ResponseReadOptions& options = {});
// The same over text in memory (gzip or not); `source` names it in errors.
ResponseData parse_response(std::string text, const std::string& source, const ResponseReadOptions& options = {});

// read_response on DIR/response.tsv with the known cells taken from the first column of
// DIR/expression.tsv (cell_id) and the known drugs from DIR/drugs.tsv (drug_name).
ResponseData read_response_folder(const std::filesystem::path& dir, int max_examples = 5);

// The values of one column of a TSV file, in file order; a repeated value is an error naming both
// lines (ids must be unique). For known-id sets: read_id_column(dir / "drugs.tsv", "drug_name").
std::vector<std::string> read_id_column(const std::filesystem::path& file, std::string_view column);

// cells.tsv: the lineage (tissue) of every cell line, the stratum of the TGSA cell-blind split.
// A missing lineage (`NA`) stays the string "NA" and is a stratum of its own.
struct CellAnnotations {
  std::vector<std::string> cell_ids;
  std::vector<std::string> lineages;  // lineages[i] belongs to cell_ids[i]
  std::unordered_map<std::string, int32_t> index;

  // Throws naming the cell id when it has no annotation.
  const std::string& lineage(const std::string& cell_id) const;
  // cell_id -> lineage, the form tgsa_cell_blind_split takes.
  std::unordered_map<std::string, std::string> lineage_map() const;
};

// Reads cell_id and lineage (by header name); a duplicate cell id is an error naming both lines.
CellAnnotations read_cell_annotations(const std::filesystem::path& file);
CellAnnotations parse_cell_annotations(std::string text, const std::string& source);

}  // namespace dispa::train
