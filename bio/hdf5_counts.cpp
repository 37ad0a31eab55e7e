// 10x .h5 and AnnData .h5ad count sources (see hdf5_counts.h).
#include "bio/hdf5_counts.h"

#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "bio/hdf5_file.h"
#include "engine/error.h"
#include "engine/log.h"

namespace dispa::bio {
namespace fs = std::filesystem;

namespace {

// Checks an indptr of `n` segments against `entries` (the length of data and indices).
void check_indptr(const std::vector<int64_t>& indptr, int64_t n, int64_t entries, const std::string& where) {
  DISPA_CHECK(int64_t(indptr.size()) == n + 1, "{}/indptr: {} values, expected {} (one more than the {} {})", where,
              indptr.size(), n + 1, n, "rows of the compressed axis");
  DISPA_CHECK(indptr.empty() || indptr[0] == 0, "{}/indptr: starts at {}, expected 0", where, indptr.empty() ? 0 : indptr[0]);
  for (size_t i = 1; i < indptr.size(); ++i)
    DISPA_CHECK(indptr[i] >= indptr[i - 1], "{}/indptr: decreases at position {} ({} after {})", where, i, indptr[i],
                indptr[i - 1]);
  DISPA_CHECK(indptr.back() == entries, "{}/indptr: ends at {} but data and indices hold {} entries", where,
              indptr.back(), entries);
}

// Appends cell `c`'s entries to `batch`, checking indices and values; `stamp` catches repeats.
void append_cell(CountBatch& batch, const int64_t* idx, const double* val, int64_t n, int64_t n_features, int64_t cell,
                 std::vector<int64_t>& stamp, const std::string& where) {
  for (int64_t i = 0; i < n; ++i) {
    DISPA_CHECK(idx[i] >= 0 && idx[i] < n_features, "{}/indices: index {} of cell {} is out of range 0..{}", where,
                idx[i], cell, n_features - 1);
    DISPA_CHECK(std::isfinite(val[i]), "{}/data: value {} of cell {} is not finite", where, val[i], cell);
    DISPA_CHECK(std::isfinite(float(val[i])), "{}/data: value {} of cell {} is beyond the range of 32-bit floats",
                where, val[i], cell);
    DISPA_CHECK(stamp[size_t(idx[i])] != cell, "{}: gene {} appears twice in cell {}", where, idx[i], cell);
    stamp[size_t(idx[i])] = cell;
    batch.features.push_back(int32_t(idx[i]));
    batch.values.push_back(float(val[i]));
  }
  batch.offsets.push_back(batch.n_entries());
}

// data / indices / indptr with indptr over cells: streamed by slices of cells.
class CellMajorSparse : public CountSource {
 public:
  CellMajorSparse(std::shared_ptr<h5::File> file, std::string group, std::string format, std::vector<std::string> barcodes,
                  std::vector<Feature> features)
      : file_(std::move(file)), group_(std::move(group)) {
    source_ = file_->name();
    format_ = std::move(format);
    set_barcodes(std::move(barcodes), file_->name() + ":/" + group_ + " barcodes");
    features_ = std::move(features);
    const std::string where = file_->name() + ":/" + group_;
    const int64_t data = file_->dims(group_ + "/data").at(0), indices = file_->dims(group_ + "/indices").at(0);
    DISPA_CHECK(data == indices, "{}: data has {} entries but indices has {}", where, data, indices);
    DISPA_CHECK(file_->dims(group_ + "/indptr").at(0) == n_cells() + 1,
                "{}/indptr: {} values, expected {} (one per cell plus one)", where,
                file_->dims(group_ + "/indptr").at(0), n_cells() + 1);
    indptr_ = file_->read_int64s(group_ + "/indptr");
    check_indptr(indptr_, n_cells(), data, where);
    n_entries_ = data;
  }

  void scan(int64_t max_cells, const std::function<void(const CountBatch&)>& visit) override {
    DISPA_CHECK(max_cells > 0, "scan: batch size must be positive, got {}", max_cells);
    const std::string where = file_->name() + ":/" + group_;
    std::vector<int64_t> stamp(size_t(n_features()), -1);
    CountBatch batch;
    for (int64_t first = 0; first < n_cells(); first += max_cells) {
      const int64_t last = std::min(n_cells(), first + max_cells);
      const int64_t a = indptr_[size_t(first)], b = indptr_[size_t(last)];
      const std::vector<int64_t> idx = file_->read_int64s(group_ + "/indices", a, b - a);
      const std::vector<double> val = file_->read_doubles(group_ + "/data", a, b - a);
      batch.clear(first);
      for (int64_t c = first; c < last; ++c)
        append_cell(batch, idx.data() + (indptr_[size_t(c)] - a), val.data() + (indptr_[size_t(c)] - a),
                    indptr_[size_t(c) + 1] - indptr_[size_t(c)], n_features(), c, stamp, where);
      visit(batch);
    }
  }

