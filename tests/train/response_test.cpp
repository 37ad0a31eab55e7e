// Response and cell-annotation readers: values, the documented skip of unknown ids, and errors
// that name the file, the line and the offending value.
#include <functional>

#include <doctest/doctest.h>

#include "engine/error.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"
#include "train/response.h"

using namespace dispa;
using namespace dispa::train;
using dispa::test::error_of;

namespace {
const char* kHeader = "cell_id\tdrug_name\tln_ic50\n";
}  // namespace

TEST_CASE("read_response: values, ids in order of first appearance") {
  test::TempDir dir("response_values");
  const auto file = dir.write("response.tsv", std::string(kHeader) +
                                                  "C1\tDrug A\t1.5\n"
                                                  "C1\t5-FU\t-2.25\n"
                                                  "C2\tDrug A\t3\n");
  const ResponseData data = read_response(file);
  CHECK(data.excluded.total == 0);
  const ResponseTable& t = data.table;
  REQUIRE(t.size() == 3);
  CHECK(t.cell_ids == std::vector<std::string>{"C1", "C2"});
  CHECK(t.drug_names == std::vector<std::string>{"Drug A", "5-FU"});
  CHECK(t.pairs[1].cell == 0);
  CHECK(t.pairs[1].drug == 1);
  CHECK(t.pairs[1].ln_ic50 == -2.25);
  CHECK(t.find_cell("C2") == 1);
  CHECK(t.find_drug("nope") == -1);
  CHECK(t.values() == std::vector<double>{1.5, -2.25, 3.0});
}

TEST_CASE("read_response: unknown cells and drugs are counted, reported and excluded") {
  test::TempDir dir("response_skip");
  const auto file = dir.write("response.tsv", std::string(kHeader) +
                                                  "C1\tA\t1\n"
                                                  "CX\tA\t2\n"
                                                  "C1\tZ\t3\n"
                                                  "CX\tZ\t4\n"
                                                  "C2\tA\t5\n");
  const std::unordered_set<std::string> cells{"C1", "C2"}, drugs{"A"};
  ResponseReadOptions o;
  o.known_cells = &cells;
  o.known_drugs = &drugs;
  o.max_examples = 2;
  const ResponseData data = read_response(file, o);
  CHECK(data.table.size() == 2);
  CHECK(data.excluded.total == 3);
  CHECK(data.excluded.missing_cell == 2);
  CHECK(data.excluded.missing_drug == 2);
  CHECK(data.excluded.cells == std::vector<std::string>{"CX"});
  CHECK(data.excluded.drugs == std::vector<std::string>{"Z"});
  REQUIRE(data.excluded.examples.size() == 2);
  CHECK(data.excluded.examples[0].find("response.tsv:3: CX / A: cell unknown") != std::string::npos);
  CHECK(data.excluded.examples[1].find("response.tsv:4: C1 / Z: drug unknown") != std::string::npos);
  const std::string summary = data.excluded.summary();
  CHECK(summary.find("excluded 3 pairs") != std::string::npos);
  CHECK(summary.find("CX") != std::string::npos);
}

TEST_CASE("read_response: errors name file, line and value") {
  test::TempDir dir("response_errors");
  auto expect = [&](const std::string& body, const std::string& want) {
    const auto file = dir.write("r.tsv", std::string(kHeader) + body);
    const std::string msg = error_of([&] { read_response(file); });
    CAPTURE(msg);
    CHECK(msg.find(want) != std::string::npos);
  };
  expect("C1\tA\t1\nC1\tB\tnan\n", "r.tsv:3: column 'ln_ic50': value 'nan' is not finite");
  expect("C1\tA\tinf\n", "r.tsv:2: column 'ln_ic50': value 'inf' is not finite");
  expect("C1\tA\t-inf\n", "value '-inf' is not finite");
  expect("C1\tA\tNA\n", "r.tsv:2: column 'ln_ic50': 'NA' is not a number");
  expect("C1\tA\t1.5x\n", "'1.5x' is not a number");
  expect("C1\tA\t1\nC2\tA\t2\nC1\tA\t3\n", "r.tsv:4: duplicate pair C1 / A (first on line 2)");
  expect("C1\tA\n", "r.tsv:2: 2 fields, but the header has 3 columns");
  expect("C1\tA\t1\n\nC2\tA\t1\n", "r.tsv:3: empty line");
  expect("\tA\t1\n", "r.tsv:2: empty cell_id");
  // A bad value is an error even on a row that would be excluded.
  const auto file = dir.write("r2.tsv", std::string(kHeader) + "CX\tA\tnan\n");
  const std::unordered_set<std::string> cells{"C1"};
  ResponseReadOptions o;
  o.known_cells = &cells;
  CHECK(error_of([&] { read_response(file, o); }).find("r2.tsv:2") != std::string::npos);

  const auto bad_header = dir.write("h.tsv", "cell\tdrug_name\tln_ic50\nC1\tA\t1\n");
  CHECK(error_of([&] { read_response(bad_header); }).find("no column 'cell_id'") != std::string::npos);
  CHECK(error_of([&] { read_response(dir.path() / "missing.tsv"); }).find("cannot open") != std::string::npos);
}

TEST_CASE("read_response: CRLF line endings and extra columns are accepted") {
  test::TempDir dir("response_crlf");
  const auto file = dir.write("r.tsv", "drug_name\tnote\tcell_id\tln_ic50\r\nA\tx\tC1\t0.5\r\n");
  const ResponseData data = read_response(file);
  REQUIRE(data.table.size() == 1);
  CHECK(data.table.cell_ids[0] == "C1");
  CHECK(data.table.pairs[0].ln_ic50 == 0.5);
}

TEST_CASE("read_cell_annotations and read_id_column") {
  test::TempDir dir("cells");
  const auto file = dir.write("cells.tsv",
                              "cell_id\tcell_name\tlineage\n"
                              "C1\tone\tlung\n"
                              "C2\ttwo\tNA\n");
  const CellAnnotations cells = read_cell_annotations(file);
  CHECK(cells.cell_ids == std::vector<std::string>{"C1", "C2"});
  CHECK(cells.lineage("C1") == "lung");
  CHECK(cells.lineage("C2") == "NA");
  CHECK(cells.lineage_map().at("C2") == "NA");
  CHECK(error_of([&] { (void)cells.lineage("C9"); }).find("'C9'") != std::string::npos);
  CHECK(read_id_column(file, "cell_name") == std::vector<std::string>{"one", "two"});

  const auto dup = dir.write("dup.tsv", "cell_id\tlineage\nC1\tlung\nC1\tbreast\n");
  CHECK(error_of([&] { read_cell_annotations(dup); }).find("dup.tsv:3: duplicate cell_id 'C1' (first on line 2)") !=
        std::string::npos);
  CHECK(error_of([&] { read_id_column(dup, "cell_id"); }).find("dup.tsv:3") != std::string::npos);
}

TEST_CASE("read_response_folder on gdsc2-mini") {
  const auto dir = test::shared_path_or_skip("data/gdsc2-mini");
  if (dir.empty()) return;
  const ResponseData data = read_response_folder(dir);
  CHECK(data.excluded.total == 0);
  CHECK(data.table.size() == 442);
  CHECK(data.table.num_cells() == 40);
  CHECK(data.table.num_drugs() == 12);
  const CellAnnotations cells = read_cell_annotations(dir / "cells.tsv");
  CHECK(cells.cell_ids.size() == 40);
  for (const std::string& c : data.table.cell_ids) CHECK(cells.index.count(c) == 1);
}
