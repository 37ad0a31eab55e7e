// Multi-file fuzz inputs: a 10x matrix folder is three files (matrix.mtx, features.tsv,
// barcodes.tsv), a positions or labels table needs the matrix's barcodes beside it. One fuzz input
// holds the parts one after the other, separated by the line `--8<--` (kSeparator, in the targets'
// dictionary so mutations can add or remove one). Missing parts are empty; a separator after the
// last expected part stays in that part's bytes. Seeds are written as such files by hand (text) or
// by fuzz/make_seeds.cpp (gzip, HDF5).
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/io/text.h"

namespace dispa::fuzz {

inline constexpr std::string_view kSeparator = "\n--8<--\n";

template <size_t N>
std::array<std::string_view, N> split_parts(std::string_view data) {
  std::array<std::string_view, N> parts{};
  for (size_t i = 0; i + 1 < N; ++i) {
    const size_t at = data.find(kSeparator);
    if (at == std::string_view::npos) {
      parts[i] = data;
      return parts;
    }
    parts[i] = data.substr(0, at);
    data.remove_prefix(at + kSeparator.size());
  }
  parts[N - 1] = data;
  return parts;
}

inline std::string join_parts(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += kSeparator;
    out += parts[i];
  }
  return out;
}

// The barcodes a matrix would hand to the positions and labels readers: one per line, trimmed,
// empty lines skipped, repeats dropped (a CountSource's barcodes are unique and non-empty).
inline std::vector<std::string> barcode_list(std::string_view text) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  io::LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  while (lines.next(line, number)) {
    const std::string b(io::trim(line));
    if (!b.empty() && seen.insert(b).second) out.push_back(b);
  }
  return out;
}

}  // namespace dispa::fuzz
