// Gzip-aware line reading (see gzip_lines.h).
#include "bio/gzip_lines.h"

#include <algorithm>
#include <cstring>

#include <zlib.h>

#include "engine/error.h"

namespace dispa::bio {

namespace {
constexpr size_t kChunk = size_t(256) << 10;
}

struct GzipLines::Inflater {
  z_stream z{};
  bool in_member = false;  // inside a gzip member (between its header and its end)
  Inflater() {
    // 15 + 16: a gzip wrapper (not zlib or raw deflate), the full 32 KB window.
    if (inflateInit2(&z, 15 + 16) != Z_OK) fail("zlib: inflateInit2 failed");
  }
  ~Inflater() { inflateEnd(&z); }
};

GzipLines::GzipLines(GzipLines&&) noexcept = default;
GzipLines& GzipLines::operator=(GzipLines&&) noexcept = default;
GzipLines::~GzipLines() = default;

GzipLines GzipLines::open(const std::filesystem::path& path) {
  GzipLines r;
  r.source_ = path.string();
  r.file_.reset(std::fopen(path.c_str(), "rb"));
  DISPA_CHECK(r.file_ != nullptr, "cannot open '{}': {}", r.source_, std::strerror(errno));
  r.in_chunk_.resize(kChunk);
  const size_t n = r.read_raw(r.in_chunk_.data(), 2);
  r.compressed_ = n == 2 && uint8_t(r.in_chunk_[0]) == 0x1f && uint8_t(r.in_chunk_[1]) == 0x8b;
  std::rewind(r.file_.get());
  r.input_done_ = false;
  if (r.compressed_) r.inflater_ = std::make_unique<Inflater>();
  return r;
}

GzipLines GzipLines::from_memory(std::string_view bytes, std::string source) {
  GzipLines r;
  r.source_ = std::move(source);
  r.memory_ = bytes;
  r.in_chunk_.resize(std::max<size_t>(1, std::min(kChunk, bytes.size())));  // small inputs, small buffers
  r.compressed_ = bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b;
  if (r.compressed_) r.inflater_ = std::make_unique<Inflater>();
  return r;
}

std::string GzipLines::where() const { return source_ + ":" + std::to_string(line_); }

size_t GzipLines::read_raw(char* out, size_t capacity) {
  if (input_done_) return 0;
  size_t n = 0;
  if (file_) {
    n = std::fread(out, 1, capacity, file_.get());
    DISPA_CHECK(!std::ferror(file_.get()), "{}: read error: {}", source_, std::strerror(errno));
  } else {
    n = std::min(capacity, memory_.size() - memory_pos_);
    if (n > 0) std::memcpy(out, memory_.data() + memory_pos_, n);  // an empty view may hold nullptr
    memory_pos_ += n;
  }
  if (n == 0) input_done_ = true;
  return n;
}

bool GzipLines::fill() {
  if (output_done_) return false;
  if (!compressed_) {
    const size_t old = buffer_.size();
    const size_t chunk = file_ ? kChunk : std::min(kChunk, memory_.size() - memory_pos_);
    buffer_.resize(old + chunk);
    const size_t n = read_raw(buffer_.data() + old, chunk);
    buffer_.resize(old + n);
    if (n == 0) output_done_ = true;
    return n > 0;
  }
  z_stream& z = inflater_->z;
  char out[kChunk];
  while (true) {
    if (z.avail_in == 0) {
      const size_t n = read_raw(in_chunk_.data(), in_chunk_.size());
      if (n == 0) {
        DISPA_CHECK(!inflater_->in_member, "{}: the file ends inside the compressed stream (truncated gzip, after line {})",
                    source_, line_);
        output_done_ = true;
        return false;
      }
      z.next_in = reinterpret_cast<Bytef*>(in_chunk_.data());
      z.avail_in = uInt(n);
    }
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = uInt(sizeof out);
    inflater_->in_member = true;
    const int rc = inflate(&z, Z_NO_FLUSH);
    const size_t produced = sizeof out - z.avail_out;
    buffer_.append(out, produced);
    if (rc == Z_STREAM_END) {
      // Another member may follow (concatenated gzip); anything else after it is corrupt.
      inflater_->in_member = false;
      DISPA_CHECK(inflateReset(&z) == Z_OK, "{}: zlib: inflateReset failed", source_);
    } else if (rc != Z_OK && !(rc == Z_BUF_ERROR && produced == 0 && z.avail_in == 0)) {
      fail("{}: corrupt gzip data after line {}: {}", source_, line_, z.msg ? z.msg : zError(rc));
    }
    if (produced > 0) return true;
  }
}

bool GzipLines::next(std::string_view& line) {
  while (true) {
    const size_t nl = buffer_.find('\n', start_);
    if (nl != std::string::npos) {
      size_t end = nl;
      if (end > start_ && buffer_[end - 1] == '\r') --end;
      line = std::string_view(buffer_).substr(start_, end - start_);
      start_ = nl + 1;
      ++line_;
      return true;
    }
    // Keep the partial line, drop what was consumed, then decode more.
    if (start_ > 0) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    DISPA_CHECK(buffer_.size() <= kMaxLineBytes, "{}: line {} is longer than {} MB (is this a text file?)", source_,
                line_ + 1, kMaxLineBytes >> 20);
    if (!fill()) {
      if (buffer_.empty()) return false;
      size_t end = buffer_.size();
      if (buffer_[end - 1] == '\r') --end;
      line = std::string_view(buffer_).substr(0, end);
      start_ = buffer_.size();
      ++line_;
      return true;
    }
  }
}

std::string read_maybe_gzip(const std::filesystem::path& path) {
  GzipLines lines = GzipLines::open(path);
  std::string out;
  std::string_view line;
  while (lines.next(line)) {
    out.append(line);
    out.push_back('\n');
  }
  return out;
}

}  // namespace dispa::bio
