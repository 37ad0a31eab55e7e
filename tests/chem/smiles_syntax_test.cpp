// The SMILES syntax and size check that runs before OpenBabel (chem/smiles_syntax.h): malformed
// strings OpenBabel would accept are refused with a position, every GDSC drug still passes, and
// huge molecules are refused before parsing (they used to crash OpenBabel's recursion).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "chem/brics.h"
#include "chem/drug_table.h"
#include "chem/molecule.h"
#include "chem/smiles_syntax.h"
#include "engine/error.h"
#include "tests/support/shared_data.h"

using namespace dispa::chem;
using dispa::Error;

TEST_CASE("smiles syntax: well-formed strings pass and atoms are counted") {
  CHECK(check_smiles_syntax("C") == 1);
  CHECK(check_smiles_syntax("CC(=O)O") == 4);
  CHECK(check_smiles_syntax("c1ccccc1") == 6);
  CHECK(check_smiles_syntax("ClCBr") == 3);
  CHECK(check_smiles_syntax("[13CH3][C@@H](N)C(=O)[O-]") == 6);
  CHECK(check_smiles_syntax("[Na+].[Cl-]") == 2);
  CHECK(check_smiles_syntax("C%10CC%10") == 3);
  CHECK(check_smiles_syntax("F/C=C/F") == 4);
  CHECK(check_smiles_syntax("[nH]1cccc1") == 5);
  CHECK(check_smiles_syntax("C=1CCC1") == 4);           // bond symbol on one end of a ring bond
  CHECK(check_smiles_syntax("C(C)(C)C") == 4);
  CHECK(check_smiles_syntax("[1*]C(=O)[5*]") == 4);     // BRICS fragments with labelled dummies
  CHECK(check_smiles_syntax("[Pt+4]") == 1);
  CHECK(check_smiles_syntax("[Fe++]") == 1);
  CHECK(check_smiles_syntax("[C@TH2H](F)(Cl)Br") == 4);
  CHECK(check_smiles_syntax("[CH3:7]C") == 2);
  CHECK(check_smiles_syntax("[se]1cccc1") == 5);
}

TEST_CASE("smiles syntax: malformed strings are refused with the position and the reason") {
  struct Case {
    const char* smiles;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"C(", "never closed"},
      {"[C@@@@@H]", "@ or @@"},
      {"[C@@@H]", "@ or @@"},
      {"C)", "without a matching '('"},
      {"C1CC", "ring bond 1 (position 2) is opened but never closed"},
      {"C11", "closes on the atom that opened it"},
      {"C12CC12", "already joins"},
      {"C=1CC#1", "opened with '=' and closed with '#'"},
      {"C()C", "empty branch"},
      {"(C)C", "must follow an atom"},
      {"C((C))", "must follow an atom"},
      {"C=", "ends with '='"},
      {"=C", "before any atom"},
      {"C=#C", "two bonds in a row"},
      {"C..C", "'.' must separate"},
      {".C", "'.' must separate"},
      {"C.", "ends with '.'"},
      {"C(=)C", "a branch must end with an atom"},
      {"[C", "without a closing ']'"},
      {"[Xx]", "not an element symbol"},
      {"[C+16]", "at most 15"},
      {"[CH12]", "unexpected '2'"},
      {"[C:]", "needs a number"},
      {"[1234C]", "at most 3 digits"},
      {"C%1", "two digits"},
      {"C(C)1CC1", "must follow an atom"},
      {"CXC", "unexpected character 'X'"},
      {"Ca", "unexpected character 'a'"},
      {"C\x01", "'\\x01'"},
  };
  for (const Case& c : cases) {
    const std::string smiles = c.smiles;
    CAPTURE(smiles);
    CHECK_THROWS_WITH_AS(check_smiles_syntax(c.smiles), doctest::Contains(c.message), Error);
    CHECK_THROWS_WITH_AS(check_smiles_syntax(c.smiles), doctest::Contains("position"), Error);
  }
  CHECK_THROWS_WITH_AS(check_smiles_syntax(""), doctest::Contains("empty"), Error);
}

TEST_CASE("smiles syntax: parse_smiles refuses what OpenBabel would accept, naming the drug") {
  // OpenBabel 3.1 reads these without complaint (methane; a carbon with invented stereo).
  CHECK_THROWS_WITH_AS(parse_smiles("C(", "Foo"), doctest::Contains("drug 'Foo' has an invalid SMILES 'C('"), Error);
  CHECK_THROWS_WITH_AS(parse_smiles("[C@@@@@H]", "Bar"), doctest::Contains("position 5"), Error);
}

TEST_CASE("smiles syntax: size limits refuse huge molecules before parsing") {
  // 100,000-atom chain: used to overflow OpenBabel's stack under BRICS bond finding.
  CHECK_THROWS_WITH_AS(parse_smiles(std::string(100000, 'C'), "chain"),
                       doctest::Contains("100000 characters, more than the limit of 4000"), Error);
  CHECK_THROWS_WITH_AS(parse_smiles(std::string(1001, 'C'), "chain"), doctest::Contains("more than 1000 atoms"),
                       Error);
  // The limits are parameters: a caller may lower (or raise) them.
  SmilesLimits small;
  small.max_atoms = 5;
  CHECK_THROWS_WITH_AS(check_smiles_syntax("CCCCCC", small), doctest::Contains("more than 5 atoms"), Error);
  // An echoed 100,000-character SMILES is shortened.
  try {
    parse_smiles(std::string(100000, 'C'), "chain");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).size() < 400);
    CHECK(std::string(e.what()).find("... (100000 bytes)") != std::string::npos);
  }
}

TEST_CASE("smiles syntax: a molecule at the atom limit still parses and fragments") {
  const Molecule chain = parse_smiles(std::string(1000, 'C'), "chain").molecule;
  CHECK(chain.num_heavy_atoms() == 1000);
  const BricsDecomposition d = brics_decompose(chain);
  CHECK(!d.fragments.empty());
}

TEST_CASE("smiles syntax: every GDSC1 and GDSC2 drug passes the check and parses") {
  for (const char* file : {"data/gdsc2/drugs.tsv", "data/gdsc1/drugs.tsv"}) {
    const auto path = dispa::test::shared_path_or_skip(file);
    if (path.empty()) continue;
    const DrugTable table = read_drug_table(path.string());
    CHECK(table.problems.empty());
    CHECK(table.drugs.size() >= 170);
    for (const DrugRecord& d : table.drugs) {
      CAPTURE(d.name);
      CAPTURE(d.smiles);
      CHECK_NOTHROW(check_smiles_syntax(d.smiles));
      CHECK_NOTHROW(parse_smiles(d.smiles, d.name));
    }
  }
}
