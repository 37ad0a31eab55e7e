#include <doctest/doctest.h>

#include "chem/molecule.h"
#include "engine/error.h"

using namespace dispa::chem;
using dispa::Error;

TEST_CASE("molecule: parses SMILES, keeps stereo, writes canonical SMILES") {
  const Molecule m = parse_smiles("OCC").molecule;
  CHECK(m.num_atoms() == 3);
  CHECK(m.num_heavy_atoms() == 3);
  CHECK(m.smiles() == canonical_smiles("CCO"));
  CHECK(canonical_smiles("C[C@H](N)O").find('@') != std::string::npos);
  CHECK(canonical_smiles("C[C@H](N)O") != canonical_smiles("C[C@@H](N)O"));
  CHECK(canonical_smiles("C1=CC=CC=C1") == canonical_smiles("c1ccccc1"));  // Kekule or aromatic input
}

TEST_CASE("molecule: unparsable SMILES is an error naming the drug and showing the string") {
  CHECK_THROWS_WITH_AS(parse_smiles("C1CC", "Foo"), doctest::Contains("drug 'Foo'"), Error);
  CHECK_THROWS_WITH_AS(parse_smiles("C1CC", "Foo"), doctest::Contains("'C1CC'"), Error);
  CHECK_THROWS_WITH_AS(parse_smiles("CXC", "Bar"), doctest::Contains("'CXC'"), Error);
  CHECK_THROWS_WITH_AS(parse_smiles("", "Baz"), doctest::Contains("empty SMILES"), Error);
  // OpenBabel would read "CC O" as CC with title "O": refused instead of silently truncated.
  CHECK_THROWS_WITH_AS(parse_smiles("CC O", "Qux"), doctest::Contains("whitespace"), Error);
}

TEST_CASE("molecule: explicit hydrogens are folded into their heavy atom") {
  const Molecule m = parse_smiles("[H]C([H])([H])O").molecule;
  CHECK(m.num_atoms() == 2);
  CHECK(m.smiles() == canonical_smiles("CO"));
}

TEST_CASE("molecule: largest organic component is kept, the rest reported") {
  ParsedMolecule salt = parse_smiles("CCCCN.Cl", "salt");
  CHECK(salt.molecule.smiles() == canonical_smiles("CCCCN"));
  REQUIRE(salt.dropped.size() == 1);
  CHECK(salt.dropped[0] == "Cl");

  // Oxaliplatin: the diaminocyclohexane ligand (8 heavy atoms) beats oxalate (6); Pt has no carbon.
  ParsedMolecule ox = parse_smiles("C1CC[C@H]([C@@H](C1)[NH-])[NH-].C(=O)(C(=O)[O-])[O-].[Pt+4]", "Oxaliplatin");
  CHECK(ox.molecule.num_heavy_atoms() == 8);
  CHECK(ox.dropped.size() == 2);
  CHECK(ox.molecule.smiles().find('@') != std::string::npos);  // stereo survives the extraction

  // Ties keep the first component in SMILES order; without carbon the largest component wins.
  CHECK(parse_smiles("CCO.CCN").molecule.smiles() == canonical_smiles("CCO"));
  CHECK(parse_smiles("[Na+].[Cl-]").molecule.smiles() == "[Na+]");
  CHECK(parse_smiles("O.CC(=O)O").molecule.smiles() == canonical_smiles("CC(=O)O"));

  ParsedMolecule all = parse_smiles("CCCCN.Cl", "salt", ComponentPolicy::keep_all);
  CHECK(all.molecule.num_components() == 2);
  CHECK(all.dropped.empty());
}

TEST_CASE("molecule: component policy names") {
  CHECK(parse_component_policy("largest") == ComponentPolicy::largest_organic);
  CHECK(parse_component_policy("all") == ComponentPolicy::keep_all);
  CHECK(component_policy_name(ComponentPolicy::keep_all) == "all");
  CHECK_THROWS_WITH_AS(parse_component_policy("biggest"), doctest::Contains("'biggest'"), Error);
}

TEST_CASE("molecule: canonical SMILES ranks dummy atoms by their label") {
  // OpenBabel alone writes these two spellings of one fragment differently.
  CHECK(canonical_smiles("[1*]C(=O)C([8*])[4*]") == canonical_smiles("[1*]C(=O)C([4*])[8*]"));
  CHECK(canonical_smiles("[4*]CC[8*]") == canonical_smiles("[8*]CC[4*]"));
  CHECK(canonical_smiles("[4*]OC[8*]") != canonical_smiles("[8*]OC[4*]"));
  // A centre distinguished only by its dummy labels keeps its stereo mark.
  const std::string s = canonical_smiles("[4*][C@H](O)[5*]");
  CHECK(s.find('@') != std::string::npos);
  CHECK(s != canonical_smiles("[4*][C@@H](O)[5*]"));
  CHECK(canonical_smiles(s) == s);  // idempotent
  // Labels survive; a single distinct label needs no encoding.
  CHECK(canonical_smiles("[16*]c1ccccc1") == "[16*]c1ccccc1");
}
