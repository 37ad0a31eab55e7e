#include <doctest/doctest.h>

#include "chem/drug_table.h"
#include "engine/error.h"
#include "tests/chem/temp_file.h"
#include "tests/support/shared_data.h"

using namespace dispa::chem;
using dispa::test::TempFile;

TEST_CASE("drug table: columns found by header, problems reported with line numbers") {
  TempFile f(".tsv",
             "pubchem_cid\tdrug_name\tsmiles\n"
             "1\tEthanol\tCCO\n"
             "2\tShort\n"                 // line 3: too few fields
             "\n"                         // line 4: blank, skipped silently
             "3\tNoSmiles\t\n"            // line 5
             "4\tEthanol\tOCC\n"          // line 6: duplicate name
             "5\t\tCC\n"                  // line 7: empty name
             "6\tBenzene\tc1ccccc1\r\n");  // line 8: CRLF tolerated
  const DrugTable t = read_drug_table(f.path());
  REQUIRE(t.drugs.size() == 2);
  CHECK(t.drugs[0].name == "Ethanol");
  CHECK(t.drugs[0].smiles == "CCO");
  CHECK(t.drugs[0].line == 2);
  CHECK(t.drugs[1].smiles == "c1ccccc1");
  CHECK(t.drugs[1].line == 8);
  REQUIRE(t.problems.size() == 4);
  CHECK(t.problems[0].line == 3);
  CHECK(t.problems[1].line == 5);
  CHECK(t.problems[2].line == 6);
  CHECK(t.problems[2].message.find("line 2") != std::string::npos);
  CHECK(t.problems[3].line == 7);
}

TEST_CASE("drug table: missing file or columns are errors naming the file") {
  CHECK_THROWS_WITH_AS(read_drug_table("/nonexistent/drugs.tsv"), doctest::Contains("/nonexistent/drugs.tsv"),
                       dispa::Error);
  TempFile f(".tsv", "name\tsmiles\nA\tC\n");
  CHECK_THROWS_WITH_AS(read_drug_table(f.path()), doctest::Contains("'drug_name' and 'smiles'"), dispa::Error);
}

TEST_CASE("drug table: the GDSC files read cleanly") {
  for (const char* rel : {"data/gdsc2/drugs.tsv", "data/gdsc2-mini/drugs.tsv"}) {
    const auto path = dispa::test::shared_path_or_skip(rel);
    if (path.empty()) continue;
    const DrugTable t = read_drug_table(path.string());
    CHECK(t.problems.empty());
    CHECK(t.drugs.size() == (std::string(rel).find("mini") != std::string::npos ? 12u : 170u));
  }
}
