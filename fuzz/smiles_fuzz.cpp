// SMILES -> syntax check -> molecule -> BRICS fragments -> fingerprints (chem/). Besides the
// general contract (fuzz_target.h), the fragmentation keeps its invariants:
//   * the fast bond finder (per-atom environments) equals the reference one (one SMARTS per pair);
//   * cutting k acyclic bonds adds k components and 2k dummy atoms and loses no heavy atom.
#include <string>

#include "chem/brics.h"
#include "chem/fingerprint.h"
#include "fuzz/fuzz_target.h"

DISPA_FUZZ_TARGET(smiles) {
  using dispa::fuzz::require;
  using namespace dispa::chem;
  if (data.size() > 300) return;  // drug-sized inputs; longer ones only slow the search down
  const ParsedMolecule parsed = parse_smiles(data, "fuzz", ComponentPolicy::keep_all);
  const Molecule& mol = parsed.molecule;
  thread_local BricsFragmenter fragmenter;
  const auto bonds = fragmenter.find_bonds(mol);
  require(bonds == fragmenter.find_bonds_by_pair_smarts(mol), "fast and reference BRICS bonds differ");
  const BricsDecomposition d = fragmenter.cut(mol, bonds);
  int heavy = 0, dummies = 0;
  for (const BricsFragment& f : d.fragments) {
    heavy += f.heavy_atoms;
    dummies += f.attachments;
  }
  require(heavy == mol.num_heavy_atoms(), "heavy atoms not conserved by cutting");
  require(dummies == 2 * static_cast<int>(bonds.size()), "not two dummies per cut bond");
  require(d.fragments.size() == static_cast<size_t>(mol.num_components()) + bonds.size(),
          "cutting an acyclic bond must add exactly one component");
  FingerprintOptions options;
  for (const BricsFragment& f : d.fragments) (void)morgan_counts(f.molecule, options);
  (void)morgan_counts(mol, options);
  (void)descriptors(mol);  // whole molecule only: OpenBabel's logP/TPSA are slow under ASan
}
