// Spatial maps of `dispa transfer`: every spot drawn as a disc at its position, coloured by a
// value (predicted ln IC50) on the viridis scale from the map's minimum (dark purple: predicted
// most sensitive) to its maximum (yellow), with a colour bar. Written as SVG (each spot has a
// tooltip with its barcode and value) and as PNG (png_writer.h; tick labels in a pixel font).
// Positions are in the file's units; y grows downwards, as in the tissue image. The disc radius is
// 0.45 x the median nearest-neighbour distance, so neighbouring spots nearly touch.
#pragma once
#include <string>
#include <vector>

#include "analysis/png_writer.h"

namespace dispa::analysis {

struct SpatialMap {
  std::string title, subtitle;
  std::string value_label = "predicted ln IC50";
  std::vector<std::string> ids;   // one per spot (tooltips)
  std::vector<double> x, y;       // positions
  std::vector<float> values;
  int width = 640;                // pixels, whole figure (the height follows the aspect ratio)
};

std::string spatial_map_svg(const SpatialMap& map);
RgbImage spatial_map_image(const SpatialMap& map);

// Viridis at t in [0, 1] (clamped).
Rgb viridis(double t);
// Median distance from a spot to its nearest other spot (over at most 2000 spots; 1 if < 2 spots).
double median_nearest_distance(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace dispa::analysis
