// Small text helpers for the SVG figures train/ writes by hand (no plotting library): XML
// escaping, label shortening, "nice" axis ticks (multiples of 1, 2 or 5 x 10^k) and an atomic
// file write.
#pragma once
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"

namespace dispa::train::svg {

inline std::string escape_xml(const std::string& s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// At most `max_chars` characters, the cut marked with "..." (the full text goes in a <title>).
inline std::string shorten(const std::string& s, size_t max_chars) {
  return s.size() <= max_chars ? s : s.substr(0, max_chars - 3) + "...";
}

// Width in pixels of `chars` characters of a sans-serif font at `font_size` (an average glyph is
// about 0.6 em): enough to reserve margins without measuring text.
inline double text_width(size_t chars, double font_size) { return 0.6 * font_size * double(chars); }

// Ticks covering [lo, hi] with about `target` intervals; lo and hi widen to the outer ticks.
inline std::vector<double> nice_ticks(double& lo, double& hi, int target) {
  if (!(hi > lo)) {
    const double pad = lo == 0.0 ? 1.0 : 0.1 * std::abs(lo);
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double frac = raw / mag;
  const double step = (frac <= 1.0 ? 1.0 : frac <= 2.0 ? 2.0 : frac <= 5.0 ? 5.0 : 10.0) * mag;
  lo = std::floor(lo / step) * step;
  hi = std::ceil(hi / step) * step;
  std::vector<double> ticks;
  for (double t = lo; t <= hi + 0.5 * step; t += step) ticks.push_back(std::abs(t) < 1e-12 * step ? 0.0 : t);
  return ticks;
}

// Writes `text` atomically (engine/io/atomic_file.h).
inline void write_file(const std::filesystem::path& file, const std::string& text) {
  io::write_file_atomically(file, text);
}

}  // namespace dispa::train::svg
