#include <doctest/doctest.h>

#include <sstream>

#include <nlohmann/json.hpp>

#include "chem/fragment_table.h"
#include "engine/error.h"
#include "tests/chem/temp_file.h"

using namespace dispa::chem;
using dispa::test::TempFile;

TEST_CASE("fragment table: bad rows are reported with line numbers, the rest processed") {
  TempFile drugs(".tsv",
                 "drug_name\tsmiles\n"
                 "Ether\tCCCOCC\n"
                 "Broken\tC1CC\n"           // line 3: unparsable
                 "Short\n"                  // line 4: too few fields
                 "Salt\tCCCOCC.Cl\n");      // line 5
  FragmentTableOptions o;
  o.drugs_path = drugs.path();
  const FragmentTable t = fragment_drugs(o);
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0].name == "Ether");
  CHECK(t.rows[0].line == 2);
  CHECK(t.rows[1].dropped == std::vector<std::string>{"Cl"});
  REQUIRE(t.failures.size() == 2);
  CHECK(t.failures[0].line == 3);
  CHECK(t.failures[0].name == "Broken");
  CHECK(t.failures[0].message.find("'C1CC'") != std::string::npos);
  CHECK(t.failures[1].line == 4);

  std::ostringstream tsv;
  write_fragment_table(t, o, tsv);
  const std::string frags = canonical_smiles("[3*]O[3*]") + " . " + canonical_smiles("[4*]CC") + " . " +
                            canonical_smiles("[4*]CCC");
  CHECK(tsv.str() == "name\tn_fragments\tfragments\nEther\t3\t" + frags + "\nSalt\t3\t" + frags + "\n");

  o.json = true;
  std::ostringstream json;
  write_fragment_table(t, o, json);
  const auto doc = nlohmann::json::parse(json.str());
  CHECK(doc["molecules"].size() == 2);
  CHECK(doc["molecules"][1]["dropped_components"][0] == "Cl");
  CHECK(doc["molecules"][0]["n_fragments"] == 3);
  CHECK(doc["errors"].size() == 2);
  CHECK(doc["errors"][0]["line"] == 3);
}

TEST_CASE("fragment table: --unique, --smiles, and components") {
  FragmentTableOptions o;
  o.smiles = "CCOCCOCC";
  FragmentTable t = fragment_drugs(o);
  REQUIRE(t.rows.size() == 1);
  CHECK(t.rows[0].name == "CCOCCOCC");
  CHECK(t.rows[0].fragments.size() == 5);
  o.unique = true;
  o.name = "diether";
  t = fragment_drugs(o);
  CHECK(t.rows[0].name == "diether");
  CHECK(t.rows[0].fragments.size() == 3);

  o.smiles = "CCCOCC.Cl";
  o.components = ComponentPolicy::keep_all;
  CHECK(fragment_drugs(o).rows[0].fragments.size() == 4);

  o.smiles = "C1CC";
  t = fragment_drugs(o);
  CHECK(t.rows.empty());
  CHECK(t.failures.size() == 1);
  o.drugs_path = "x.tsv";
  CHECK_THROWS_WITH_AS(fragment_drugs(o), doctest::Contains("either"), dispa::Error);
}

TEST_CASE("fragment table: run_fragment writes the output file") {
  TempFile out(".tsv", "");
  FragmentTableOptions o;
  o.smiles = "CCO";
  o.out_path = out.path();
  run_fragment(o);
  std::ifstream in(out.path());
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "name\tn_fragments\tfragments\nCCO\t1\tCCO\n");
  o.out_path = "/nonexistent/dir/out.tsv";
  CHECK_THROWS_WITH_AS(run_fragment(o), doctest::Contains("cannot write"), dispa::Error);
}
