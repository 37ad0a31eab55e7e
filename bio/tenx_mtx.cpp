// 10x MatrixMarket folders (see tenx_mtx.h).
#include "bio/tenx_mtx.h"

#include <cmath>
#include <functional>
#include <optional>

#include <fmt/format.h>

#include "bio/gzip_lines.h"
#include "engine/error.h"
#include "engine/io/text.h"
#include "engine/log.h"

namespace dispa::bio {
namespace fs = std::filesystem;

namespace {

using OpenLines = std::function<GzipLines()>;

std::string shorten(std::string_view s, size_t n = 60) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

// Whitespace-separated tokens (MatrixMarket allows spaces or tabs); at most `max` are kept.
int split_ws(std::string_view line, std::string_view* out, int max) {
  int n = 0;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (n < max) out[n] = line.substr(i, j - i);
    ++n;
    i = j;
  }
  return n;
}

std::vector<std::string> read_barcodes(GzipLines lines) {
  std::vector<std::string> out;
  std::string_view line;
  while (lines.next(line)) {
    const std::string_view first = io::trim(line.substr(0, line.find('\t')));
    DISPA_CHECK(!first.empty(), "{}: empty barcode", lines.where());
    out.emplace_back(first);
  }
  DISPA_CHECK(!out.empty(), "{}: no barcodes", lines.source());
  return out;
}

std::vector<Feature> read_features(GzipLines lines) {
  std::vector<Feature> out;
  std::string_view line;
  std::vector<std::string_view> fields;
  while (lines.next(line)) {
    io::split_tabs(line, fields);
    Feature f;
    if (fields.size() == 1) {
      f.id = f.symbol = std::string(io::trim(fields[0]));
    } else {
      f.id = std::string(io::trim(fields[0]));
      f.symbol = std::string(io::trim(fields[1]));
      if (fields.size() >= 3) f.type = std::string(io::trim(fields[2]));
    }
    DISPA_CHECK(!f.symbol.empty() || !f.id.empty(), "{}: empty feature line", lines.where());
    if (f.symbol.empty()) f.symbol = f.id;
    out.push_back(std::move(f));
  }
  DISPA_CHECK(!out.empty(), "{}: no features", lines.source());
  return out;
}

struct MtxHeader {
  int64_t rows = 0, cols = 0, entries = 0;
  bool pattern = false;
};

// Reads the banner, comments and the size line; `lines` is left before the first entry.
MtxHeader read_header(GzipLines& lines) {
  std::string_view line;
  DISPA_CHECK(lines.next(line), "{}: empty file (expected a MatrixMarket header)", lines.source());
  std::string banner(line);
  for (char& c : banner) c = char(std::tolower(static_cast<unsigned char>(c)));
  std::string_view t[6];
  const int n = split_ws(banner, t, 6);
  DISPA_CHECK(n >= 5 && t[0] == "%%matrixmarket" && t[1] == "matrix",
              "{}: not a MatrixMarket file (first line '{}')", lines.where(), shorten(line));
  DISPA_CHECK(t[2] == "coordinate", "{}: '{}' MatrixMarket matrices are not supported (10x writes 'coordinate')",
              lines.where(), t[2]);
  DISPA_CHECK(t[3] == "integer" || t[3] == "real" || t[3] == "pattern",
              "{}: MatrixMarket field '{}' is not supported (integer, real or pattern)", lines.where(), t[3]);
  DISPA_CHECK(t[4] == "general", "{}: MatrixMarket symmetry '{}' is not supported (10x writes 'general')",
              lines.where(), t[4]);
  MtxHeader h;
  h.pattern = t[3] == "pattern";
  while (lines.next(line)) {
    if (!line.empty() && line[0] == '%') continue;
    if (io::is_blank(line)) continue;
    std::string_view s[4];
    const int k = split_ws(line, s, 4);
    DISPA_CHECK(k == 3 && io::parse_integer(s[0], h.rows) && io::parse_integer(s[1], h.cols) &&
                    io::parse_integer(s[2], h.entries) && h.rows >= 0 && h.cols >= 0 && h.entries >= 0,
                "{}: expected the size line 'rows columns entries', got '{}'", lines.where(), shorten(line));
    DISPA_CHECK(h.rows == 0 || h.cols == 0 || h.entries / h.rows <= h.cols,
                "{}: {} entries cannot fit a {} x {} matrix", lines.where(), h.entries, h.rows, h.cols);
    return h;
  }
  fail("{}: no size line after the MatrixMarket header", lines.source());
}

struct Entry {
  int64_t row = 0, col = 0;  // 0-based
  float value = 1.0f;
};

// The next entry, checked against the header; false at the end (after checking the count).
bool next_entry(GzipLines& lines, const MtxHeader& h, int64_t& seen, Entry& e) {
  std::string_view line;
  while (lines.next(line)) {
    if (io::is_blank(line) || line[0] == '%') continue;
    std::string_view s[4];
    const int k = split_ws(line, s, 4);
    const int want = h.pattern ? 2 : 3;
    DISPA_CHECK(k == want, "{}: expected {} fields 'row column{}', got '{}'", lines.where(), want,
                h.pattern ? "" : " value", shorten(line));
    DISPA_CHECK(seen < h.entries, "{}: more entries than the {} the header promises", lines.where(), h.entries);
    int64_t r = 0, c = 0;
    DISPA_CHECK(io::parse_integer(s[0], r) && io::parse_integer(s[1], c), "{}: row and column must be integers, got '{}'",
                lines.where(), shorten(line));
    DISPA_CHECK(r >= 1 && r <= h.rows, "{}: row (feature) index {} is out of range 1..{}", lines.where(), r, h.rows);
    DISPA_CHECK(c >= 1 && c <= h.cols, "{}: column (barcode) index {} is out of range 1..{}", lines.where(), c, h.cols);
    e.row = r - 1;
    e.col = c - 1;
    if (!h.pattern) {
      double v = 0;
      DISPA_CHECK(io::parse_number(s[2], v) && std::isfinite(v), "{}: value '{}' is not a finite number", lines.where(),
                  shorten(s[2]));
      e.value = float(v);
      DISPA_CHECK(std::isfinite(e.value), "{}: value '{}' is beyond the range of 32-bit floats (counts are float32)",
                  lines.where(), shorten(s[2]));
    }
    ++seen;
    return true;
  }
  DISPA_CHECK(seen == h.entries, "{}: the header promises {} entries but the file has {} (truncated?)", lines.source(),
              h.entries, seen);
  return false;
}

class TenxFolderCounts : public CountSource {
 public:
  TenxFolderCounts(std::string source, OpenLines matrix, OpenLines features, OpenLines barcodes)
      : open_matrix_(std::move(matrix)) {
    source_ = std::move(source);
    format_ = "10x MatrixMarket folder";
    GzipLines b = barcodes();
    const std::string barcode_source = b.source();
    set_barcodes(read_barcodes(std::move(b)), barcode_source);
    GzipLines f = features();
    const std::string feature_source = f.source();
    features_ = read_features(std::move(f));
    validate(feature_source, barcode_source);
  }

