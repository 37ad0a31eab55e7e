// A small reader for the benchmark's tab-separated tables (../shared/data/gdsc2/README.md): one
// header line, LF line endings (a trailing CR is tolerated and stripped), no empty cells, `NA` for
// missing. Every error names the file and the 1-based line, so a broken row is found by `sed -n`;
// echoed values are shortened (io::shorten). The text comes from engine/io/text (gzip read, a
// UTF-8 BOM dropped). Used by train/response.cpp and train/splits.cpp; only the parsing that
// train/ needs lives here.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/io/text.h"

namespace dispa::train {

class TsvReader {
 public:
  // Opens `path` and reads the header.
  // Lines starting with '#' before the header are comments (returned by comments()).
  explicit TsvReader(const std::filesystem::path& path);
  // The same over text in memory; `source` names it in errors (as the path would).
  TsvReader(std::string text, const std::string& source);
  TsvReader(const TsvReader&) = delete;  // lines_ points into text_
  TsvReader& operator=(const TsvReader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  const std::vector<std::string>& header() const { return header_; }
  const std::vector<std::string>& comments() const { return comments_; }
  // Index of a header column; throws naming the file and the columns it has when absent.
  int column(std::string_view name) const;
  // -1 when absent.
  int find_column(std::string_view name) const;

  // Reads the next data row into fields(); false at end of file. Blank lines are an error (the
  // format has none), and so is a row whose field count differs from the header's.
  bool next();
  const std::vector<std::string>& fields() const { return fields_; }
  const std::string& field(int column) const { return fields_[static_cast<size_t>(column)]; }
  int64_t line() const { return line_; }  // 1-based line number of the current row

  // A finite double in field `column`; throws naming file, line, column and the text otherwise
  // (covers `NA`, `nan`, `inf`, empty text and trailing garbage).
  double finite_double(int column) const;
  // "file:line" for messages.
  std::string where() const;

 private:
  void read_header();

  std::filesystem::path path_;
  std::string text_;
  io::LineScanner lines_;
  std::vector<std::string> header_, comments_, fields_;
  int64_t line_ = 0;
};

}  // namespace dispa::train
