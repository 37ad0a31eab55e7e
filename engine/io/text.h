// Line and field scanning for the project's plain-text tables (TSV, GCT, GMT; read by bio/, chem/
// and train/): the whole file is read at once and walked with memchr, so a 4 MB expression table is
// split in a few milliseconds. Positions are 1-based (line, column = tab-separated field) because
// every parse error names them. The one home of text reading: the readers above all use it, so
// what it normalises holds for every one of them:
//   * a gzip-compressed file (magic bytes 1f 8b) is decompressed (zlib), whatever its name;
//   * a UTF-8 byte-order mark (EF BB BF) at the start of the text is dropped, so the first header
//     field matches ("cell_id", not "\xEF\xBB\xBFcell_id");
//   * values echoed in error messages go through shorten(): a 10 MB field is not printed whole.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace dispa::io {

// The file's text: decompressed when it is gzip, without a leading UTF-8 BOM. Throws dispa::Error
// naming the path when it cannot be opened, read or decompressed.
std::string read_text_file(const std::filesystem::path& path);
// What read_text_file does to the bytes it read: gunzip when gzip, then drop a leading BOM.
std::string decode_text(std::string bytes, const std::string& source);

// True when `bytes` start with the gzip magic number (1f 8b).
bool is_gzip(std::string_view bytes);
// Decompresses gzip data (one or more concatenated members, as `gzip -c a b` writes); `source`
// names it in errors (corrupt or truncated data).
std::string gunzip(std::string_view bytes, const std::string& source);
// `text` without a leading UTF-8 byte-order mark.
std::string_view strip_bom(std::string_view text);

// A value as error messages echo it: at most `keep` bytes (cut at a UTF-8 character boundary),
// then "... (N bytes)" when it was longer; control bytes (tab, CR, NUL, ...) are written as \xNN
// so a message stays one readable line.
std::string shorten(std::string_view value, size_t keep = 60);

// Iterates lines ('\n' or "\r\n"), counting from 1. Lines keep no terminator. A UTF-8 BOM at the
// start of the text is skipped (text parsed from memory gets the same treatment as files).
class LineScanner {
 public:
  explicit LineScanner(std::string_view text) : text_(strip_bom(text)) {}
  // False at the end of the text; otherwise sets line and its number.
  bool next(std::string_view& line, int64_t& number);
  int64_t line_number() const { return number_; }
  size_t offset() const { return pos_; }  // bytes consumed so far (for progress)

 private:
  std::string_view text_;
  size_t pos_ = 0;
  int64_t number_ = 0;
};

// Splits on '\t' into `fields` (reused between calls to avoid allocations).
void split_tabs(std::string_view line, std::vector<std::string_view>& fields);
// The same as owned strings, after dropping one trailing '\r' (a CRLF line read with getline).
std::vector<std::string> split_tab_fields(std::string_view line);

// ASCII whitespace trimmed from both ends.
std::string_view trim(std::string_view s);

bool is_blank(std::string_view s);

// Strict number parsing of a whole (already trimmed) field with std::from_chars; a leading '+' is
// accepted. Returns false when the field is not entirely a number. "nan" parses (as NaN) and
// "inf" parses (as infinity): callers decide what those mean.
bool parse_number(std::string_view field, float& value);
bool parse_number(std::string_view field, double& value);
bool parse_integer(std::string_view field, int64_t& value);

// "expression.tsv:12:5" style location used at the start of every parse error.
std::string location(const std::string& source, int64_t line, int64_t column = 0);

}  // namespace dispa::io
