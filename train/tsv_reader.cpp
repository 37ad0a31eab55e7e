// Tab-separated table reading with file:line errors (see tsv_reader.h).
#include "train/tsv_reader.h"

#include <charconv>
#include <cmath>

#include "engine/error.h"

namespace dispa::train {

TsvReader::TsvReader(const std::filesystem::path& path)
    : path_(path), text_(io::read_text_file(path)), lines_(text_) {
  read_header();
}

TsvReader::TsvReader(std::string text, const std::string& source)
    : path_(source), text_(io::decode_text(std::move(text), source)), lines_(text_) {
  read_header();
}

void TsvReader::read_header() {
  std::string_view line;
  while (lines_.next(line, line_)) {
    if (!line.empty() && line[0] == '#') {
      comments_.emplace_back(line);
      continue;
    }
    DISPA_CHECK(!line.empty(), "{}:{}: empty header line", path_.string(), line_);
    header_ = io::split_tab_fields(line);
    return;
  }
  fail("{}: empty file (no header line)", path_.string());
}

int TsvReader::find_column(std::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  return -1;
}

int TsvReader::column(std::string_view name) const {
  const int c = find_column(name);
  DISPA_CHECK(c >= 0, "{}: no column '{}' in the header (columns: {})", path_.string(), name,
              io::shorten(fmt::format("{}", fmt::join(header_, ", ")), 200));
  return c;
}

bool TsvReader::next() {
  std::string_view line;
  if (!lines_.next(line, line_)) return false;
  DISPA_CHECK(!line.empty(), "{}: empty line (the format has no blank lines)", where());
  fields_ = io::split_tab_fields(line);
  DISPA_CHECK(fields_.size() == header_.size(), "{}: {} fields, but the header has {} columns", where(),
              fields_.size(), header_.size());
  return true;
}

double TsvReader::finite_double(int column) const {
  const std::string& text = field(column);
  double value = 0.0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  // from_chars also parses "nan" and "inf"; the isfinite check below rejects them by name.
  const auto [ptr, ec] = std::from_chars(begin, end, value);
  DISPA_CHECK(ec == std::errc() && ptr == end && !text.empty(), "{}: column '{}': '{}' is not a number",
              where(), io::shorten(header_[static_cast<size_t>(column)]), io::shorten(text));
  DISPA_CHECK(std::isfinite(value), "{}: column '{}': value '{}' is not finite", where(),
              io::shorten(header_[static_cast<size_t>(column)]), io::shorten(text));
  return value;
}

std::string TsvReader::where() const { return fmt::format("{}:{}", path_.string(), line_); }

}  // namespace dispa::train
