// Heatmap and bar chart SVG writers (see attention_svg.h).
#include "analysis/attention_svg.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.h"
#include "train/svg_text.h"

namespace dispa::analysis {
namespace svg = train::svg;

namespace {

constexpr size_t kMaxRowLabel = 48;     // characters of a pathway name shown
constexpr size_t kMaxColumnLabel = 36;  // characters of a fragment SMILES shown
constexpr double kFont = 11;

// ColorBrewer RdBu (5 classes, reversed so that red is positive).
constexpr std::array<std::array<int, 3>, 5> kStops = {{{33, 102, 172}, {146, 197, 222}, {247, 247, 247},
                                                        {244, 165, 130}, {178, 24, 43}}};

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v)
    if (std::isfinite(x)) m = std::max(m, double(std::abs(x)));
  return m > 0 ? m : 1.0;
}

// Lines of a subtitle ('\n'-separated).
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (!text.empty() && start <= text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Height taken by the title and subtitle lines; the plot starts below it.
double header_height(const std::string& subtitle) { return 40 + 15 * double(lines_of(subtitle).size()); }

// Width the title and subtitle need.
double header_width(const std::string& title, const std::string& subtitle) {
  double w = 24 + svg::text_width(title.size(), 15);
  for (const std::string& line : lines_of(subtitle)) w = std::max(w, 24 + svg::text_width(line.size(), 11));
  return w;
}

std::string header(double width, double height, const std::string& title, const std::string& subtitle) {
  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" font-family="sans-serif">)"
      "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  out += fmt::format(R"(<text x="12" y="22" font-size="15" font-weight="bold">{}</text>)" "\n", svg::escape_xml(title));
  double y = 40;
  for (const std::string& line : lines_of(subtitle)) {
    out += fmt::format(R"(<text x="12" y="{:.0f}" font-size="11" fill="#444">{}</text>)" "\n", y, svg::escape_xml(line));
    y += 15;
  }
  return out;
}

}  // namespace

std::string diverging_colour(double t) {
  if (!std::isfinite(t)) return "#000000";
  t = std::clamp(t, -1.0, 1.0);
  const double x = (t + 1.0) * 2.0;  // 0..4 over the five stops
  const int i = std::min(3, int(std::floor(x)));
  const double f = x - i;
  int rgb[3];
  for (int c = 0; c < 3; ++c) rgb[c] = int(std::lround(kStops[i][c] + f * (kStops[i + 1][c] - kStops[i][c])));
  return fmt::format("#{:02x}{:02x}{:02x}", rgb[0], rgb[1], rgb[2]);
}

std::string heatmap_svg(const HeatmapSvg& f) {
  const size_t R = f.row_labels.size(), C = f.column_labels.size();
  DISPA_CHECK(R > 0 && C > 0, "heatmap_svg: nothing to draw ({} rows, {} columns)", R, C);
  DISPA_CHECK(f.values.size() == R * C, "heatmap_svg: {} values for {} x {} cells", f.values.size(), R, C);
  const double cw = 30, ch = 16;  // cell size
  size_t row_chars = 0, col_chars = 0;
  for (const auto& s : f.row_labels) row_chars = std::max(row_chars, std::min(kMaxRowLabel, s.size()));
  for (const auto& s : f.column_labels) col_chars = std::max(col_chars, std::min(kMaxColumnLabel, s.size()));
  const double x0 = 20 + svg::text_width(row_chars, kFont), y0 = header_height(f.subtitle) + 12;
  const double gw = cw * double(C), gh = ch * double(R);
  // Column labels hang below the grid at 45 degrees; their vertical extent is ~0.71 of their width.
  const double label_drop = 0.71 * svg::text_width(col_chars, kFont) + 14;
  const double legend_x = x0 + gw + 28, legend_h = std::clamp(gh, 120.0, 260.0);
  const double width = std::max({legend_x + 110, x0 + gw + 0.71 * svg::text_width(col_chars, kFont) + 20,
                                 header_width(f.title, f.subtitle)});
  const double height = y0 + std::max(gh, legend_h) + label_drop + 34;
  const double m = max_abs(f.values);

  std::string out = header(width, height, f.title, f.subtitle);
  // Cells, each with its exact value in a tooltip.
  for (size_t r = 0; r < R; ++r) {
    for (size_t c = 0; c < C; ++c) {
      const float v = f.values[r * C + c];
      out += fmt::format(
          R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{} | {}: {:.5g}</title></rect>)"
          "\n",
          x0 + cw * double(c), y0 + ch * double(r), cw, ch, diverging_colour(v / m), svg::escape_xml(f.row_labels[r]),
          svg::escape_xml(f.column_labels[c]), v);
    }
  }
  out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#555"/>)" "\n",
                     x0, y0, gw, gh);
  for (size_t r = 0; r < R; ++r)
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="{}" text-anchor="end">{}<title>{}</title></text>)" "\n",
                       x0 - 6, y0 + ch * (double(r) + 0.72), kFont,
                       svg::escape_xml(svg::shorten(f.row_labels[r], kMaxRowLabel)), svg::escape_xml(f.row_labels[r]));
  for (size_t c = 0; c < C; ++c) {
    const double x = x0 + cw * (double(c) + 0.5), y = y0 + gh + 8;
    out += fmt::format(
        R"svg(<text x="{0:.1f}" y="{1:.1f}" font-size="{2}" text-anchor="start" transform="rotate(45 {0:.1f} {1:.1f})">{3}<title>{4}</title></text>)svg"
        "\n",
        x, y, kFont, svg::escape_xml(svg::shorten(f.column_labels[c], kMaxColumnLabel)),
        svg::escape_xml(f.column_labels[c]));
  }
  if (!f.row_axis.empty())
    out += fmt::format(R"(<text x="12" y="{:.1f}" font-size="12" font-weight="bold">{}</text>)" "\n", y0 - 8,
                       svg::escape_xml(f.row_axis));
  if (!f.column_axis.empty())
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="12" font-weight="bold" text-anchor="middle">{}</text>)" "\n",
                       x0 + gw / 2, y0 + gh + label_drop + 20, svg::escape_xml(f.column_axis));

  // Colour bar: +m at the top, −m at the bottom, the same stops as the cells.
  out += R"(<defs><linearGradient id="scale" x1="0" y1="1" x2="0" y2="0">)";
  for (size_t i = 0; i < kStops.size(); ++i)
    out += fmt::format(R"(<stop offset="{:.2f}" stop-color="{}"/>)", double(i) / double(kStops.size() - 1),
                       diverging_colour(-1.0 + 2.0 * double(i) / double(kStops.size() - 1)));
  out += "</linearGradient></defs>\n";
  out += fmt::format(R"svg(<rect x="{:.1f}" y="{:.1f}" width="14" height="{:.1f}" fill="url(#scale)" stroke="#555"/>)svg" "\n",
                     legend_x, y0, legend_h);
  for (int i = 0; i <= 4; ++i) {
    const double v = m * (1.0 - 0.5 * i), y = y0 + legend_h * 0.25 * i;
    out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#555"/>)" "\n", legend_x + 14, y,
                       legend_x + 18, y);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="10">{:.3g}</text>)" "\n", legend_x + 21, y + 3.5,
                       std::abs(v) < 1e-12 ? 0.0 : v);
  }
  out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="11">{}</text>)" "\n", legend_x, y0 + legend_h + 16,
                     svg::escape_xml(f.value_label));
  out += "</svg>\n";
  return out;
}