  void scan(int64_t max_cells, const std::function<void(const CountBatch&)>& visit) override {
    DISPA_CHECK(max_cells > 0, "scan: batch size must be positive, got {}", max_cells);
    if (!sorted_) {
      if (!all_) load_all();
      scan_in_memory(*all_, max_cells, visit);
      return;
    }
    GzipLines lines = open_matrix_();
    const MtxHeader h = read_header(lines);
    int64_t seen = 0;
    Entry e;
    CountBatch batch;
    batch.clear(0);
    int64_t cell = 0;  // cells [first_cell, cell) are closed in the batch
    auto close_until = [&](int64_t until) {  // closes cells up to `until` (exclusive), emitting full batches
      while (cell < until) {
        batch.offsets.push_back(batch.n_entries());
        ++cell;
        if (batch.n_cells() == max_cells) {
          visit(batch);
          batch.clear(cell);
        }
      }
    };
    while (next_entry(lines, h, seen, e)) {
      close_until(e.col);
      batch.features.push_back(int32_t(e.row));
      batch.values.push_back(e.value);
    }
    close_until(n_cells());
    if (batch.n_cells() > 0) visit(batch);
  }

 private:
  void validate(const std::string& feature_source, const std::string& barcode_source) {
    GzipLines lines = open_matrix_();
    const MtxHeader h = read_header(lines);
    DISPA_CHECK(h.rows == n_features(), "{}: the matrix has {} rows but {} lists {} features", lines.source(), h.rows,
                feature_source, n_features());
    DISPA_CHECK(h.cols == n_cells(), "{}: the matrix has {} columns but {} lists {} barcodes", lines.source(), h.cols,
                barcode_source, n_cells());
    per_cell_.assign(size_t(n_cells()), 0);
    std::vector<int64_t> stamp(size_t(n_features()), -1);  // last cell that used each feature (sorted case)
    int64_t seen = 0, previous = 0;
    Entry e;
    while (next_entry(lines, h, seen, e)) {
      if (e.col < previous) sorted_ = false;
      if (sorted_) {
        DISPA_CHECK(stamp[size_t(e.row)] != e.col, "{}: feature {} of barcode {} ('{}') appears twice", lines.where(),
                    e.row + 1, e.col + 1, barcodes_[size_t(e.col)]);
        stamp[size_t(e.row)] = e.col;
      }
      previous = e.col;
      ++per_cell_[size_t(e.col)];
    }
    n_entries_ = seen;
    if (!sorted_)
      logging::info("{}: entries are not sorted by barcode; loading all {} into memory", lines.source(), seen);
  }

