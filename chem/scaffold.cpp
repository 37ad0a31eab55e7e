// Bemis-Murcko scaffolds: prune terminal non-ring atoms until none is left (what remains is the
// rings plus linkers), then add back atoms double-bonded to what remains. See scaffold.h.
#include "chem/scaffold.h"

#include <openbabel/atom.h>
#include <openbabel/bitvec.h>
#include <openbabel/bond.h>
#include <openbabel/mol.h>
#include <openbabel/obiter.h>

#include "engine/error.h"

namespace dispa::chem {

Molecule murcko_scaffold(const Molecule& molecule) {
  OpenBabel::OBMol& mol = const_cast<OpenBabel::OBMol&>(molecule.ob());  // ring perception is lazy
  const int n = static_cast<int>(mol.NumAtoms());
  std::vector<bool> keep(n + 1, true);
  std::vector<int> degree(n + 1, 0);  // neighbours still kept
  for (int i = 1; i <= n; ++i) degree[i] = static_cast<int>(mol.GetAtom(i)->GetExplicitDegree());
  bool any_ring = false;
  std::vector<int> stack;
  for (int i = 1; i <= n; ++i) {
    OpenBabel::OBAtom* atom = mol.GetAtom(i);
    any_ring = any_ring || atom->IsInRing();
    if (!atom->IsInRing() && degree[i] <= 1) stack.push_back(i);
  }
  if (!any_ring) return Molecule();
  while (!stack.empty()) {  // peel side chains from their free ends inwards
    const int i = stack.back();
    stack.pop_back();
    if (!keep[i]) continue;
    keep[i] = false;
    FOR_NBORS_OF_ATOM(nbr, mol.GetAtom(i)) {
      const int j = static_cast<int>(nbr->GetIdx());
      if (keep[j] && --degree[j] <= 1 && !nbr->IsInRing()) stack.push_back(j);
    }
  }
  std::vector<bool> core = keep;
  FOR_BONDS_OF_MOL(bond, mol) {
    if (bond->GetBondOrder() != 2 || bond->IsAromatic()) continue;
    const int a = static_cast<int>(bond->GetBeginAtomIdx()), b = static_cast<int>(bond->GetEndAtomIdx());
    if (core[a] && !core[b] && bond->GetEndAtom()->GetExplicitDegree() == 1) keep[b] = true;
    if (core[b] && !core[a] && bond->GetBeginAtom()->GetExplicitDegree() == 1) keep[a] = true;
  }
  OpenBabel::OBBitVec include(static_cast<unsigned>(n) + 1);
  for (int i = 1; i <= n; ++i)
    if (keep[i]) include.SetBitOn(static_cast<unsigned>(i));
  Molecule out;
  // correctvalence = 1: an atom that loses a bond gains an implicit hydrogen per bond order.
  DISPA_CHECK(mol.CopySubstructure(out.ob(), &include, nullptr, 1),
              "scaffold: OpenBabel cannot copy the scaffold of {}", molecule.smiles());
  return out;
}

std::string murcko_scaffold_smiles(const Molecule& mol, bool isomeric) {
  const Molecule scaffold = murcko_scaffold(mol);
  if (scaffold.num_atoms() == 0) return {};
  return write_canonical_smiles(scaffold.ob(), isomeric);
}

}  // namespace dispa::chem