std::string bar_chart_svg(const BarChartSvg& f) {
  const size_t N = f.labels.size();
  DISPA_CHECK(N > 0, "bar_chart_svg: no bars");
  DISPA_CHECK(f.values.size() == N, "bar_chart_svg: {} values for {} labels", f.values.size(), N);
  double lo = 0, hi = 0;
  for (float v : f.values)
    if (std::isfinite(v)) lo = std::min(lo, double(v)), hi = std::max(hi, double(v));
  const std::vector<double> ticks = svg::nice_ticks(lo, hi, 5);
  size_t chars = 0;
  for (const auto& s : f.labels) chars = std::max(chars, std::min(kMaxRowLabel, s.size()));
  const double bh = 18, x0 = 20 + svg::text_width(chars, kFont), y0 = header_height(f.subtitle) + 8, pw = 420;
  const double ph = bh * double(N);
  const double width = std::max(x0 + pw + 70, header_width(f.title, f.subtitle)), height = y0 + ph + 52;
  auto px = [&](double v) { return x0 + (v - lo) / (hi - lo) * pw; };

  std::string out = header(width, height, f.title, f.subtitle);
  for (const double t : ticks) {
    out += fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="{3}"/>)" "\n", px(t), y0,
                       y0 + ph, t == 0.0 ? "#333" : "#e3e3e3");
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="10" text-anchor="middle">{:.3g}</text>)" "\n", px(t),
                       y0 + ph + 14, t);
  }
  const double m = std::max(std::abs(lo), std::abs(hi));
  for (size_t i = 0; i < N; ++i) {
    const double v = std::isfinite(f.values[i]) ? f.values[i] : 0.0, y = y0 + bh * double(i);
    const double a = std::min(px(0), px(v)), b = std::max(px(0), px(v));
    if (!std::isfinite(f.values[i])) {  // a row without a value: its label only (e.g. "... 140 more ...")
      out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="{}" fill="#777" font-style="italic" text-anchor="end">{}</text>)" "\n",
                         x0 - 6, y + bh * 0.7, kFont, svg::escape_xml(svg::shorten(f.labels[i], kMaxRowLabel)));
      continue;
    }
    out += fmt::format(
        R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="{}"><title>{}: {:.5g}</title></rect>)" "\n", a,
        y + 2, std::max(b - a, 0.5), bh - 4, diverging_colour((v < 0 ? -1.0 : 1.0) * (0.25 + 0.75 * std::abs(v) / m)),
        svg::escape_xml(f.labels[i]), f.values[i]);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="{}" text-anchor="end">{}<title>{}</title></text>)" "\n",
                       x0 - 6, y + bh * 0.7, kFont, svg::escape_xml(svg::shorten(f.labels[i], kMaxRowLabel)),
                       svg::escape_xml(f.labels[i]));
    // Value beside the bar's outer end; for a negative bar right of the zero line (clear of the labels).
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="9" fill="#333">{:.3g}</text>)" "\n", b + 3,
                       y + bh * 0.68, f.values[i]);
  }
  out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle">{}</text>)" "\n", x0 + pw / 2,
                     y0 + ph + 36, svg::escape_xml(f.value_label));
  out += "</svg>\n";
  return out;
}

namespace {
// The value of attribute `name` in the root tag of an SVG document.
double root_attribute(const std::string& svg_text, const std::string& name) {
  const size_t root = svg_text.find("<svg");
  const size_t end = svg_text.find('>', root);
  const size_t at = svg_text.find(" " + name + "=\"", root);
  DISPA_CHECK(root != std::string::npos && at != std::string::npos && at < end,
              "stack_svgs: a figure's root tag has no {} attribute", name);
  return std::stod(svg_text.substr(at + name.size() + 3));
}
}  // namespace

std::string stack_svgs(const std::vector<std::string>& figures) {
  double width = 0, height = 0;
  std::string body;
  for (const std::string& f : figures) {
    const double w = root_attribute(f, "width"), h = root_attribute(f, "height");
    const size_t root = f.find("<svg");
    body += f.substr(0, root) + fmt::format(R"(<svg x="0" y="{:.0f}")", height) + f.substr(root + 4);
    width = std::max(width, w);
    height += h;
  }
  return fmt::format(R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}">)"
                     "\n{2}</svg>\n",
                     width, height, body);
}

}  // namespace dispa::analysis
