// Pieces of dispa transfer on hand-computed examples: gene gathering (aliases, duplicate features,
// non-gene features, library size over all genes), library-size normalisation, log1p and per-gene
// standardisation; k nearest neighbours; the PNG encoder (decoded back with zlib); the spatial map.
#include <doctest/doctest.h>

#include <cmath>

#include <zlib.h>

#include "analysis/png_writer.h"
#include "analysis/spatial_map.h"
#include "analysis/transfer_harmonise.h"
#include "tests/support/error_of.h"

using namespace dispa;
using namespace dispa::analysis;

TEST_CASE("harmonisation: gathering, normalisation, log1p and standardisation match a hand computation") {
  // Features: A, A (a second id of A), SEPT9 (alias of the model gene SEPTIN9), C (not a model gene),
  // an antibody tag (not a gene: not in the library size).
  std::vector<bio::Feature> f = {{"e1", "A", ""}, {"e2", "a", ""}, {"e3", "SEPT9", ""}, {"e4", "C", ""}, {"t", "CD3", "Antibody Capture"}};
  const std::vector<std::string> model = {"A", "SEPTIN9", "D"};
  const bio::GeneMatch match = bio::match_genes(model, f, bio::GeneAliasTable());
  const GeneGatherer gather(match, f, "test");
  // Cell 0: A=1 (+0 from e2), SEPT9=3, C=6, tag=50 -> library 10.  Cell 1: A=2+2, C=1 -> library 5.
  bio::CountBatch b;
  b.offsets = {0, 4, 7};
  b.features = {0, 2, 3, 4, 0, 1, 3};
  b.values = {1, 3, 6, 50, 2, 2, 1};
  std::vector<float> counts;
  std::vector<double> library;
  gather.gather(b, counts, library, {"c0", "c1"}, true);
  CHECK(library == std::vector<double>{10, 5});
  CHECK(counts == std::vector<float>{1, 3, 0, 4, 0, 0});
  for (int c = 0; c < 2; ++c) {
    normalise_library(counts.data() + 3 * c, 3, library[size_t(c)], 10.0);
    log_transform(counts.data() + 3 * c, 3, true);
  }
  // c0: A = 1 * 10/10 = 1 -> ln 2; SEPTIN9 = 3 -> ln 4.   c1: A = 4 * 10/5 = 8 -> ln 9; SEPTIN9 = 0.
  CHECK(counts[0] == doctest::Approx(std::log(2.0)));
  CHECK(counts[1] == doctest::Approx(std::log(4.0)));
  CHECK(counts[3] == doctest::Approx(std::log(9.0)));
  CHECK(counts[4] == 0.0f);
  GeneStats stats(3);
  stats.add(counts.data());
  stats.add(counts.data() + 3);
  // Two values: mean is the midpoint and the population sd half the distance, so z = -1 / +1.
  CHECK(stats.mean(0) == doctest::Approx((std::log(2.0) + std::log(9.0)) / 2));
  CHECK(stats.sd(0) == doctest::Approx((std::log(9.0) - std::log(2.0)) / 2));
  const std::vector<char> matched = {1, 1, 0};
  for (int c = 0; c < 2; ++c) standardise(counts.data() + 3 * c, stats, matched, true);
  CHECK(counts == std::vector<float>{-1, 1, 0, 1, -1, 0});  // D (missing) = 0, the training mean
  // Negative input with log1p asked for is an error naming the cell.
  b.values[1] = -3;
  CHECK(test::error_of([&] { gather.gather(b, counts, library, {"c0", "c1"}, true); })
            .find("negative value -3 (cell 'c0', feature 3)") != std::string::npos);
  // Without normalisation or log, values pass through.
  gather.gather(b, counts, library, {"c0", "c1"}, false);
  CHECK(counts[1] == -3.0f);
}

TEST_CASE("standardisation: a constant gene becomes 0, not NaN; disabled keeps values") {
  GeneStats s(1);
  const float v = 2.5f;
  for (int i = 0; i < 3; ++i) s.add(&v);
  float x = 2.5f;
  standardise(&x, s, {1}, true);
  CHECK(x == 0.0f);
  x = 7.0f;
  standardise(&x, s, {1}, false);
  CHECK(x == 7.0f);
  CHECK(parse_standardize("cells") == Standardize::cells);
  CHECK(test::error_of([] { parse_standardize("z"); }).find("expected auto, units, cells or none") != std::string::npos);
}

