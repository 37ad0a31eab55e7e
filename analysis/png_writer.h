// A tiny RGB raster and PNG encoder (zlib deflate, no libpng): enough for the spatial maps of
// `dispa transfer` (anti-aliased filled discs, rectangles for a colour bar, and numbers in a 5x7
// pixel font for its tick labels). PNG: 8-bit RGB, no interlace, filter 0 on every row.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace dispa::analysis {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

class RgbImage {
 public:
  RgbImage(int width, int height, Rgb background = {255, 255, 255});
  int width() const { return width_; }
  int height() const { return height_; }
  Rgb at(int x, int y) const;
  void set(int x, int y, Rgb c, double alpha = 1.0);  // blends; outside the image: ignored
  void fill_rect(int x0, int y0, int x1, int y1, Rgb c);  // [x0, x1) x [y0, y1)
  // Disc of radius r (pixels) centred at (cx, cy); edge pixels blended by 4x4 sub-sample coverage.
  void fill_disc(double cx, double cy, double r, Rgb c);
  // Digits, '.', '-' and ' ' in a 5x7 font scaled by `scale`; other characters are skipped.
  void draw_number_text(int x, int y, const std::string& text, int scale, Rgb c);
  const std::vector<uint8_t>& pixels() const { return rgb_; }

 private:
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

std::string encode_png(const RgbImage& image);
void write_png(const std::filesystem::path& file, const RgbImage& image);

}  // namespace dispa::analysis
