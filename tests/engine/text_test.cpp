// engine/io/text: what every table reader gets from it (gzip read, BOM dropped, values shortened).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/error.h"
#include "engine/io/text.h"
#include "tests/support/gzip.h"

using namespace dispa;
using namespace dispa::io;

namespace {

std::string gzip_member(const std::string& text) { return test::gzip_compress(text, Z_BEST_COMPRESSION); }

}  // namespace

TEST_CASE("text: gzip data is decompressed, concatenated members included; corruption names the source") {
  const std::string a = "cell_id\tA\n", b(300000, 'x');  // b: several output buffers of zlib
  CHECK(is_gzip(gzip_member(a)));
  CHECK(!is_gzip(a));
  CHECK(gunzip(gzip_member(a), "t.gz") == a);
  CHECK(gunzip(gzip_member(a) + gzip_member(b), "t.gz") == a + b);
  const std::string z = gzip_member(b);
  CHECK_THROWS_WITH_AS(gunzip(z.substr(0, z.size() - 5), "t.gz"), doctest::Contains("t.gz: the gzip data is truncated"),
                       Error);
  std::string flipped = z;
  flipped[z.size() / 2] ^= 0x55;
  CHECK_THROWS_WITH_AS(gunzip(flipped, "t.gz"), doctest::Contains("t.gz: corrupt gzip data"), Error);
  CHECK_THROWS_WITH_AS(gunzip(z + "garbage", "t.gz"), doctest::Contains("non-gzip data after"), Error);
}

TEST_CASE("text: read_text_file and LineScanner drop a UTF-8 BOM; decode_text does both steps") {
  const std::string bom = "\xEF\xBB\xBF";
  CHECK(strip_bom(bom + "x") == "x");
  CHECK(strip_bom("x") == "x");
  CHECK(strip_bom("\xEF\xBB") == "\xEF\xBB");
  const std::string text = bom + "id\tA\n";
  LineScanner lines(text);
  std::string_view line;
  int64_t number = 0;
  REQUIRE(lines.next(line, number));
  CHECK(line == "id\tA");
  CHECK(decode_text(gzip_member(bom + "id\n"), "t") == "id\n");
  const std::filesystem::path p = std::filesystem::path(DISPA_BINARY_DIR) / "text_test_bom.tsv.gz";
  { std::ofstream(p, std::ios::binary) << gzip_member(bom + "id\tA\n"); }
  CHECK(read_text_file(p) == "id\tA\n");
  std::filesystem::remove(p);
}

TEST_CASE("text: shorten keeps short values, cuts long ones with their size, escapes control bytes") {
  CHECK(shorten("abc") == "abc");
  CHECK(shorten(std::string(60, 'a')) == std::string(60, 'a'));
  CHECK(shorten(std::string(61, 'a')) == std::string(60, 'a') + "... (61 bytes)");
  CHECK(shorten(std::string(10'000'000, 'a')).size() < 90);
  CHECK(shorten("a\tb\x01") == "a\\x09b\\x01");
  // Never cuts inside a UTF-8 character: "é" is two bytes.
  const std::string accents = std::string(59, 'a') + "\xC3\xA9" + "zz";
  CHECK(shorten(accents) == std::string(59, 'a') + "... (63 bytes)");
}
