// Spot positions and cell labels (see tenx_positions.h).
#include "bio/tenx_positions.h"

#include <cmath>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/error.h"
#include "engine/io/text.h"

namespace dispa::bio {

namespace {

std::string shorten(std::string_view s, size_t n = 60) {
  return s.size() <= n ? std::string(s) : std::string(s.substr(0, n)) + "...";
}

void split_on(std::string_view line, char sep, std::vector<std::string_view>& out) {
  out.clear();
  size_t start = 0;
  while (true) {
    const size_t end = line.find(sep, start);
    out.push_back(io::trim(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
}

std::unordered_map<std::string, int64_t> index_of(const std::vector<std::string>& barcodes) {
  std::unordered_map<std::string, int64_t> out;
  out.reserve(barcodes.size());
  for (size_t i = 0; i < barcodes.size(); ++i) out.emplace(barcodes[i], int64_t(i));
  return out;
}

// Error for matrix barcodes a side table does not cover.
void check_covered(const std::vector<char>& seen, const std::vector<std::string>& barcodes, const std::string& source,
                   const char* what) {
  std::vector<std::string> missing;
  int64_t count = 0;
  for (size_t i = 0; i < seen.size(); ++i)
    if (!seen[i]) {
      ++count;
      if (missing.size() < 5) missing.push_back(barcodes[i]);
    }
  DISPA_CHECK(count == 0, "{}: {} of the matrix's {} barcodes have no {} (e.g. {}){}", source, count, barcodes.size(),
              what, fmt::join(missing, ", "),
              count == int64_t(barcodes.size()) ? ": the file belongs to another data set?" : "");
}

}  // namespace

SpotPositions parse_tissue_positions(std::string_view text, const std::string& source,
                                     const std::vector<std::string>& barcodes) {
  const auto index = index_of(barcodes);
  SpotPositions out;
  out.x.assign(barcodes.size(), NAN);
  out.y.assign(barcodes.size(), NAN);
  std::vector<char> seen(barcodes.size(), 0);
  std::vector<int64_t> line_of(barcodes.size(), 0);
  io::LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  std::vector<std::string_view> f;
  while (lines.next(line, number)) {
    if (io::is_blank(line)) continue;
    split_on(line, ',', f);
    const std::string where = io::location(source, number);
    if (number == 1 && !f.empty() && f[0] == "barcode") continue;  // Space Ranger 2+ header
    DISPA_CHECK(f.size() == 6,
                "{}: expected 6 comma-separated fields (barcode, in_tissue, array_row, array_col, pxl_row_in_fullres, "
                "pxl_col_in_fullres), got {}: '{}'",
                where, f.size(), shorten(line));
    double row = 0, col = 0;
    DISPA_CHECK(io::parse_number(f[4], row) && io::parse_number(f[5], col) && std::isfinite(row) && std::isfinite(col),
                "{}: pxl_row_in_fullres and pxl_col_in_fullres must be finite numbers, got '{}' and '{}'", where,
                shorten(f[4]), shorten(f[5]));
    const auto it = index.find(std::string(f[0]));
    if (it == index.end()) {
      ++out.ignored;
      continue;
    }
    const size_t i = size_t(it->second);
    DISPA_CHECK(!seen[i], "{}: barcode '{}' appears twice (first on line {})", where, f[0], line_of[i]);
    seen[i] = 1;
    line_of[i] = number;
    out.x[i] = col;
    out.y[i] = row;
  }
  check_covered(seen, barcodes, source, "position");
  return out;
}

SpotPositions read_tissue_positions(const std::filesystem::path& path, const std::vector<std::string>& barcodes) {
  return parse_tissue_positions(io::read_text_file(path), path.string(), barcodes);
}

CellLabels parse_cell_labels(std::string_view text, const std::string& source, const std::vector<std::string>& barcodes) {
  const auto index = index_of(barcodes);
  CellLabels out;
  out.label.assign(barcodes.size(), "");
  std::vector<int64_t> line_of(barcodes.size(), 0);
  std::unordered_map<std::string, int> names;
  io::LineScanner lines(text);
  std::string_view line;
  int64_t number = 0, rows = 0;
  std::vector<std::string_view> f;
  while (lines.next(line, number)) {
    if (io::is_blank(line)) continue;
    split_on(line, line.find('\t') != std::string_view::npos ? '\t' : ',', f);
    const std::string where = io::location(source, number);
    const auto it = f.empty() ? index.end() : index.find(std::string(f[0]));
    if (number == 1 && it == index.end()) continue;  // a header, whatever its names
    DISPA_CHECK(f.size() >= 2, "{}: expected 'barcode<TAB>label', got '{}'", where, shorten(line));
    ++rows;
    if (it == index.end()) {
      ++out.ignored;
      continue;
    }
    const size_t i = size_t(it->second);
    DISPA_CHECK(!f[1].empty(), "{}: empty label for barcode '{}'", where, f[0]);
    DISPA_CHECK(line_of[i] == 0, "{}: barcode '{}' appears twice (first on line {})", where, f[0], line_of[i]);
    line_of[i] = number;
    out.label[i] = std::string(f[1]);
    if (names.emplace(out.label[i], int(names.size())).second) out.names.push_back(out.label[i]);
  }
  for (const std::string& l : out.label) out.unlabelled += l.empty();
  DISPA_CHECK(out.unlabelled < int64_t(barcodes.size()),
              "{}: none of its {} rows names a barcode of the matrix (e.g. the matrix has '{}'): labels of another data "
              "set?",
              source, rows, barcodes.empty() ? "" : barcodes[0]);
  return out;
}

CellLabels read_cell_labels(const std::filesystem::path& path, const std::vector<std::string>& barcodes) {
  return parse_cell_labels(io::read_text_file(path), path.string(), barcodes);
}

}  // namespace dispa::bio
