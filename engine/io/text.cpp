// Text reading for every table reader (rules in text.h): whole-file reads, gzip through zlib, the
// BOM rule, shortened echoes, and the line/field scanning.
#include "engine/io/text.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "engine/error.h"
#include "engine/log.h"

namespace dispa::io {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
constexpr size_t kProgressMinBytes = size_t(64) << 20;  // a progress line for gzip inputs above 64 MB

}  // namespace

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f && static_cast<unsigned char>(bytes[1]) == 0x8b;
}

std::string_view strip_bom(std::string_view text) {
  return text.substr(0, kUtf8Bom.size()) == kUtf8Bom ? text.substr(kUtf8Bom.size()) : text;
}

std::string gunzip(std::string_view bytes, const std::string& source) {
  z_stream zs{};
  // 15 + 16: a gzip wrapper (not zlib, not raw deflate); the header and CRC are checked by zlib.
  DISPA_CHECK(inflateInit2(&zs, 15 + 16) == Z_OK, "{}: cannot start zlib: {}", source, zs.msg ? zs.msg : "?");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, &inflateEnd);
  std::string out;
  out.reserve(std::min<size_t>(bytes.size() * 4, size_t(1) << 30));
  std::optional<logging::Progress> progress;
  if (bytes.size() >= kProgressMinBytes) progress.emplace(fmt::format("decompressing {} (MB)", source), int64_t(bytes.size() >> 20));
  size_t consumed = 0;  // input bytes handed to zlib so far
  char buffer[1 << 16];
  while (true) {
    // zlib counts in uInt: feed at most 1 GiB at a time.
    const size_t chunk = std::min<size_t>(bytes.size() - consumed, size_t(1) << 30);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data() + consumed));
    zs.avail_in = static_cast<uInt>(chunk);
    int rc = Z_OK;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(buffer);
      zs.avail_out = sizeof buffer;
      rc = inflate(&zs, Z_NO_FLUSH);
      DISPA_CHECK(rc == Z_OK || rc == Z_STREAM_END || (rc == Z_BUF_ERROR && zs.avail_in == 0),
                  "{}: corrupt gzip data after {} compressed bytes: {}", source, consumed + (chunk - zs.avail_in),
                  zs.msg ? zs.msg : zError(rc));
      out.append(buffer, sizeof buffer - zs.avail_out);
    } while (rc != Z_STREAM_END && (zs.avail_in > 0 || zs.avail_out == 0));
    consumed += chunk - zs.avail_in;
    if (progress) progress->update(int64_t(consumed >> 20));
    if (rc == Z_STREAM_END) {
      if (consumed == bytes.size()) break;
      // Another member follows (concatenated .gz files are one stream to gzip -d).
      DISPA_CHECK(is_gzip(bytes.substr(consumed)), "{}: {} bytes of non-gzip data after the compressed stream",
                  source, bytes.size() - consumed);
      DISPA_CHECK(inflateReset(&zs) == Z_OK, "{}: cannot restart zlib", source);
      continue;
    }
    DISPA_CHECK(consumed < bytes.size(), "{}: the gzip data is truncated (the stream ends early after {} bytes)",
                source, out.size());
  }
  if (progress) progress->finish();
  return out;
}

std::string read_text_file(const std::filesystem::path& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  DISPA_CHECK(file != nullptr, "cannot open '{}': {}", path.string(), std::strerror(errno));
  std::string text;
  char buffer[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file.get())) > 0) text.append(buffer, got);
  DISPA_CHECK(!std::ferror(file.get()), "cannot read '{}': {}", path.string(), std::strerror(errno));
  return decode_text(std::move(text), path.string());
}

std::string decode_text(std::string bytes, const std::string& source) {
  if (is_gzip(bytes)) bytes = gunzip(bytes, source);
  if (strip_bom(bytes).size() != bytes.size()) bytes.erase(0, kUtf8Bom.size());
  return bytes;
}

std::string shorten(std::string_view value, size_t keep) {
  size_t cut = std::min(value.size(), keep);
  // Back off to the start of a UTF-8 character (continuation bytes are 10xxxxxx).
  if (cut < value.size())
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
  std::string out;
  out.reserve(cut + 24);
  for (size_t i = 0; i < cut; ++i) {
    const unsigned char c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02X}", c);
    else
      out += static_cast<char>(c);
  }
  if (cut < value.size()) out += fmt::format("... ({} bytes)", value.size());
  return out;
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
