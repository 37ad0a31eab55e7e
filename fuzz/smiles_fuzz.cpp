// libFuzzer target for the SMILES -> molecule -> BRICS fragments -> fingerprints path.
// Any input may be rejected with dispa::Error (that is the contract); what must never happen is a
// crash, a sanitizer report, a hang, or a broken invariant of the fragmentation:
//   * the fast bond finder (per-atom environments) equals the reference one (one SMARTS per pair);
//   * cutting k acyclic bonds adds k components and 2k dummy atoms and loses no heavy atom.
// Build and run with fuzz/run.sh; crashing inputs are kept in tests/chem/fuzz_regressions/.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "chem/brics.h"
#include "chem/fingerprint.h"
#include "engine/error.h"

namespace {

void check(bool ok, const char* what, const std::string& smiles) {
  if (ok) return;
  std::fprintf(stderr, "smiles_fuzz: invariant broken: %s\n  input: %s\n", what, smiles.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 300) return 0;  // drug-sized inputs; longer ones only slow the search down
  const std::string smiles(reinterpret_cast<const char*>(data), size);
  using namespace dispa::chem;
  try {
    ParsedMolecule parsed = parse_smiles(smiles, "fuzz", ComponentPolicy::keep_all);
    const Molecule& mol = parsed.molecule;
    thread_local BricsFragmenter fragmenter;
    const auto bonds = fragmenter.find_bonds(mol);
    check(bonds == fragmenter.find_bonds_by_pair_smarts(mol), "fast and reference BRICS bonds differ", smiles);
    const BricsDecomposition d = fragmenter.cut(mol, bonds);
    int heavy = 0, dummies = 0;
    for (const BricsFragment& f : d.fragments) {
      heavy += f.heavy_atoms;
      dummies += f.attachments;
    }
    check(heavy == mol.num_heavy_atoms(), "heavy atoms not conserved by cutting", smiles);
    check(dummies == 2 * static_cast<int>(bonds.size()), "not two dummies per cut bond", smiles);
    check(d.fragments.size() == static_cast<size_t>(mol.num_components()) + bonds.size(),
          "cutting an acyclic bond must add exactly one component", smiles);
    FingerprintOptions options;
    for (const BricsFragment& f : d.fragments) (void)morgan_counts(f.molecule, options);
    (void)morgan_counts(mol, options);
    (void)descriptors(mol);  // whole molecule only: OpenBabel's logP/TPSA are slow under ASan
  } catch (const dispa::Error&) {
    // rejected input: fine
  }
  return 0;
}