 private:
  std::shared_ptr<h5::File> file_;
  std::string group_;
  std::vector<int64_t> indptr_;
};

// A dense [cells, genes] dataset, streamed by rows; zeros are left out.
class DenseRows : public CountSource {
 public:
  DenseRows(std::shared_ptr<h5::File> file, std::string dataset, std::vector<std::string> barcodes,
            std::vector<Feature> features)
      : file_(std::move(file)), dataset_(std::move(dataset)) {
    source_ = file_->name();
    format_ = "AnnData (dense " + dataset_ + ")";
    set_barcodes(std::move(barcodes), file_->name() + ":/obs");
    features_ = std::move(features);
  }
  void scan(int64_t max_cells, const std::function<void(const CountBatch&)>& visit) override {
    DISPA_CHECK(max_cells > 0, "scan: batch size must be positive, got {}", max_cells);
    const int64_t G = n_features();
    CountBatch batch;
    for (int64_t first = 0; first < n_cells(); first += max_cells) {
      const int64_t last = std::min(n_cells(), first + max_cells);
      const std::vector<float> rows = file_->read_rows(dataset_, first, last - first);
      batch.clear(first);
      for (int64_t c = first; c < last; ++c) {
        for (int64_t g = 0; g < G; ++g) {
          const float x = rows[size_t((c - first) * G + g)];
          DISPA_CHECK(std::isfinite(x), "{}:/{}: value [{}, {}] is not finite", file_->name(), dataset_, c, g);
          if (x == 0.0f) continue;
          batch.features.push_back(int32_t(g));
          batch.values.push_back(x);
        }
        batch.offsets.push_back(batch.n_entries());
      }
      visit(batch);
    }
  }

