// Hostile or unusual input files on the train/ side (docs/RELIABILITY.md, "Hostile input"): a bad
// SMILES in a data folder names drugs.tsv:LINE and the drug; a UTF-8 BOM or gzip compression
// does not change what the TSV readers see; long values are shortened in messages.
#include <doctest/doctest.h>


#include <fstream>
#include <sstream>
#include <string>

#include "engine/error.h"
#include "tests/support/gzip.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"
#include "train/data_pipeline.h"
#include "train/response.h"
#include "train/splits.h"
#include "train/tsv_reader.h"

using namespace dispa;
using namespace dispa::train;
namespace fs = std::filesystem;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string gzip(const std::string& text) { return test::gzip_compress(text); }

}  // namespace

TEST_CASE("data folder: an invalid SMILES names drugs.tsv, the line and the drug") {
  const fs::path mini = test::shared_path_or_skip("data/gdsc2-mini");
  if (mini.empty()) return;
  test::TempDir tmp("input_errors_bad_smiles");
  for (const char* f : {"expression.tsv", "response.tsv", "cells.tsv", "pathways_kegg34.gmt"})
    fs::copy_file(mini / f, tmp.path() / f);
  // Line 3 of drugs.tsv is the second drug: give it a SMILES OpenBabel would read as methane.
  std::string drugs = read_file(mini / "drugs.tsv");
  std::istringstream lines(drugs);
  std::string header, first, second, rest, line;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  while (std::getline(lines, line)) rest += line + "\n";
  const size_t tab1 = second.find('\t'), tab2 = second.find('\t', tab1 + 1), tab3 = second.find('\t', tab2 + 1);
  const std::string name = second.substr(0, tab1);
  second = second.substr(0, tab2 + 1) + "C(" + second.substr(tab3);
  tmp.write("drugs.tsv", header + "\n" + first + "\n" + second + "\n" + rest);

  DataOptions options;
  options.data_dir = tmp.path();
  options.gmt = tmp.path() / "pathways_kegg34.gmt";
  const std::string e = test::error_of([&] { prepare_data(options); });
  CHECK_MESSAGE(e.find("drugs.tsv:3: ") != std::string::npos, e);
  CHECK_MESSAGE(e.find("drug '" + name + "'") != std::string::npos, e);
  CHECK_MESSAGE(e.find("invalid SMILES 'C('") != std::string::npos, e);
}

TEST_CASE("TSV reader: a UTF-8 BOM does not hide the first column; gzip is read") {
  const std::string text = "cell_id\tdrug_name\tln_ic50\nA\tX\t1.5\nB\tX\t-2\n";
  test::TempDir tmp("input_errors_bom_gzip");
  for (const auto& [file, bytes] : {std::pair{"bom.tsv", "\xEF\xBB\xBF" + text}, std::pair{"plain.tsv.gz", gzip(text)},
                                    std::pair{"bom.tsv.gz", gzip("\xEF\xBB\xBF" + text)}}) {
    CAPTURE(file);
    const fs::path p = tmp.write(file, bytes);
    const ResponseData r = read_response(p);
    CHECK(r.table.size() == 2);
    CHECK(r.table.cell_ids.front() == "A");
    CHECK(r.table.pairs.back().ln_ic50 == -2.0);
  }
  // Corrupt gzip: an error naming the file, not bytes echoed back.
  std::string broken = gzip(text);
  broken.resize(broken.size() / 2);
  const fs::path p = tmp.write("broken.tsv.gz", broken);
  const std::string e = test::error_of([&] { read_response(p); });
  CHECK_MESSAGE(e.find("broken.tsv.gz") != std::string::npos, e);
  CHECK_MESSAGE(e.find("truncated") != std::string::npos, e);
}

TEST_CASE("TSV reader: a 10 MB value is shortened in the error message") {
  const std::string huge(10'000'000, 'x');
  TsvReader reader("cell_id\tdrug_name\tln_ic50\nA\tX\t" + huge + "\n", "response.tsv");
  REQUIRE(reader.next());
  const std::string e = test::error_of([&] { reader.finite_double(2); });
  CHECK_MESSAGE(e.size() < 300, e.substr(0, 300));
  CHECK_MESSAGE(e.find("... (10000000 bytes)") != std::string::npos, e.substr(0, 300));
  CHECK_MESSAGE(e.find("response.tsv:2") != std::string::npos, e.substr(0, 300));
}

TEST_CASE("split.tsv: a negative seed is refused, not wrapped to 2^64 - 1; echoed ids are shortened") {
  ResponseTable table;
  for (const char* c : {"A", "B"})
    for (const char* d : {"X", "Y"}) table.add(c, d, 1.0);
  test::TempDir tmp("input_errors_split");
  const std::string body = "cell_id\tdrug_name\tfold_0\nA\tX\ttrain\nA\tY\ttest\nB\tX\ttrain\nB\tY\ttest\n";
  CHECK_NOTHROW(read_split(tmp.write("ok.tsv", "# dispa split\tscheme=random\tseed=18446744073709551615\n" + body),
                           table));
  std::string e = test::error_of(
      [&] { read_split(tmp.write("neg.tsv", "# dispa split\tscheme=random\tseed=-1\n" + body), table); });
  CHECK_MESSAGE(e.find("seed '-1' is not an unsigned integer") != std::string::npos, e);
  const std::string huge(100000, 'Q');
  e = test::error_of([&] {
    read_split(tmp.write("huge.tsv", "# dispa split\tscheme=random\tseed=1\n" + body + huge + "\tX\ttrain\n"), table);
  });
  CHECK_MESSAGE(e.find("... (100000 bytes)") != std::string::npos, e.substr(0, 300));
  CHECK(e.size() < 300);
}
