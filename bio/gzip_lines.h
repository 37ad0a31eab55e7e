// Line-by-line reading of text that may be gzip-compressed (10x Genomics writes matrix.mtx.gz,
// features.tsv.gz and barcodes.tsv.gz), from a file or from bytes in memory (so a fuzz target can
// feed it directly). Compression is detected from the gzip magic bytes, not the file name, and
// inflated with zlib in fixed-size chunks: memory stays bounded whatever the file's size.
// Concatenated gzip members (bgzip, `cat a.gz b.gz`) are read as one stream.
// Errors name the source: a corrupt stream ("matrix.mtx.gz: corrupt gzip data: invalid block
// type"), a truncated one ("ends inside the compressed stream"), and a line longer than
// kMaxLineBytes (a binary file given as text).
#pragma once
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dispa::bio {

class GzipLines {
 public:
  static constexpr size_t kMaxLineBytes = size_t(16) << 20;

  static GzipLines open(const std::filesystem::path& path);
  // `bytes` must outlive the reader; `source` names it in messages.
  static GzipLines from_memory(std::string_view bytes, std::string source);
  GzipLines(GzipLines&&) noexcept;
  GzipLines& operator=(GzipLines&&) noexcept;
  ~GzipLines();

  // Next line without its terminator ('\n' or "\r\n"); false at the end. The view is valid until
  // the next call.
  bool next(std::string_view& line);
  int64_t line_number() const { return line_; }  // 1-based number of the last line returned
  const std::string& source() const { return source_; }
  bool compressed() const { return compressed_; }
  // "source:line" for messages.
  std::string where() const;

 private:
  GzipLines() = default;
  struct Inflater;
  size_t read_raw(char* out, size_t capacity);     // compressed or plain bytes from the input
  bool fill();                                      // appends decoded bytes to buffer_; false at end

  std::string source_;
  struct CloseFile {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, CloseFile> file_;
  std::string_view memory_;
  size_t memory_pos_ = 0;
  bool compressed_ = false, input_done_ = false, output_done_ = false;
  std::unique_ptr<Inflater> inflater_;
  std::vector<char> in_chunk_;
  std::string buffer_;   // decoded bytes not yet returned as lines
  size_t start_ = 0;     // first unread byte of buffer_
  int64_t line_ = 0;
};

// Whole (decompressed) contents of a possibly gzip-compressed file, for small files.
std::string read_maybe_gzip(const std::filesystem::path& path);

}  // namespace dispa::bio
