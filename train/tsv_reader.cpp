// Tab-separated table reading with file:line errors (see tsv_reader.h).
#include "train/tsv_reader.h"

#include <charconv>
#include <cmath>

#include "engine/error.h"
#include "engine/io/text.h"

namespace dispa::train {

namespace {
void strip_cr(std::string& s) {
  if (!s.empty() && s.back() == '\r') s.pop_back();
}
}  // namespace

TsvReader::TsvReader(const std::filesystem::path& path) : path_(path), in_(path) {
  DISPA_CHECK(in_.good(), "cannot open {} for reading", path.string());
  while (std::getline(in_, buffer_)) {
    ++line_;
    strip_cr(buffer_);
    if (!buffer_.empty() && buffer_[0] == '#') {
      comments_.push_back(buffer_);
      continue;
    }
    DISPA_CHECK(!buffer_.empty(), "{}:{}: empty header line", path.string(), line_);
    header_ = io::split_tab_fields(buffer_);
    return;
  }
  fail("{}: empty file (no header line)", path.string());
}

int TsvReader::find_column(std::string_view name) const {
  for (size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  return -1;
}

int TsvReader::column(std::string_view name) const {
  const int c = find_column(name);
  DISPA_CHECK(c >= 0, "{}: no column '{}' in the header (columns: {})", path_.string(), name,
              fmt::join(header_, ", "));
  return c;
}

bool TsvReader::next() {
  if (!std::getline(in_, buffer_)) return false;
  ++line_;
  strip_cr(buffer_);
  DISPA_CHECK(!buffer_.empty(), "{}: empty line (the format has no blank lines)", where());
  fields_ = io::split_tab_fields(buffer_);
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
              where(), header_[static_cast<size_t>(column)], text);
  DISPA_CHECK(std::isfinite(value), "{}: column '{}': value '{}' is not finite", where(),
              header_[static_cast<size_t>(column)], text);
  return value;
}

std::string TsvReader::where() const { return fmt::format("{}:{}", path_.string(), line_); }

}  // namespace dispa::train
