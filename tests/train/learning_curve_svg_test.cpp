// Learning-curve SVG: structure, NaN breaks a line, the best epoch is marked, bad input throws.
#include <cmath>
#include <fstream>
#include <limits>

#include <doctest/doctest.h>

#include "engine/error.h"
#include "tests/train/temp_dir.h"
#include "train/learning_curve_svg.h"

using namespace dispa;
using namespace dispa::train;

namespace {
size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t pos = s.find(what); pos != std::string::npos; pos = s.find(what, pos + 1)) ++n;
  return n;
}
}  // namespace

TEST_CASE("learning curve SVG: panels, lines, best epoch") {
  const std::vector<LearningCurvePoint> r{{1, 4.0, 3.5, 1.9}, {2, 2.0, 2.2, 1.5}, {3, 1.5, 1.8, 1.34}, {4, 1.2, 1.9, 1.38}};
  LearningCurveOptions o;
  o.title = "fold 0 <random> & co";
  const std::string svg = learning_curve_svg(r, o);
  CHECK(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(svg.find("</svg>") != std::string::npos);
  CHECK(svg.find("fold 0 &lt;random&gt; &amp; co") != std::string::npos);  // escaped
  CHECK(count(svg, "<polyline") == 3);  // train loss, val loss, val RMSE
  CHECK(svg.find("best 1.34") != std::string::npos);
  CHECK(svg.find("train loss") != std::string::npos);
  CHECK(svg.find("nan") == std::string::npos);
  CHECK(svg.find("inf") == std::string::npos);
}

TEST_CASE("learning curve SVG: NaN breaks a line; a single epoch and no validation still draw") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<LearningCurvePoint> r{{1, 3.0, 2.0, 1.4}, {2, 2.0, nan, nan}, {3, 1.0, 1.5, 1.2}};
  const std::string svg = learning_curve_svg(r);
  // train loss is one line; val loss and val RMSE are each split into two single-point pieces.
  CHECK(count(svg, "<polyline") == 5);
  CHECK(svg.find("nan") == std::string::npos);

  const std::vector<LearningCurvePoint> one{{1, 2.0, nan, nan}};
  const std::string svg1 = learning_curve_svg(one);
  CHECK(svg1.find("no data") != std::string::npos);  // the RMSE panel
  CHECK(count(svg1, "<polyline") == 1);
  CHECK(svg1.find("nan") == std::string::npos);
}

TEST_CASE("learning curve SVG: errors and file output") {
  CHECK_THROWS_AS(learning_curve_svg(std::vector<LearningCurvePoint>{}), Error);
  CHECK_THROWS_AS(learning_curve_svg(std::vector<LearningCurvePoint>{{2, 1, 1, 1}, {2, 1, 1, 1}}), Error);
  test::TempDir dir("learning_curve");
  const std::vector<LearningCurvePoint> r{{1, 2.0, 2.5, 1.6}, {2, 1.0, 2.0, 1.4}};
  write_learning_curve_svg(dir.path() / "curve.svg", r);
  std::ifstream in(dir.path() / "curve.svg");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(text == learning_curve_svg(r));
}
