// Learning-curve SVG writer (see learning_curve_svg.h).
#include "train/learning_curve_svg.h"
#include "train/svg_text.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "engine/error.h"

namespace dispa::train {

namespace {

struct Series {
  std::string label, colour;
  std::vector<double> y;  // one per record, NaN = missing
  bool dashed = false;
};

struct Box {
  double x0, y0, w, h;  // plot area in pixels
};

using svg::escape_xml;
using svg::nice_ticks;

std::string tick_label(double v) {
  std::string s = fmt::format("{:.6g}", v);
  return s;
}

// One panel: frame, grid, ticks, the series as polylines (broken at NaN), a legend, and an
// optional marker (x index) drawn on series 0.
std::string panel(const Box& b, const std::string& title, const std::vector<int>& epochs,
                  const std::vector<Series>& series, int marker) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (const Series& s : series)
    for (const double v : s.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  std::string out;
  out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="14" text-anchor="middle">{}</text>)" "\n",
                     b.x0 + b.w / 2, b.y0 - 10, escape_xml(title));
  out += fmt::format(R"(<rect x="{:.1f}" y="{:.1f}" width="{:.1f}" height="{:.1f}" fill="none" stroke="#444"/>)" "\n",
                     b.x0, b.y0, b.w, b.h);
  if (!std::isfinite(lo)) {  // nothing to draw
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle" fill="#888">no data</text>)" "\n",
                       b.x0 + b.w / 2, b.y0 + b.h / 2);
    return out;
  }
  const std::vector<double> yt = nice_ticks(lo, hi, 5);
  double xlo = epochs.front(), xhi = epochs.back();
  const std::vector<double> xt = nice_ticks(xlo, xhi, std::min<int>(8, std::max<int>(1, epochs.back() - epochs.front())));
  auto px = [&](double e) { return b.x0 + (e - xlo) / (xhi - xlo) * b.w; };
  auto py = [&](double v) { return b.y0 + b.h - (v - lo) / (hi - lo) * b.h; };

  for (const double t : yt) {
    out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#ddd"/>)" "\n", b.x0, py(t),
                       b.x0 + b.w, py(t));
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="end">{}</text>)" "\n", b.x0 - 6,
                       py(t) + 4, tick_label(t));
  }
  for (const double t : xt) {
    if (std::abs(t - std::round(t)) > 1e-9) continue;  // epochs are integers
    out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="#444"/>)" "\n", px(t),
                       b.y0 + b.h, px(t), b.y0 + b.h + 4);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="middle">{}</text>)" "\n", px(t),
                       b.y0 + b.h + 17, tick_label(t));
  }
  out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="12" text-anchor="middle">epoch</text>)" "\n",
                     b.x0 + b.w / 2, b.y0 + b.h + 34);

  const bool dots = epochs.size() <= 40;
  for (size_t si = 0; si < series.size(); ++si) {
    const Series& s = series[si];
    const std::string dash = s.dashed ? R"( stroke-dasharray="6,4")" : "";
    std::string points;
    auto flush = [&] {
      if (!points.empty())
        out += fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2"{} points="{}"/>)" "\n", s.colour, dash,
                           points);
      points.clear();
    };
    for (size_t i = 0; i < epochs.size(); ++i) {
      if (!std::isfinite(s.y[i])) {
        flush();
        continue;
      }
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", px(epochs[i]), py(s.y[i]));
      if (dots)
        out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)" "\n", px(epochs[i]), py(s.y[i]),
                           s.colour);
    }
    flush();
    // Legend entry, top right inside the frame.
    const double ly = b.y0 + 16 + 16 * static_cast<double>(si);
    out += fmt::format(R"(<line x1="{:.1f}" y1="{:.1f}" x2="{:.1f}" y2="{:.1f}" stroke="{}" stroke-width="2"{}/>)" "\n",
                       b.x0 + b.w - 150, ly - 4, b.x0 + b.w - 126, ly - 4, s.colour, dash);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="11">{}</text>)" "\n", b.x0 + b.w - 120, ly,
                       escape_xml(s.label));
  }
  if (marker >= 0) {
    const double x = px(epochs[static_cast<size_t>(marker)]), y = py(series[0].y[static_cast<size_t>(marker)]);
    out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="6" fill="none" stroke="#000" stroke-width="1.5"/>)" "\n",
                       x, y);
    out += fmt::format(R"(<text x="{:.1f}" y="{:.1f}" font-size="11" text-anchor="middle">best {}</text>)" "\n", x,
                       y - 10, tick_label(series[0].y[static_cast<size_t>(marker)]));
  }
  return out;
}

}  // namespace

std::string learning_curve_svg(std::span<const LearningCurvePoint> records, const LearningCurveOptions& o) {
  DISPA_CHECK(!records.empty(), "learning_curve_svg: no epochs to plot");
  DISPA_CHECK(o.width >= 200 && o.height >= 150, "learning_curve_svg: figure {}x{} is too small", o.width, o.height);
  std::vector<int> epochs;
  Series train{"train loss", "#1f77b4", {}, false}, val{"val loss", "#ff7f0e", {}, true},
      rmse{"val RMSE", "#2ca02c", {}, false};
  int best = -1;
  for (size_t i = 0; i < records.size(); ++i) {
    const LearningCurvePoint& r = records[i];
    DISPA_CHECK(i == 0 || r.epoch > records[i - 1].epoch,
                "learning_curve_svg: epochs must increase (record {} has epoch {} after {})", i, r.epoch,
                records[i - 1].epoch);
    epochs.push_back(r.epoch);
    train.y.push_back(r.train_loss);
    val.y.push_back(r.val_loss);
    rmse.y.push_back(r.val_rmse);
    if (std::isfinite(r.val_rmse) && (best < 0 || r.val_rmse < records[static_cast<size_t>(best)].val_rmse))
      best = static_cast<int>(i);
  }
  const double w = o.width, h = o.height;
  const double margin_l = 60, margin_r = 20, margin_t = 56, margin_b = 48, gap = 70;
  const double pw = (w - margin_l - margin_r - gap) / 2, ph = h - margin_t - margin_b;
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif">)"
      "\n",
      o.width, o.height, o.width, o.height);
  svg += fmt::format(R"(<rect width="100%" height="100%" fill="white"/>)" "\n");
  svg += fmt::format(R"(<text x="{:.1f}" y="22" font-size="16" font-weight="bold" text-anchor="middle">{}</text>)" "\n",
                     w / 2, escape_xml(o.title));
  svg += panel({margin_l, margin_t, pw, ph}, "loss (MSE)", epochs, {train, val}, -1);
  svg += panel({margin_l + pw + gap, margin_t, pw, ph}, "validation RMSE", epochs, {rmse}, best);
  svg += "</svg>\n";
  return svg;
}

void write_learning_curve_svg(const std::filesystem::path& file, std::span<const LearningCurvePoint> records,
                              const LearningCurveOptions& options) {
  svg::write_file(file, learning_curve_svg(records, options));
}

}  // namespace dispa::train
