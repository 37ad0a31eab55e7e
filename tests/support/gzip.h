// gzip-compressing text for tests that feed compressed files to dispa's readers (the product only
// decompresses). One member per call; concatenate results for multi-member files.
#pragma once
#include <stdexcept>
#include <string>
#include <string_view>

#include <zlib.h>

namespace dispa::test {

inline std::string gzip_compress(std::string_view text, int level = Z_DEFAULT_COMPRESSION) {
  z_stream zs{};
  if (deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("gzip_compress: deflateInit2 failed");
  std::string out(deflateBound(&zs, uLong(text.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = uInt(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = uInt(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip_compress: deflate did not finish");
  return out;
}

}  // namespace dispa::test
