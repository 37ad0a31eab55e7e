// A scatter plot as plain SVG text (no plotting library): points in colour groups with a legend,
// nice axis ticks, each point's label in a tooltip and, for the `labelled` ones, on the figure.
#pragma once
#include <string>
#include <vector>

namespace dispa::analysis {

struct ScatterSvg {
  std::string title, subtitle, x_label, y_label;
  std::vector<double> x, y;
  std::vector<std::string> labels;  // tooltips, one per point
  std::vector<int> group;           // index into group_names, one per point
  std::vector<std::string> group_names;
  std::vector<bool> labelled;       // optional: write these points' labels beside them
  bool diagonal = false;            // draw the line y = x (over the common range)
};
std::string scatter_svg(const ScatterSvg& figure);

}  // namespace dispa::analysis