 private:
  std::shared_ptr<h5::File> file_;
  std::string dataset_;
};

// ---- 10x .h5 ------------------------------------------------------------------------------------

std::unique_ptr<CountSource> tenx_h5_from(std::shared_ptr<h5::File> f) {
  std::string group = "matrix";
  std::vector<Feature> features;
  if (f->is_group("matrix")) {
    const std::vector<std::string> names = f->read_strings("matrix/features/name");
    const std::vector<std::string> ids =
        f->is_dataset("matrix/features/id") ? f->read_strings("matrix/features/id") : names;
    std::vector<std::string> types;
    if (f->is_dataset("matrix/features/feature_type")) types = f->read_strings("matrix/features/feature_type");
    DISPA_CHECK(ids.size() == names.size() && (types.empty() || types.size() == names.size()),
                "{}:/matrix/features: id, name and feature_type have different lengths ({}, {}, {})", f->name(),
                ids.size(), names.size(), types.size());
    for (size_t i = 0; i < names.size(); ++i) features.push_back({ids[i], names[i], types.empty() ? "" : types[i]});
  } else {
    // Cell Ranger 2: a single genome group with genes and gene_names.
    std::vector<std::string> genomes;
    for (const std::string& c : f->children("/"))
      if (f->is_dataset(c + "/gene_names")) genomes.push_back(c);
    DISPA_CHECK(genomes.size() == 1,
                "{}: not a 10x Genomics .h5 matrix: no group 'matrix' (Cell Ranger 3+) and {} genome groups with "
                "gene_names (Cell Ranger 2; exactly one is read)",
                f->name(), genomes.size());
    group = genomes[0];
    const std::vector<std::string> names = f->read_strings(group + "/gene_names");
    const std::vector<std::string> ids = f->is_dataset(group + "/genes") ? f->read_strings(group + "/genes") : names;
    DISPA_CHECK(ids.size() == names.size(), "{}:/{}: genes and gene_names have different lengths", f->name(), group);
    for (size_t i = 0; i < names.size(); ++i) features.push_back({ids[i], names[i], ""});
  }
  for (const char* d : {"data", "indices", "indptr", "barcodes", "shape"})
    DISPA_CHECK(f->is_dataset(group + "/" + d), "{}: not a 10x Genomics .h5 matrix: no dataset /{}/{}", f->name(), group, d);
  std::vector<std::string> barcodes = f->read_strings(group + "/barcodes");
  const std::vector<int64_t> shape = f->read_int64s(group + "/shape");
  DISPA_CHECK(shape.size() == 2 && shape[0] == int64_t(features.size()) && shape[1] == int64_t(barcodes.size()),
              "{}:/{}/shape is [{}] but there are {} features and {} barcodes", f->name(), group, fmt::join(shape, ", "),
              features.size(), barcodes.size());
  return std::make_unique<CellMajorSparse>(std::move(f), group, "10x Genomics HDF5", std::move(barcodes),
                                           std::move(features));
}

// ---- AnnData ------------------------------------------------------------------------------------

// A column of obs/var: a string dataset, or a categorical group (categories + codes; -1 = missing).
std::vector<std::string> read_column(const h5::File& f, const std::string& path) {
  if (f.is_dataset(path)) return f.read_strings(path);
  DISPA_CHECK(f.is_group(path) && f.is_dataset(path + "/categories") && f.is_dataset(path + "/codes"),
              "{}: no column '{}' (neither a string dataset nor a categorical group)", f.name(), path);
  const std::vector<std::string> categories = f.read_strings(path + "/categories");
  const std::vector<int64_t> codes = f.read_int64s(path + "/codes");
  std::vector<std::string> out;
  out.reserve(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) {
    DISPA_CHECK(codes[i] >= -1 && codes[i] < int64_t(categories.size()), "{}:/{}/codes: code {} at {} is out of range",
                f.name(), path, codes[i], i);
    out.push_back(codes[i] < 0 ? std::string() : categories[size_t(codes[i])]);
  }
  return out;
}

// The index of an obs/var dataframe group.
std::vector<std::string> read_index(const h5::File& f, const std::string& frame) {
  DISPA_CHECK(f.is_group(frame),
              "{}: '{}' is not a group: AnnData files written by anndata < 0.7 (dataframes as compound datasets) are "
              "not supported; re-write the file with a current anndata",
              f.name(), frame);
  const std::string index = f.string_attribute(frame, "_index").value_or("_index");
  return read_column(f, frame + "/" + index);
}

std::unique_ptr<CountSource> h5ad_from(std::shared_ptr<h5::File> f, const CountReadOptions& o) {
  const std::string m = o.h5ad_matrix.empty() ? "X" : o.h5ad_matrix;
  DISPA_CHECK(f->exists(m), "{}: no matrix '{}' (AnnData keeps counts in X, raw/X or layers/<name>)", f->name(), m);
  const std::string var = m == "raw/X" ? "raw/var" : "var";
  std::vector<std::string> barcodes = read_index(*f, "obs");
  const std::vector<std::string> var_index = read_index(*f, var);
  std::vector<std::string> symbols = var_index;
  std::string column = o.h5ad_gene_column;
  if (column.empty()) {
    int64_t ensembl = 0;
    for (const std::string& s : var_index) ensembl += s.rfind("ENS", 0) == 0;
    if (!var_index.empty() && 2 * ensembl > int64_t(var_index.size()))
      for (const char* c : {"gene_symbols", "gene_symbol", "feature_name", "gene_name", "symbol"})
        if (f->exists(var + "/" + c)) {
          column = c;
          break;
        }
  }
  if (!column.empty()) {
    symbols = read_column(*f, var + "/" + column);
    DISPA_CHECK(symbols.size() == var_index.size(), "{}:/{}/{}: {} values for {} genes", f->name(), var, column,
                symbols.size(), var_index.size());
    logging::info("{}: gene symbols from {}/{}", f->name(), var, column);
  }
  std::vector<Feature> features;
  for (size_t i = 0; i < symbols.size(); ++i) features.push_back({var_index[i], symbols[i].empty() ? var_index[i] : symbols[i], ""});
  const int64_t n_obs = int64_t(barcodes.size()), n_var = int64_t(features.size());

  if (f->is_dataset(m)) {
    const std::vector<int64_t> d = f->dims(m);
    DISPA_CHECK(d.size() == 2 && d[0] == n_obs && d[1] == n_var, "{}:/{} is [{}] but obs has {} cells and {} has {} genes",
                f->name(), m, fmt::join(d, ", "), n_obs, var, n_var);
    return std::make_unique<DenseRows>(std::move(f), m, std::move(barcodes), std::move(features));
  }
  std::string encoding = f->string_attribute(m, "encoding-type").value_or("");
  if (encoding.empty()) {
    const std::string old = f->string_attribute(m, "h5sparse_format").value_or("");
    encoding = old == "csr" ? "csr_matrix" : old == "csc" ? "csc_matrix" : "";
  }
  DISPA_CHECK(encoding == "csr_matrix" || encoding == "csc_matrix",
              "{}:/{}: unknown sparse encoding '{}' (expected csr_matrix or csc_matrix)", f->name(), m, encoding);
  auto shape = f->int_attribute(m, "shape");
  if (!shape) shape = f->int_attribute(m, "h5sparse_shape");
  DISPA_CHECK(shape && shape->size() == 2 && (*shape)[0] == n_obs && (*shape)[1] == n_var,
              "{}:/{}: shape attribute [{}] does not match obs ({} cells) and {} ({} genes)", f->name(), m,
              shape ? fmt::format("{}", fmt::join(*shape, ", ")) : "missing", n_obs, var, n_var);
  for (const char* d : {"data", "indices", "indptr"})
    DISPA_CHECK(f->is_dataset(m + "/" + d), "{}: sparse matrix /{} has no dataset '{}'", f->name(), m, d);
  if (encoding == "csr_matrix")
    return std::make_unique<CellMajorSparse>(std::move(f), m, "AnnData (CSR " + m + ")", std::move(barcodes),
                                             std::move(features));

  // CSC: gene-major on disk; transposed into memory by a counting sort over cells.
  const std::string where = f->name() + ":/" + m;
  const std::vector<int64_t> indptr = f->read_int64s(m + "/indptr");
  const std::vector<int64_t> cells = f->read_int64s(m + "/indices");
  const std::vector<double> values = f->read_doubles(m + "/data");
  DISPA_CHECK(cells.size() == values.size(), "{}: data has {} entries but indices has {}", where, values.size(),
              cells.size());
  check_indptr(indptr, n_var, int64_t(values.size()), where);
  logging::info("{}: CSC (gene-major) matrix: loading all {} entries into memory", where, values.size());
  CountBatch all;
  all.offsets.assign(size_t(n_obs) + 1, 0);
  for (const int64_t c : cells) {
    DISPA_CHECK(c >= 0 && c < n_obs, "{}/indices: cell index {} is out of range 0..{}", where, c, n_obs - 1);
    ++all.offsets[size_t(c) + 1];
  }
  for (int64_t c = 0; c < n_obs; ++c) all.offsets[size_t(c) + 1] += all.offsets[size_t(c)];
  all.features.resize(values.size());
  all.values.resize(values.size());
  std::vector<int64_t> fill(all.offsets.begin(), all.offsets.end() - 1);
  std::vector<int64_t> stamp(size_t(n_obs), -1);
  for (int64_t g = 0; g < n_var; ++g)
    for (int64_t i = indptr[size_t(g)]; i < indptr[size_t(g) + 1]; ++i) {
      const int64_t c = cells[size_t(i)];
      DISPA_CHECK(std::isfinite(values[size_t(i)]), "{}/data: value {} of gene {} is not finite", where,
                  values[size_t(i)], g);
      DISPA_CHECK(std::isfinite(float(values[size_t(i)])), "{}/data: value {} of gene {} is beyond the range of 32-bit floats",
                  where, values[size_t(i)], g);
      DISPA_CHECK(stamp[size_t(c)] != g, "{}: cell {} appears twice in gene {}", where, c, g);
      stamp[size_t(c)] = g;
      const int64_t at = fill[size_t(c)]++;
      all.features[size_t(at)] = int32_t(g);
      all.values[size_t(at)] = float(values[size_t(i)]);
    }
  return std::make_unique<InMemoryCounts>(where, "AnnData (CSC " + m + ")", std::move(barcodes), std::move(features),
                                          std::move(all));
}

}  // namespace

std::unique_ptr<CountSource> open_tenx_h5(const fs::path& path) {
  return tenx_h5_from(std::make_shared<h5::File>(h5::File::open(path)));
}

std::unique_ptr<CountSource> open_h5ad(const fs::path& path, const CountReadOptions& options) {
  return h5ad_from(std::make_shared<h5::File>(h5::File::open(path)), options);
}

bool is_h5ad(const fs::path& path) {
  const h5::File f = h5::File::open(path);
  return f.exists("X") && f.exists("obs") && f.exists("var");
}

std::unique_ptr<CountSource> parse_tenx_h5(std::string_view bytes, const std::string& name) {
  return tenx_h5_from(std::make_shared<h5::File>(h5::File::open_image(bytes, name)));
}

std::unique_ptr<CountSource> parse_h5ad(std::string_view bytes, const CountReadOptions& options, const std::string& name) {
  return h5ad_from(std::make_shared<h5::File>(h5::File::open_image(bytes, name)), options);
}

}  // namespace dispa::bio
