// Spatial map figures (see spatial_map.h).
#include "analysis/spatial_map.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.h"
#include "train/svg_text.h"

namespace dispa::analysis {

namespace svg = train::svg;

Rgb viridis(double t) {
  static constexpr std::array<std::array<int, 3>, 9> kStops = {{{68, 1, 84}, {71, 45, 123}, {59, 82, 139},
                                                                 {44, 114, 142}, {33, 145, 140}, {40, 174, 128},
                                                                 {94, 201, 98}, {173, 220, 48}, {253, 231, 37}}};
  if (!std::isfinite(t)) return {128, 128, 128};
  t = std::clamp(t, 0.0, 1.0) * 8.0;
  const int i = std::min(7, int(std::floor(t)));
  const double f = t - i;
  auto mix = [&](int c) { return uint8_t(std::lround(kStops[size_t(i)][size_t(c)] * (1 - f) + kStops[size_t(i) + 1][size_t(c)] * f)); };
  return {mix(0), mix(1), mix(2)};
}

double median_nearest_distance(const std::vector<double>& x, const std::vector<double>& y) {
  const size_t n = x.size();
  if (n < 2) return 1.0;
  const size_t step = std::max<size_t>(1, n / 2000);
  std::vector<double> d;
  for (size_t i = 0; i < n; i += step) {
    double best = INFINITY;
    for (size_t j = 0; j < n; ++j)
      if (j != i) best = std::min(best, std::hypot(x[i] - x[j], y[i] - y[j]));
    if (best > 0 && std::isfinite(best)) d.push_back(best);
  }
  if (d.empty()) return 1.0;
  std::nth_element(d.begin(), d.begin() + long(d.size() / 2), d.end());
  return d[d.size() / 2];
}

namespace {

// Where things go: plot area, scale from data units to pixels, colour range.
struct Layout {
  double x_min = 0, y_min = 0, scale = 1, radius = 1, offset_x = 0, offset_y = 0;
  double lo = 0, hi = 1;
  int width = 0, height = 0, plot_w = 0, plot_h = 0, bar_x = 0;
  static constexpr int kTop = 56, kBottom = 16, kLeft = 16, kBarArea = 110;
  double px(double x) const { return offset_x + (x - x_min) * scale; }
  double py(double y) const { return offset_y + (y - y_min) * scale; }
  double t(double v) const { return hi > lo ? (v - lo) / (hi - lo) : 0.5; }
};

Layout layout_of(const SpatialMap& m) {
  DISPA_CHECK(!m.x.empty() && m.x.size() == m.y.size() && m.x.size() == m.values.size() && m.ids.size() == m.x.size(),
              "spatial map '{}': {} ids, {} x, {} y and {} values (need the same, non-zero number)", m.title,
              m.ids.size(), m.x.size(), m.y.size(), m.values.size());
  Layout l;
  const auto [xmn, xmx] = std::minmax_element(m.x.begin(), m.x.end());
  const auto [ymn, ymx] = std::minmax_element(m.y.begin(), m.y.end());
  const double nn = median_nearest_distance(m.x, m.y);
  const double pad = nn;  // room for the discs at the border
  l.x_min = *xmn - pad;
  l.y_min = *ymn - pad;
  const double span_x = *xmx - *xmn + 2 * pad, span_y = *ymx - *ymn + 2 * pad;
  l.width = std::max(320, m.width);
  l.plot_w = l.width - Layout::kLeft - Layout::kBarArea;
  l.scale = l.plot_w / span_x;
  l.plot_h = int(std::ceil(span_y * l.scale));
  if (l.plot_h > 2 * l.plot_w) {  // very tall tissue: fit the height instead
    l.plot_h = 2 * l.plot_w;
    l.scale = l.plot_h / span_y;
  }
  l.height = Layout::kTop + l.plot_h + Layout::kBottom;
  l.offset_x = Layout::kLeft;
  l.offset_y = Layout::kTop;
  l.radius = std::max(1.0, 0.45 * nn * l.scale);
  l.bar_x = l.width - Layout::kBarArea + 24;
  l.lo = INFINITY;
  l.hi = -INFINITY;
  for (float v : m.values)
    if (std::isfinite(v)) {
      l.lo = std::min(l.lo, double(v));
      l.hi = std::max(l.hi, double(v));
    }
  if (!std::isfinite(l.lo)) l.lo = l.hi = 0;
  return l;
}

std::string hex(Rgb c) { return fmt::format("#{:02x}{:02x}{:02x}", c.r, c.g, c.b); }

// Tick values for the colour bar: lo, hi and the nice ticks between them.
std::vector<double> bar_ticks(double lo, double hi) {
  double a = lo, b = hi;
  std::vector<double> ticks = svg::nice_ticks(a, b, 4);
  std::vector<double> out;
  for (double t : ticks)
    if (t >= lo - 1e-9 && t <= hi + 1e-9) out.push_back(t);
  return out;
}

constexpr int kBarWidth = 16;

}  // namespace

std::string spatial_map_svg(const SpatialMap& m) {
  const Layout l = layout_of(m);
  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" viewBox="0 0 {0} {1}" font-family="sans-serif">)"
      "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      l.width, l.height);
  out += fmt::format(R"(<text x="12" y="22" font-size="15" font-weight="bold">{}</text>)" "\n", svg::escape_xml(m.title));
  out += fmt::format(R"(<text x="12" y="40" font-size="11" fill="#444">{}</text>)" "\n", svg::escape_xml(m.subtitle));
  out += "<g stroke=\"none\">\n";
  for (size_t i = 0; i < m.x.size(); ++i)
    out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="{:.1f}" fill="{}"><title>{}: {:.3f}</title></circle>)" "\n",
                       l.px(m.x[i]), l.py(m.y[i]), l.radius, hex(viridis(l.t(m.values[i]))), svg::escape_xml(m.ids[i]),
                       m.values[i]);
  out += "</g>\n";
  // Colour bar: high values at the top.
  const int bar_top = Layout::kTop, bar_h = std::min(l.plot_h, 240);
  out += "<defs><linearGradient id=\"bar\" x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\">";
  for (int s = 0; s <= 8; ++s)
    out += fmt::format(R"(<stop offset="{:.3f}" stop-color="{}"/>)", s / 8.0, hex(viridis(s / 8.0)));
  out += "</linearGradient></defs>\n";
  out += fmt::format(R"svg(<rect x="{}" y="{}" width="{}" height="{}" fill="url(#bar)" stroke="#666"/>)svg" "\n", l.bar_x,
                     bar_top, kBarWidth, bar_h);
  for (double t : bar_ticks(l.lo, l.hi)) {
    const double y = bar_top + bar_h * (1 - l.t(t));
    out += fmt::format(R"(<line x1="{0}" x2="{1}" y1="{2:.1f}" y2="{2:.1f}" stroke="#333"/><text x="{3}" y="{4:.1f}" font-size="10">{5:g}</text>)" "\n",
                       l.bar_x + kBarWidth, l.bar_x + kBarWidth + 4, y, l.bar_x + kBarWidth + 6, y + 3.5, t);
  }
  // Caption right of the tick labels, reading downwards (rotated glyphs extend to the right of x).
  const int caption_x = l.bar_x + kBarWidth + 40;
  out += fmt::format(R"svg(<text x="{}" y="{}" font-size="10" fill="#444" transform="rotate(90 {} {})">{}</text>)svg" "\n",
                     caption_x, bar_top, caption_x, bar_top, svg::escape_xml(m.value_label));
  out += "</svg>\n";
  return out;
}

RgbImage spatial_map_image(const SpatialMap& m) {
  const Layout l = layout_of(m);
  RgbImage image(l.width, l.height);
  for (size_t i = 0; i < m.x.size(); ++i) image.fill_disc(l.px(m.x[i]), l.py(m.y[i]), l.radius, viridis(l.t(m.values[i])));
  const int bar_top = Layout::kTop, bar_h = std::min(l.plot_h, 240);
  for (int y = 0; y < bar_h; ++y)
    image.fill_rect(l.bar_x, bar_top + y, l.bar_x + kBarWidth, bar_top + y + 1, viridis(1.0 - (y + 0.5) / bar_h));
  const Rgb ink{40, 40, 40};
  for (double t : bar_ticks(l.lo, l.hi)) {
    const int y = int(std::lround(bar_top + bar_h * (1 - l.t(t))));
    image.fill_rect(l.bar_x + kBarWidth, y, l.bar_x + kBarWidth + 4, y + 1, ink);
    image.draw_number_text(l.bar_x + kBarWidth + 7, y - 3, fmt::format("{:g}", t), 1, ink);
  }
  return image;
}

}  // namespace dispa::analysis
