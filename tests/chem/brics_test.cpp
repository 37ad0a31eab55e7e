#include <doctest/doctest.h>

#include <algorithm>
#include <fstream>

#include "chem/brics.h"
#include "chem/drug_table.h"
#include "engine/error.h"
#include "engine/io/text.h"
#include "tests/support/shared_data.h"

using namespace dispa::chem;

namespace {

std::vector<std::string> canonical(std::vector<std::string> smiles) {
  for (auto& s : smiles) s = canonical_smiles(s);
  std::sort(smiles.begin(), smiles.end());
  return smiles;
}

std::vector<std::string> fragments_of(const std::string& smiles, ComponentPolicy policy = ComponentPolicy::keep_all) {
  return brics_decompose(parse_smiles(smiles, "test", policy).molecule).multiset();
}

}  // namespace

TEST_CASE("brics: embedded rule tables equal the published TSVs in ../shared") {
  const auto rules_path = dispa::test::shared_path_or_skip("data/brics/brics_rules.tsv");
  const auto pairs_path = dispa::test::shared_path_or_skip("data/brics/brics_pairs.tsv");
  if (rules_path.empty() || pairs_path.empty()) return;
  std::ifstream rules(rules_path), pairs(pairs_path);
  std::string line;
  std::getline(rules, line);
  CHECK(line == "label\tsmarts");
  size_t i = 0;
  while (std::getline(rules, line)) {
    const auto f = dispa::io::split_tab_fields(line);
    REQUIRE(i < brics_environments().size());
    CHECK(f.size() == 2);
    CHECK(brics_environments()[i].label == f[0]);
    CHECK(brics_environments()[i].smarts == f[1]);
    ++i;
  }
  CHECK(i == brics_environments().size());
  std::getline(pairs, line);
  CHECK(line == "label_a\tlabel_b\tbond_smarts");
  i = 0;
  while (std::getline(pairs, line)) {
    const auto f = dispa::io::split_tab_fields(line);
    REQUIRE(i < brics_pairs().size());
    CHECK(f.size() == 3);
    CHECK(brics_pairs()[i].label_a == f[0]);
    CHECK(brics_pairs()[i].label_b == f[1]);
    CHECK(brics_pairs()[i].bond == f[2]);
    ++i;
  }
  CHECK(i == brics_pairs().size());
}

TEST_CASE("brics: environment label numbers drop the letter") {
  CHECK(brics_label_number("L1") == 1);
  CHECK(brics_label_number("L7a") == 7);
  CHECK(brics_label_number("L16b") == 16);
  CHECK_THROWS_AS(brics_label_number("X3"), dispa::Error);
  CHECK_THROWS_AS(brics_label_number("L"), dispa::Error);
  CHECK_THROWS_AS(brics_label_number("L17"), dispa::Error);
}

TEST_CASE("brics: the README examples") {
  CHECK(fragments_of("CCCOCC") == canonical({"[3*]O[3*]", "[4*]CC", "[4*]CCC"}));
  // RDKit's docstring: '[16*]c1ccccc1.[3*]O[3*].[4*]CCC.[4*]CCC([6*])=O'
  CHECK(fragments_of("CCCOCCC(=O)c1ccccc1") ==
        canonical({"[16*]c1ccccc1", "[3*]O[3*]", "[4*]CCC", "[4*]CCC([6*])=O"}));
}

TEST_CASE("brics: a molecule with no cleavable bond is its own single fragment") {
  const Molecule m = parse_smiles("c1ccccc1").molecule;
  const BricsDecomposition d = brics_decompose(m);
  CHECK(d.bonds.empty());
  REQUIRE(d.fragments.size() == 1);
  CHECK(d.fragments[0].smiles == m.smiles());
  CHECK(d.fragments[0].heavy_atoms == 6);
  CHECK(d.fragments[0].attachments == 0);
  CHECK(fragments_of("C1=C(C(=O)NC(=O)N1)F").size() == 1);  // 5-fluorouracil
}

TEST_CASE("brics: L7=L7 double bond cut keeps the double bond on both dummies") {
  const BricsDecomposition d = brics_decompose(parse_smiles("CC=CC").molecule);
  REQUIRE(d.bonds.size() == 1);
  CHECK(d.bonds[0].order == 2);
  CHECK(d.bonds[0].label_a == 7);
  CHECK(d.bonds[0].label_b == 7);
  CHECK(d.multiset() == canonical({"[7*]=CC", "[7*]=CC"}));
}