TEST_CASE("nearest neighbours on a line of points") {
  const auto nn = nearest_neighbours({0, 1, 3, 6}, {0, 0, 0, 0}, 2);
  CHECK(nn[0] == std::vector<int32_t>{1, 2});
  CHECK(nn[2] == std::vector<int32_t>{1, 0});  // distances 2 and 3
  CHECK(nn[3] == std::vector<int32_t>{2, 1});
  CHECK(nearest_neighbours({0, 1}, {0, 0}, 5)[0] == std::vector<int32_t>{1});
}

namespace {
uint32_t be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
         uint32_t(uint8_t(s[at + 3]));
}
}  // namespace

TEST_CASE("PNG: signature, IHDR, CRCs and pixel rows survive a zlib round trip") {
  RgbImage img(3, 2, {10, 20, 30});
  img.set(1, 0, {255, 0, 0});
  img.fill_rect(0, 1, 3, 2, {0, 0, 255});
  const std::string png = encode_png(img);
  REQUIRE(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(png.substr(12, 4) == "IHDR");
  CHECK(be32(png, 16) == 3);
  CHECK(be32(png, 20) == 2);
  // Walk the chunks, check each CRC, collect IDAT.
  std::string idat;
  size_t at = 8;
  std::vector<std::string> types;
  while (at + 12 <= png.size()) {
    const uint32_t len = be32(png, at);
    const std::string type = png.substr(at + 4, 4);
    types.push_back(type);
    const uint32_t crc = uint32_t(crc32(0, reinterpret_cast<const Bytef*>(png.data() + at + 4), len + 4));
    CHECK(crc == be32(png, at + 8 + len));
    if (type == "IDAT") idat += png.substr(at + 8, len);
    at += 12 + len;
  }
  CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});
  std::string raw(2 * (1 + 9), '\0');
  uLongf n = uLongf(raw.size());
  REQUIRE(uncompress(reinterpret_cast<Bytef*>(raw.data()), &n, reinterpret_cast<const Bytef*>(idat.data()), uLong(idat.size())) == Z_OK);
  CHECK(n == raw.size());
  const std::string row0 = std::string("\0", 1) + std::string("\x0a\x14\x1e\xff\x00\x00\x0a\x14\x1e", 9);
  CHECK(raw.substr(0, 10) == row0);
  CHECK(raw.substr(10, 10) == std::string("\0", 1) + std::string("\x00\x00\xff\x00\x00\xff\x00\x00\xff", 9));
}

TEST_CASE("discs are anti-aliased and digits are drawn") {
  RgbImage img(20, 20);
  img.fill_disc(10, 10, 5, {0, 0, 0});
  CHECK(img.at(10, 10).r == 0);                           // centre: full coverage
  CHECK(img.at(0, 0).r == 255);                           // far corner untouched
  const int edge = img.at(14, 12).r;                      // on the rim: partly covered
  CHECK(edge > 0);
  CHECK(edge < 255);
  RgbImage text(40, 10);
  text.draw_number_text(1, 1, "-1.5", 1, {0, 0, 0});
  int ink = 0;
  for (int y = 0; y < 10; ++y)
    for (int x = 0; x < 40; ++x) ink += text.at(x, y).r == 0;
  CHECK(ink == 5 + 10 + 4 + 17);  // '-' 5, '1' 10, '.' 4, '5' 17 pixels
}

TEST_CASE("spatial map: one disc per spot, extremes at the ends of the viridis scale") {
  SpatialMap m;
  m.title = "drug <x>";
  m.ids = {"a", "b", "c"};
  m.x = {0, 1, 0};
  m.y = {0, 0, 1};
  m.values = {1.0f, 2.0f, 3.0f};
  const std::string svg = spatial_map_svg(m);
  size_t circles = 0;
  for (size_t p = svg.find("<circle"); p != std::string::npos; p = svg.find("<circle", p + 1)) ++circles;
  CHECK(circles == 3);
  CHECK(svg.find("drug &lt;x&gt;") != std::string::npos);
  CHECK(svg.find("fill=\"#440154\"><title>a: 1.000") != std::string::npos);  // minimum: viridis(0)
  CHECK(svg.find("fill=\"#fde725\"><title>c: 3.000") != std::string::npos);  // maximum: viridis(1)
  const RgbImage img = spatial_map_image(m);
  CHECK(img.width() == 640);
  CHECK(median_nearest_distance(m.x, m.y) == doctest::Approx(1.0));
  m.values.pop_back();
  CHECK(test::error_of([&] { spatial_map_svg(m); }).find("need the same, non-zero number") != std::string::npos);
}
