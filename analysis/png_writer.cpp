// PNG encoding and rasterising (see png_writer.h).
#include "analysis/png_writer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>

#include <zlib.h>

#include "engine/error.h"

namespace dispa::analysis {

RgbImage::RgbImage(int width, int height, Rgb background) : width_(width), height_(height) {
  DISPA_CHECK(width > 0 && height > 0 && width <= 16384 && height <= 16384, "png: bad image size {} x {}", width, height);
  rgb_.resize(size_t(width) * size_t(height) * 3);
  for (size_t i = 0; i < rgb_.size(); i += 3) {
    rgb_[i] = background.r;
    rgb_[i + 1] = background.g;
    rgb_[i + 2] = background.b;
  }
}

Rgb RgbImage::at(int x, int y) const {
  const size_t i = (size_t(y) * size_t(width_) + size_t(x)) * 3;
  return {rgb_[i], rgb_[i + 1], rgb_[i + 2]};
}

void RgbImage::set(int x, int y, Rgb c, double alpha) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_ || alpha <= 0) return;
  uint8_t* p = rgb_.data() + (size_t(y) * size_t(width_) + size_t(x)) * 3;
  const double a = std::min(1.0, alpha);
  p[0] = uint8_t(std::lround(p[0] * (1 - a) + c.r * a));
  p[1] = uint8_t(std::lround(p[1] * (1 - a) + c.g * a));
  p[2] = uint8_t(std::lround(p[2] * (1 - a) + c.b * a));
}

void RgbImage::fill_rect(int x0, int y0, int x1, int y1, Rgb c) {
  for (int y = std::max(0, y0); y < std::min(height_, y1); ++y)
    for (int x = std::max(0, x0); x < std::min(width_, x1); ++x) set(x, y, c);
}

void RgbImage::fill_disc(double cx, double cy, double r, Rgb c) {
  const int x0 = int(std::floor(cx - r)), x1 = int(std::ceil(cx + r)), y0 = int(std::floor(cy - r)),
            y1 = int(std::ceil(cy + r));
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      // Pixel (x, y) covers [x, x+1) x [y, y+1); count the sub-samples inside the disc.
      int inside = 0;
      for (int sy = 0; sy < 4; ++sy)
        for (int sx = 0; sx < 4; ++sx) {
          const double px = x + (sx + 0.5) / 4 - cx, py = y + (sy + 0.5) / 4 - cy;
          inside += px * px + py * py <= r * r;
        }
      if (inside) set(x, y, c, inside / 16.0);
    }
}

namespace {
// Rows of 5 bits, top to bottom (classic 5x7 glyphs).
const std::array<std::array<uint8_t, 7>, 12> kGlyphs = {{
    {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E},  // 0
    {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E},  // 1
    {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F},  // 2
    {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E},  // 3
    {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02},  // 4
    {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E},  // 5
    {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E},  // 6
    {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // 7
    {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E},  // 8
    {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C},  // 9
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C},  // .
    {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00},  // -
}};
}  // namespace

void RgbImage::draw_number_text(int x, int y, const std::string& text, int scale, Rgb c) {
  for (const char ch : text) {
    int glyph = -1;
    if (ch >= '0' && ch <= '9') glyph = ch - '0';
    if (ch == '.') glyph = 10;
    if (ch == '-') glyph = 11;
    if (glyph >= 0)
      for (int row = 0; row < 7; ++row)
        for (int col = 0; col < 5; ++col)
          if (kGlyphs[size_t(glyph)][size_t(row)] & (0x10 >> col))
            fill_rect(x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, c);
    x += 6 * scale;
  }
}

namespace {
void put_u32(std::string& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(char((v >> s) & 0xFF));
}
void put_chunk(std::string& out, const char* type, const std::string& data) {
  put_u32(out, uint32_t(data.size()));
  std::string body(type, 4);
  body += data;
  out += body;
  put_u32(out, uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
}
}  // namespace

std::string encode_png(const RgbImage& image) {
  const int w = image.width(), h = image.height();
  std::string raw;
  raw.reserve(size_t(h) * (size_t(w) * 3 + 1));
  for (int y = 0; y < h; ++y) {
    raw.push_back('\0');  // filter type 0 (none)
    raw.append(reinterpret_cast<const char*>(image.pixels().data()) + size_t(y) * size_t(w) * 3, size_t(w) * 3);
  }
  uLongf size = compressBound(uLong(raw.size()));
  std::string deflated(size, '\0');
  DISPA_CHECK(compress2(reinterpret_cast<Bytef*>(deflated.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
                        uLong(raw.size()), 9) == Z_OK,
              "png: zlib compression failed");
  deflated.resize(size);
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  put_u32(ihdr, uint32_t(w));
  put_u32(ihdr, uint32_t(h));
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit, RGB, deflate, filter 0, no interlace
  put_chunk(out, "IHDR", ihdr);
  put_chunk(out, "IDAT", deflated);
  put_chunk(out, "IEND", "");
  return out;
}

void write_png(const std::filesystem::path& file, const RgbImage& image) {
  const std::string bytes = encode_png(image);
  const std::filesystem::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    DISPA_CHECK(out.good(), "cannot write '{}'", tmp.string());
    out.write(bytes.data(), std::streamsize(bytes.size()));
    DISPA_CHECK(out.good(), "error writing '{}'", tmp.string());
  }
  std::filesystem::rename(tmp, file);
}

}  // namespace dispa::analysis
