#include "engine/io/text.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "engine/error.h"

namespace dispa::io {

std::string read_text_file(const std::filesystem::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  DISPA_CHECK(file != nullptr, "cannot open '{}': {}", path.string(), std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, got);
  DISPA_CHECK(!std::ferror(file.get()), "cannot read '{}': {}", path.string(), std::strerror(errno));
  return text;
}

bool LineScanner::next(std::string_view& line, int64_t& number) {
  if (pos_ >= text_.size()) return false;
  const char* begin = text_.data() + pos_;
  const void* nl = std::memchr(begin, '\n', text_.size() - pos_);
  size_t len = nl ? static_cast<const char*>(nl) - begin : text_.size() - pos_;
  pos_ += len + (nl ? 1 : 0);
  if (len > 0 && begin[len - 1] == '\r') --len;
  line = std::string_view(begin, len);
  number = ++number_;
  return true;
}

void split_tabs(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  size_t start = 0;
  while (true) {
    const void* tab = std::memchr(line.data() + start, '\t', line.size() - start);
    if (!tab) {
      fields.push_back(line.substr(start));
      return;
    }
    const size_t end = static_cast<const char*>(tab) - line.data();
    fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

std::vector<std::string> split_tab_fields(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> views;
  split_tabs(line, views);
  return std::vector<std::string>(views.begin(), views.end());
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool is_blank(std::string_view s) { return trim(s).empty(); }

template <typename T>
static bool parse_whole(std::string_view field, T& value) {
  const char* begin = field.data();
  const char* end = begin + field.size();
  if (begin != end && *begin == '+') ++begin;  // from_chars rejects '+'; "+1.5" is a number
  if (begin == end) return false;
  const auto result = std::from_chars(begin, end, value);
  return result.ec == std::errc() && result.ptr == end;
}

bool parse_number(std::string_view field, float& value) { return parse_whole(field, value); }
bool parse_number(std::string_view field, double& value) { return parse_whole(field, value); }
bool parse_integer(std::string_view field, int64_t& value) { return parse_whole(field, value); }

std::string location(const std::string& source, int64_t line, int64_t column) {
  return column > 0 ? fmt::format("{}:{}:{}", source, line, column) : fmt::format("{}:{}", source, line);
}

}  // namespace dispa::io
