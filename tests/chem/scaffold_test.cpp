#include <doctest/doctest.h>

#include "chem/drug_table.h"
#include "chem/scaffold.h"
#include "tests/support/shared_data.h"

using namespace dispa::chem;

namespace {
std::string scaffold(const char* smiles, bool isomeric = false) {
  return murcko_scaffold_smiles(parse_smiles(smiles).molecule, isomeric);
}
std::string can(const char* smiles, bool isomeric = false) {
  return write_canonical_smiles(parse_smiles(smiles).molecule.ob(), isomeric);
}
}  // namespace

TEST_CASE("scaffold: side chains go, rings and linkers stay") {
  CHECK(scaffold("CCc1ccccc1") == can("c1ccccc1"));
  CHECK(scaffold("CCO") == "");
  CHECK(scaffold("c1ccccc1CCc1ccncc1CCC") == can("c1ccc(cc1)CCc1ccncc1"));
  // Exocyclic double bonds on ring or linker atoms are part of the scaffold (RDKit does the same).
  CHECK(scaffold("CC1CCC(=O)CC1") == can("O=C1CCCCC1"));
  CHECK(scaffold("CC(=O)Nc1ccc(O)cc1") == can("c1ccccc1"));
  CHECK(scaffold("O=C(Nc1ccccc1)c1ccccc1") == can("O=C(Nc1ccccc1)c1ccccc1"));
  // An atom that loses its substituent gains the hydrogen: N-methylimidazole -> imidazole.
  CHECK(scaffold("Cn1ccnc1") == can("c1c[nH]cn1"));
}

TEST_CASE("scaffold: stereo is left out unless asked for") {
  CHECK(scaffold("C[C@H]1CCCN1c1ccccc1") == scaffold("C[C@@H]1CCCN1c1ccccc1"));
  CHECK(scaffold("O[C@H]1C[C@@H](O)C1c1ccccc1") == can("C1CC(C1)c1ccccc1"));
  const char* trans = "C1CC[C@H](c2ccccc2)[C@@H](c2ccncc2)C1";
  CHECK(scaffold(trans, true).find('@') != std::string::npos);
  CHECK(scaffold(trans, false).find('@') == std::string::npos);
}

TEST_CASE("scaffold: every GDSC drug has a scaffold string") {
  const auto path = dispa::test::shared_path_or_skip("data/gdsc2/drugs.tsv");
  if (path.empty()) return;
  const DrugTable drugs = read_drug_table(path.string());
  CHECK(drugs.problems.empty());
  int acyclic = 0;
  for (const DrugRecord& d : drugs.drugs) {
    CAPTURE(d.name);
    const std::string s = murcko_scaffold_smiles(parse_smiles(d.smiles, d.name).molecule);
    if (s.empty()) ++acyclic;
    else CHECK(canonical_smiles(s) == write_canonical_smiles(parse_smiles(s).molecule.ob(), false));
  }
  CHECK(acyclic <= 3);  // very few GDSC drugs have no ring
}
