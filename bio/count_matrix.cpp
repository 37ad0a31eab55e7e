// Count sources: shared parts, the in-memory fallback, plain tables and format detection
// (see count_matrix.h).
#include "bio/count_matrix.h"

#include <cstring>
#include <fstream>
#include <unordered_map>

#include <fmt/format.h>

#include "bio/expression.h"
#include "bio/hdf5_counts.h"
#include "bio/tenx_mtx.h"
#include "engine/error.h"

namespace dispa::bio {
namespace fs = std::filesystem;

std::string CountSource::describe() const {
  return fmt::format("{} ({}): {} cells x {} features{}", source_, format_, n_cells(), n_features(),
                     n_entries_ >= 0 ? fmt::format(", {} non-zero entries", n_entries_) : "");
}

void CountSource::set_barcodes(std::vector<std::string> barcodes, const std::string& where) {
  std::unordered_map<std::string, size_t> seen;
  seen.reserve(barcodes.size());
  for (size_t i = 0; i < barcodes.size(); ++i) {
    DISPA_CHECK(!barcodes[i].empty(), "{}: barcode {} is empty", where, i + 1);
    const auto [it, added] = seen.emplace(barcodes[i], i);
    DISPA_CHECK(added, "{}: duplicate barcode '{}' (entries {} and {})", where, barcodes[i], it->second + 1, i + 1);
  }
  barcodes_ = std::move(barcodes);
}

InMemoryCounts::InMemoryCounts(std::string source, std::string format, std::vector<std::string> barcodes,
                               std::vector<Feature> features, CountBatch all)
    : all_(std::move(all)) {
  source_ = std::move(source);
  format_ = std::move(format);
  set_barcodes(std::move(barcodes), source_);
  features_ = std::move(features);
  DISPA_CHECK(all_.n_cells() == n_cells(), "{}: {} cells of counts but {} barcodes", source_, all_.n_cells(), n_cells());
  n_entries_ = all_.n_entries();
}

void InMemoryCounts::scan(int64_t max_cells, const std::function<void(const CountBatch&)>& visit) {
  scan_in_memory(all_, max_cells, visit);
}

void scan_in_memory(const CountBatch& all_, int64_t max_cells, const std::function<void(const CountBatch&)>& visit) {
  DISPA_CHECK(max_cells > 0, "scan: batch size must be positive, got {}", max_cells);
  CountBatch batch;
  const int64_t n = all_.n_cells();
  for (int64_t first = 0; first < n; first += max_cells) {
    const int64_t last = std::min(n, first + max_cells);
    batch.clear(first);
    const int64_t a = all_.offsets[size_t(first)], b = all_.offsets[size_t(last)];
    batch.features.assign(all_.features.begin() + a, all_.features.begin() + b);
    batch.values.assign(all_.values.begin() + a, all_.values.begin() + b);
    for (int64_t c = first; c < last; ++c) batch.offsets.push_back(all_.offsets[size_t(c + 1)] - a);
    visit(batch);
  }
}

namespace {

// A plain expression table: bio::read_expression (layout detected), zeros left out.
std::unique_ptr<CountSource> open_table(const fs::path& path) {
  ExpressionReadOptions read;
  read.symbol_case = SymbolCase::keep;
  const ExpressionMatrix m = read_expression(path, read);
  std::vector<Feature> features;
  for (const std::string& g : m.genes()) features.push_back({g, g, ""});
  CountBatch all;
  const float* v = m.values().data<float>();
  for (int64_t c = 0; c < m.n_samples(); ++c) {
    for (int64_t g = 0; g < m.n_genes(); ++g) {
      const float x = v[c * m.n_genes() + g];
      if (x == 0.0f) continue;
      all.features.push_back(int32_t(g));
      all.values.push_back(x);
    }
    all.offsets.push_back(int64_t(all.values.size()));
  }
  return std::make_unique<InMemoryCounts>(path.string(), "expression table", m.samples(), std::move(features),
                                          std::move(all));
}

bool has_hdf5_signature(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  in.read(magic, 8);
  return in.gcount() == 8 && std::memcmp(magic, "\x89HDF\r\n\x1a\n", 8) == 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::unique_ptr<CountSource> open_counts(const fs::path& path, const CountReadOptions& options) {
  DISPA_CHECK(fs::exists(path), "counts: '{}' does not exist", path.string());
  if (fs::is_directory(path)) return open_tenx_folder(path);
  const std::string name = path.filename().string();
  if (ends_with(name, ".mtx") || ends_with(name, ".mtx.gz")) return open_tenx_folder(path.parent_path());
  if (has_hdf5_signature(path)) {
    if (ends_with(name, ".h5ad") || is_h5ad(path)) return open_h5ad(path, options);
    return open_tenx_h5(path);
  }
  DISPA_CHECK(!ends_with(name, ".h5") && !ends_with(name, ".h5ad"),
              "{}: not an HDF5 file (no HDF5 signature in the first 8 bytes; truncated or not a .h5 file?)",
              path.string());
  return open_table(path);
}

}  // namespace dispa::bio