TEST_CASE("brics: a bond matching several pairs takes the last pair's labels") {
  // The ring carbon bonded to the ether O carries a methyl, so it is L4 (an acyclic single bond
  // to a carbon) as well as L15 (two ring carbons). L3-L15 comes after L3-L4 in the pair table,
  // so its dummy is [15*], as RDKit's BreakBRICSBonds writes (GNE-317 is the GDSC case).
  const BricsDecomposition d = brics_decompose(parse_smiles("COC1(C)CCCCC1").molecule);
  REQUIRE(d.bonds.size() == 1);
  CHECK(d.bonds[0].label_a == 3);   // atom 1, the ether O
  CHECK(d.bonds[0].label_b == 15);  // atom 2, the ring carbon
  CHECK(d.multiset() == canonical({"[3*]OC", "[15*]C1(C)CCCCC1"}));
}

TEST_CASE("brics: stereo centres next to a cut keep their configuration") {
  // Alanine methyl ester: the ester C(=O)-O bond is L1-L3; the alpha carbon is untouched but its
  // neighbour order must survive the cut.
  CHECK(fragments_of("N[C@@H](C)C(=O)OC") == canonical({"N[C@@H](C)C(=O)[1*]", "[3*]OC"}));
  CHECK(fragments_of("N[C@H](C)C(=O)OC") == canonical({"N[C@H](C)C(=O)[1*]", "[3*]OC"}));
  // A cut at the stereo centre itself: the dummy takes the neighbour's place.
  CHECK(fragments_of("C[C@H](N1CCCC1)c1ccccc1") != fragments_of("C[C@@H](N1CCCC1)c1ccccc1"));
}

TEST_CASE("brics: multiset keeps duplicates, unique set does not") {
  const BricsDecomposition d = brics_decompose(parse_smiles("CCOCCOCC").molecule);
  CHECK(d.multiset() == canonical({"[3*]O[3*]", "[3*]O[3*]", "[4*]CC", "[4*]CC", "[4*]CC[4*]"}));
  CHECK(d.unique() == canonical({"[3*]O[3*]", "[4*]CC", "[4*]CC[4*]"}));
  int heavy = 0, dummies = 0;
  for (const auto& f : d.fragments) {
    heavy += f.heavy_atoms;
    dummies += f.attachments;
  }
  CHECK(heavy == 8);
  CHECK(dummies == 2 * static_cast<int>(d.bonds.size()));
}

TEST_CASE("brics: salts keep the counter-ion as its own fragment under keep_all") {
  auto all = fragments_of("CCCOCC.Cl");
  CHECK(std::count(all.begin(), all.end(), "Cl") == 1);
  auto largest = fragments_of("CCCOCC.Cl", ComponentPolicy::largest_organic);
  CHECK(std::count(largest.begin(), largest.end(), "Cl") == 0);
  CHECK(largest.size() == 3);
}

TEST_CASE("brics: cut() validates the bonds it is given") {
  BricsFragmenter fragmenter;
  const Molecule m = parse_smiles("CCO").molecule;
  CHECK_THROWS_WITH_AS(fragmenter.cut(m, {BricsBond{0, 2, 4, 3, 1}}), doctest::Contains("not bonded"), dispa::Error);
  CHECK_THROWS_WITH_AS(fragmenter.cut(m, {BricsBond{0, 7, 4, 3, 1}}), doctest::Contains("outside"), dispa::Error);
}

TEST_CASE("brics: a pair matching in both directions gives La to the lower atom index") {
  // The bond joins two ring-fusion carbons that are each L13 and L15, and no later pair matches:
  // the atom written first takes L13. Expected values from RDKit 2022.09.3 BreakBRICSBonds.
  CHECK(fragments_of("N1CCCC2CCCCC12C12OCCCC1CCCC2") ==
        canonical({"[13*]C12CCCCC1CCCN2", "[15*]C12CCCCC1CCCO2"}));
  CHECK(fragments_of("O1CCCC2CCCCC12C12NCCCC1CCCC2") ==
        canonical({"[13*]C12CCCCC1CCCO2", "[15*]C12CCCCC1CCCN2"}));
}
