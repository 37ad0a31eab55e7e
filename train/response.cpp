// Response and cell-annotation readers (see response.h for the error/skip policy).
#include "train/response.h"

#include <algorithm>
#include <set>

#include "engine/error.h"
#include "engine/io/text.h"
#include "train/tsv_reader.h"

namespace dispa::train {

int32_t ResponseTable::find_cell(const std::string& id) const {
  const auto it = cell_index.find(id);
  return it == cell_index.end() ? -1 : it->second;
}

int32_t ResponseTable::find_drug(const std::string& name) const {
  const auto it = drug_index.find(name);
  return it == drug_index.end() ? -1 : it->second;
}

std::vector<double> ResponseTable::values() const {
  std::vector<double> v(pairs.size());
  for (size_t i = 0; i < pairs.size(); ++i) v[i] = pairs[i].ln_ic50;
  return v;
}

namespace {
int32_t intern(const std::string& key, std::vector<std::string>& names,
               std::unordered_map<std::string, int32_t>& index) {
  const auto [it, inserted] = index.try_emplace(key, static_cast<int32_t>(names.size()));
  if (inserted) names.push_back(key);
  return it->second;
}
}  // namespace

void ResponseTable::add(const std::string& cell_id, const std::string& drug_name, double ln_ic50) {
  const int32_t c = intern(cell_id, cell_ids, cell_index);
  const int32_t d = intern(drug_name, drug_names, drug_index);
  pairs.push_back({c, d, ln_ic50});
}

std::string ExcludedPairs::summary() const {
  if (total == 0) return "no pairs excluded";
  auto first = [](const std::vector<std::string>& v) {
    std::vector<std::string> head;
    for (size_t i = 0; i < std::min<size_t>(v.size(), 10); ++i) head.push_back(io::shorten(v[i]));
    return fmt::format("{}{}", fmt::join(head, ", "), v.size() > 10 ? ", ..." : "");
  };
  std::string s = fmt::format("excluded {} pairs ({} with an unknown cell, {} with an unknown drug)", total,
                              missing_cell, missing_drug);
  if (!cells.empty()) s += fmt::format("; {} unknown cells: {}", cells.size(), first(cells));
  if (!drugs.empty()) s += fmt::format("; {} unknown drugs: {}", drugs.size(), first(drugs));
  if (!examples.empty()) s += fmt::format("; e.g. {}", fmt::join(examples, "; "));
  return s;
}

namespace {

ResponseData read_response_rows(TsvReader& in, const ResponseReadOptions& options) {
  const int c_cell = in.column("cell_id");
  const int c_drug = in.column("drug_name");
  const int c_value = in.column("ln_ic50");

  ResponseData out;
  ResponseTable& table = out.table;
  ExcludedPairs& excluded = out.excluded;
  std::set<std::string> unknown_cells, unknown_drugs;
  // (cell, drug) -> line, to name both lines of a duplicate.
  std::unordered_map<uint64_t, int64_t> seen;

  while (in.next()) {
    const std::string& cell = in.field(c_cell);
    const std::string& drug = in.field(c_drug);
    DISPA_CHECK(!cell.empty(), "{}: empty cell_id", in.where());
    DISPA_CHECK(!drug.empty(), "{}: empty drug_name", in.where());
    // The value is checked before the skip so that a broken file is reported even for pairs that
    // would be excluded anyway.
    const double value = in.finite_double(c_value);

    const bool cell_known = !options.known_cells || options.known_cells->count(cell) > 0;
    const bool drug_known = !options.known_drugs || options.known_drugs->count(drug) > 0;
    if (!cell_known || !drug_known) {
      ++excluded.total;
      if (!cell_known) ++excluded.missing_cell, unknown_cells.insert(cell);
      if (!drug_known) ++excluded.missing_drug, unknown_drugs.insert(drug);
      if (static_cast<int>(excluded.examples.size()) < options.max_examples) {
        const char* reason = !cell_known && !drug_known ? "cell and drug unknown"
                             : !cell_known              ? "cell unknown"
                                                        : "drug unknown";
        excluded.examples.push_back(
            fmt::format("{}: {} / {}: {}", in.where(), io::shorten(cell), io::shorten(drug), reason));
      }
      continue;
    }

    const size_t before = table.pairs.size();
    table.add(cell, drug, value);
    const ResponsePair& p = table.pairs[before];
    const uint64_t key = (static_cast<uint64_t>(p.cell) << 32) | static_cast<uint32_t>(p.drug);
    const auto [it, inserted] = seen.try_emplace(key, in.line());
    DISPA_CHECK(inserted, "{}: duplicate pair {} / {} (first on line {})", in.where(), io::shorten(cell),
                io::shorten(drug), it->second);
  }
  excluded.cells.assign(unknown_cells.begin(), unknown_cells.end());
  excluded.drugs.assign(unknown_drugs.begin(), unknown_drugs.end());
  return out;
}

CellAnnotations read_cell_rows(TsvReader& in) {
  const int c_cell = in.column("cell_id");
  const int c_lineage = in.column("lineage");
  CellAnnotations out;
  std::unordered_map<std::string, int64_t> line_of;
  while (in.next()) {
    const std::string& cell = in.field(c_cell);
    DISPA_CHECK(!cell.empty(), "{}: empty cell_id", in.where());
    DISPA_CHECK(!in.field(c_lineage).empty(), "{}: empty lineage (write NA when missing)", in.where());
    const auto [it, inserted] = line_of.try_emplace(cell, in.line());
    DISPA_CHECK(inserted, "{}: duplicate cell_id '{}' (first on line {})", in.where(), io::shorten(cell), it->second);
    out.index.emplace(cell, static_cast<int32_t>(out.cell_ids.size()));
    out.cell_ids.push_back(cell);
    out.lineages.push_back(in.field(c_lineage));
  }
  return out;
}

}  // namespace

ResponseData read_response(const std::filesystem::path& file, const ResponseReadOptions& options) {
  TsvReader in(file);
  return read_response_rows(in, options);
}

ResponseData parse_response(std::string text, const std::string& source, const ResponseReadOptions& options) {
  TsvReader in(std::move(text), source);
  return read_response_rows(in, options);
}

std::vector<std::string> read_id_column(const std::filesystem::path& file, std::string_view column) {
  TsvReader in(file);
  const int c = in.column(column);
  std::vector<std::string> ids;
  std::unordered_map<std::string, int64_t> line_of;
  while (in.next()) {
    const std::string& id = in.field(c);
    DISPA_CHECK(!id.empty(), "{}: empty {}", in.where(), column);
    const auto [it, inserted] = line_of.try_emplace(id, in.line());
    DISPA_CHECK(inserted, "{}: duplicate {} '{}' (first on line {})", in.where(), column, io::shorten(id),
                it->second);
    ids.push_back(id);
  }
  return ids;
}

ResponseData read_response_folder(const std::filesystem::path& dir, int max_examples) {
  const std::vector<std::string> cells = read_id_column(dir / "expression.tsv", "cell_id");
  const std::vector<std::string> drugs = read_id_column(dir / "drugs.tsv", "drug_name");
  const std::unordered_set<std::string> known_cells(cells.begin(), cells.end());
  const std::unordered_set<std::string> known_drugs(drugs.begin(), drugs.end());
  ResponseReadOptions options;
  options.known_cells = &known_cells;
  options.known_drugs = &known_drugs;
  options.max_examples = max_examples;
  return read_response(dir / "response.tsv", options);
}

const std::string& CellAnnotations::lineage(const std::string& cell_id) const {
  const auto it = index.find(cell_id);
  DISPA_CHECK(it != index.end(), "cell annotations: no entry for cell '{}'", io::shorten(cell_id));
  return lineages[static_cast<size_t>(it->second)];
}

std::unordered_map<std::string, std::string> CellAnnotations::lineage_map() const {
  std::unordered_map<std::string, std::string> m;
  for (size_t i = 0; i < cell_ids.size(); ++i) m.emplace(cell_ids[i], lineages[i]);
  return m;
}

CellAnnotations read_cell_annotations(const std::filesystem::path& file) {
  TsvReader in(file);
  return read_cell_rows(in);
}

CellAnnotations parse_cell_annotations(std::string text, const std::string& source) {
  TsvReader in(std::move(text), source);
  return read_cell_rows(in);
}

}  // namespace dispa::train