  // Counting sort by cell, then the duplicate check the streaming path does on the fly.
  void load_all() {
    CountBatch all;
    all.offsets.assign(size_t(n_cells()) + 1, 0);
    for (int64_t c = 0; c < n_cells(); ++c) all.offsets[size_t(c) + 1] = all.offsets[size_t(c)] + per_cell_[size_t(c)];
    all.features.resize(size_t(n_entries_));
    all.values.resize(size_t(n_entries_));
    std::vector<int64_t> fill(all.offsets.begin(), all.offsets.end() - 1);
    GzipLines lines = open_matrix_();
    const MtxHeader h = read_header(lines);
    int64_t seen = 0;
    Entry e;
    while (next_entry(lines, h, seen, e)) {
      const int64_t at = fill[size_t(e.col)]++;
      DISPA_CHECK(at < all.offsets[size_t(e.col) + 1], "{}: the matrix changed while it was read", lines.source());
      all.features[size_t(at)] = int32_t(e.row);
      all.values[size_t(at)] = e.value;
    }
    std::vector<int64_t> stamp(size_t(n_features()), -1);
    for (int64_t c = 0; c < n_cells(); ++c)
      for (int64_t i = all.offsets[size_t(c)]; i < all.offsets[size_t(c) + 1]; ++i) {
        const int32_t f = all.features[size_t(i)];
        DISPA_CHECK(stamp[size_t(f)] != c, "{}: feature {} of barcode {} ('{}') appears twice", lines.source(), f + 1,
                    c + 1, barcodes_[size_t(c)]);
        stamp[size_t(f)] = c;
      }
    all_ = std::move(all);
  }

  OpenLines open_matrix_;
  bool sorted_ = true;
  std::vector<int64_t> per_cell_;
  std::optional<CountBatch> all_;
};

// The first of `names` present in `dir`.
fs::path find_file(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* n : names)
    if (fs::exists(dir / n)) return dir / n;
  return {};
}

}  // namespace

std::unique_ptr<CountSource> open_tenx_folder(const fs::path& dir_in) {
  fs::path dir = dir_in;
  if (!fs::exists(dir / "matrix.mtx.gz") && !fs::exists(dir / "matrix.mtx") &&
      fs::is_directory(dir / "filtered_feature_bc_matrix"))
    dir = dir / "filtered_feature_bc_matrix";
  const fs::path matrix = find_file(dir, {"matrix.mtx.gz", "matrix.mtx"});
  const fs::path features = find_file(dir, {"features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"});
  const fs::path barcodes = find_file(dir, {"barcodes.tsv.gz", "barcodes.tsv"});
  DISPA_CHECK(!matrix.empty() && !features.empty() && !barcodes.empty(),
              "{}: not a 10x matrix folder: expected matrix.mtx.gz, features.tsv.gz and barcodes.tsv.gz (or the "
              "uncompressed / Cell Ranger 2 genes.tsv names){}",
              dir.string(), matrix.empty() ? "; no matrix.mtx[.gz]" : features.empty() ? "; no features.tsv[.gz]" : "; no barcodes.tsv[.gz]");
  return std::make_unique<TenxFolderCounts>(
      dir.string(), [matrix] { return GzipLines::open(matrix); }, [features] { return GzipLines::open(features); },
      [barcodes] { return GzipLines::open(barcodes); });
}

std::unique_ptr<CountSource> parse_tenx_buffers(std::string_view matrix, std::string_view features,
                                                std::string_view barcodes, const std::string& source) {
  return std::make_unique<TenxFolderCounts>(
      source, [=] { return GzipLines::from_memory(matrix, source + "/matrix.mtx"); },
      [=] { return GzipLines::from_memory(features, source + "/features.tsv"); },
      [=] { return GzipLines::from_memory(barcodes, source + "/barcodes.tsv"); });
}

}  // namespace dispa::bio
