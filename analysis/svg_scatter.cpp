// Scatter plot SVG (see svg_scatter.h).
#include "analysis/svg_scatter.h"

#include <algorithm>
#include <array>
#include <cmath>

#include <fmt/format.h>

#include "engine/error.h"
#include "train/svg_text.h"

namespace dispa::analysis {
namespace svg = train::svg;

namespace {
// Okabe-Ito colours (distinguishable with colour-vision deficiencies).
constexpr std::array<const char*, 7> kColours = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                                 "#e69f00", "#56b4e9", "#999999"};
}  // namespace

std::string scatter_svg(const ScatterSvg& f) {
  const size_t n = f.x.size();
  DISPA_CHECK(n > 0 && f.y.size() == n && f.labels.size() == n && f.group.size() == n,
              "scatter_svg: {} x, {} y, {} labels, {} groups", n, f.y.size(), f.labels.size(), f.group.size());
  DISPA_CHECK(f.labelled.empty() || f.labelled.size() == n, "scatter_svg: {} labelled flags for {} points",
              f.labelled.size(), n);
  double x_lo = *std::min_element(f.x.begin(), f.x.end()), x_hi = *std::max_element(f.x.begin(), f.x.end());
  double y_lo = *std::min_element(f.y.begin(), f.y.end()), y_hi = *std::max_element(f.y.begin(), f.y.end());
  const std::vector<double> xt = svg::nice_ticks(x_lo, x_hi, 6), yt = svg::nice_ticks(y_lo, y_hi, 6);
  const double x0 = 70, y0 = 58, pw = 560, ph = 400, legend_x = x0 + pw + 24;
  size_t legend_chars = 0;
  for (const auto& g : f.group_names) legend_chars = std::max(legend_chars, g.size());
  const double width = std::max(legend_x + 30 + svg::text_width(legend_chars, 11) + 20,
                                24 + svg::text_width(std::max(f.title.size(), f.subtitle.size()), 13));
  const double height = y0 + ph + 56;
  auto px = [&](double v) { return x0 + (v - x_lo) / (x_hi - x_lo) * pw; };
  auto py = [&](double v) { return y0 + ph - (v - y_lo) / (y_hi - y_lo) * ph; };

  std::string out = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{0:.0f}" height="{1:.0f}" viewBox="0 0 {0:.0f} {1:.0f}" font-family="sans-serif">)"
      "\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      R"(<text x="12" y="22" font-size="15" font-weight="bold">{2}</text>)" "\n"
      R"(<text x="12" y="40" font-size="11" fill="#444">{3}</text>)" "\n",
      width, height, svg::escape_xml(f.title), svg::escape_xml(f.subtitle));
  for (double t : xt)
    out += fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{0:.1f}" y2="{2:.1f}" stroke="#e6e6e6"/>)"
                       R"(<text x="{0:.1f}" y="{3:.1f}" font-size="10" text-anchor="middle">{4:.3g}</text>)" "\n",
                       px(t), y0, y0 + ph, y0 + ph + 14, t);
  for (double t : yt)
    out += fmt::format(R"(<line x1="{0:.1f}" y1="{1:.1f}" x2="{2:.1f}" y2="{1:.1f}" stroke="#e6e6e6"/>)"
                       R"(<text x="{3:.1f}" y="{4:.1f}" font-size="10" text-anchor="end">{5:.3g}</text>)" "\n",
                       x0, py(t), x0 + pw, x0 - 6, py(t) + 3.5, t);
  out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#555"/>)" "\n", x0,
                     y0, pw, ph);
  out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle">{}</text>)" "\n", x0 + pw / 2,
                     y0 + ph + 36, svg::escape_xml(f.x_label));
  out += fmt::format(R"svg(<text x="16" y="{0:.1f}" font-size="12" text-anchor="middle" transform="rotate(-90 16 {0:.1f})">{1}</text>)svg" "\n",
                     y0 + ph / 2, svg::escape_xml(f.y_label));
  if (f.diagonal) {
    const double a = std::max(x_lo, y_lo), b = std::min(x_hi, y_hi);
    if (b > a)
      out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#888" stroke-dasharray="4 3"/>)" "\n",
                         px(a), py(a), px(b), py(b));
  }
  for (size_t i = 0; i < n; ++i) {
    const char* colour = kColours[size_t(f.group[i]) % kColours.size()];
    out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="4" fill="{}" fill-opacity="0.75"><title>{}: ({:.4g}, {:.4g})</title></circle>)" "\n",
                       px(f.x[i]), py(f.y[i]), colour, svg::escape_xml(f.labels[i]), f.x[i], f.y[i]);
    if (!f.labelled.empty() && f.labelled[i])
      out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="9" fill="#333">{}</text>)" "\n", px(f.x[i]) + 6,
                         py(f.y[i]) + 3, svg::escape_xml(svg::shorten(f.labels[i], 24)));
  }
  for (size_t g = 0; g < f.group_names.size(); ++g)
    out += fmt::format(R"(<circle cx="{0:.1f}" cy="{1:.1f}" r="5" fill="{2}"/><text x="{3:.1f}" y="{4:.1f}" font-size="11">{5}</text>)" "\n",
                       legend_x + 6, y0 + 10 + 18 * double(g), kColours[g % kColours.size()], legend_x + 16,
                       y0 + 14 + 18 * double(g), svg::escape_xml(f.group_names[g]));
  out += "</svg>\n";
  return out;
}

}  // namespace dispa::analysis
