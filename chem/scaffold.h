// Bemis-Murcko scaffolds (Bemis & Murcko, J. Med. Chem. 1996, 39:2887-2893): the ring systems of a
// molecule and the linker chains between them, with side chains removed. Atoms attached to a
// ring or linker atom by a double bond (exocyclic C=O, C=N) are kept, as RDKit's
// MurckoScaffold.GetScaffoldForMol does; atoms that lose a substituent gain the hydrogens (an
// N-methyl pyrrole becomes [nH]). Acyclic molecules have the empty scaffold "".
// Used by train/ for the drug-blind scaffold split: drugs with the same scaffold string go to the
// same fold. Stereo is left out by default, so stereoisomers share a scaffold (as in DeepChem's
// scaffold splitter).
#pragma once
#include <string>

#include "chem/molecule.h"

namespace dispa::chem {

// The scaffold as a molecule (empty molecule for acyclic input).
Molecule murcko_scaffold(const Molecule& mol);
// Its canonical SMILES; `isomeric` keeps stereo marks on the scaffold atoms.
std::string murcko_scaffold_smiles(const Molecule& mol, bool isomeric = false);

}  // namespace dispa::chem
