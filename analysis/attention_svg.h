// The two figures of `dispa explain`, as plain SVG text written here:
//  * a heatmap (rows x columns, e.g. pathway names x fragment SMILES) on a diverging blue-white-red
//    scale symmetric around 0 (differential attention A = softmax1 − λ·softmax2 can be negative),
//    with a colour bar, and each cell's exact value in a tooltip (<title>);
//  * a horizontal bar chart of labelled values (e.g. the top pathways of the Drug2Path map),
//    bars left of the zero line for negative values.
// Long labels are shortened on the figure; the full text is in the tooltip.
#pragma once
#include <string>
#include <vector>

namespace dispa::analysis {

struct HeatmapSvg {
  std::string title, subtitle;
  std::string row_axis, column_axis;           // axis captions
  std::string value_label = "attention";       // colour-bar caption
  std::vector<std::string> row_labels, column_labels;
  std::vector<float> values;                   // [rows, columns] row-major
};
std::string heatmap_svg(const HeatmapSvg& figure);

struct BarChartSvg {
  std::string title, subtitle;
  std::string value_label;                      // x-axis caption
  std::vector<std::string> labels;              // one per bar, top to bottom
  std::vector<float> values;                    // NaN: a row with its label only (a gap marker)
};
std::string bar_chart_svg(const BarChartSvg& figure);

// Figures from heatmap_svg / bar_chart_svg (or any SVG whose root tag states width and height)
// stacked top to bottom in one SVG document.
std::string stack_svgs(const std::vector<std::string>& figures);

// RdBu-style diverging colour of t in [-1, 1] (clamped): blue < 0 < red, near-white at 0.
std::string diverging_colour(double t);

}  // namespace dispa::analysis
