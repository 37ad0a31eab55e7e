// Replays every input kept from fuzzing (tests/chem/fuzz_regressions/, see fuzz/run.sh) through
// the path the fuzz target exercises. Each may be rejected with dispa::Error; none may crash or
// break the fragmentation invariants. Run under -DDISPA_SANITIZE=ON to catch memory errors too.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chem/brics.h"
#include "chem/fingerprint.h"
#include "engine/error.h"

using namespace dispa::chem;

TEST_CASE("fuzz regressions: kept inputs run through parse, BRICS and fingerprints") {
  const std::filesystem::path dir = std::filesystem::path(DISPA_CHEM_TEST_DIR) / "fuzz_regressions";
  REQUIRE(std::filesystem::is_directory(dir));
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const std::string smiles = bytes.str();
    CAPTURE(entry.path().filename().string());
    ++n;
    try {
      const Molecule mol = parse_smiles(smiles, "fuzz", ComponentPolicy::keep_all).molecule;
      BricsFragmenter fragmenter;
      const auto bonds = fragmenter.find_bonds(mol);
      CHECK(bonds == fragmenter.find_bonds_by_pair_smarts(mol));
      const BricsDecomposition d = fragmenter.cut(mol, bonds);
      int heavy = 0;
      for (const BricsFragment& f : d.fragments) {
        heavy += f.heavy_atoms;
        (void)morgan_counts(f.molecule, {});
      }
      CHECK(heavy == mol.num_heavy_atoms());
      CHECK(d.fragments.size() == static_cast<size_t>(mol.num_components()) + bonds.size());
      (void)descriptors(mol);
    } catch (const dispa::Error&) {
      // rejected: fine
    }
  }
  CHECK(n > 0);
}
