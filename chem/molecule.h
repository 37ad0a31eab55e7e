// Molecules: SMILES in, OpenBabel OBMol inside (pimpl, so OpenBabel's headers stay out of every
// other target), canonical isomeric SMILES out. This is the only place that reads SMILES.
//
// Parsing rules (documented in chem/README.md):
//   * OpenBabel's SMILES reader: stereo and isotopes kept (isomeric); aromaticity is what
//     OpenBabel perceives from the input, Kekulé or aromatic; explicit [H] atoms are folded into
//     their heavy atom's hydrogen count (as RDKit does by default), so BRICS degrees agree.
//   * Multi-component inputs (salts "X.Cl", ion pairs such as oxaliplatin's "L.[O-]C(=O)C(=O)[O-].[Pt+4]"):
//     ComponentPolicy::largest_organic (default) keeps the component with the most heavy atoms among
//     those containing carbon (ties: the first in the SMILES; no carbon anywhere: the largest
//     component) and reports the dropped ones as canonical SMILES; ComponentPolicy::keep_all keeps
//     every component (RDKit's behaviour, used when comparing with RDKit's BRICS output).
//   * Errors: a SMILES that breaks the OpenSMILES grammar or the size limits (smiles_syntax.h) or
//     that OpenBabel cannot read throws dispa::Error naming the molecule and showing the string
//     (shortened), with the position of the problem or OpenBabel's own diagnosis appended.
//
// Threading: OpenBabel keeps a process-global error log, so parse_smiles serialises on a mutex;
// other calls use per-thread OpenBabel objects.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chem/smiles_syntax.h"

namespace OpenBabel {
class OBMol;
}

namespace dispa::chem {

enum class ComponentPolicy { largest_organic, keep_all };

// "largest" / "all" (the CLI spelling); throws dispa::Error on anything else.
ComponentPolicy parse_component_policy(std::string_view text);
std::string_view component_policy_name(ComponentPolicy policy);

class Molecule {
 public:
  Molecule();
  explicit Molecule(const OpenBabel::OBMol& mol);  // deep copy
  ~Molecule();
  Molecule(const Molecule& other);
  Molecule& operator=(const Molecule& other);
  Molecule(Molecule&& other) noexcept;
  Molecule& operator=(Molecule&& other) noexcept;

  int num_atoms() const;        // every atom in the graph, dummies included
  int num_heavy_atoms() const;  // atomic number > 1 (dummy atoms excluded)
  int num_components() const;   // connected components
  // OpenBabel canonical isomeric SMILES (components joined by '.').
  std::string smiles() const;

  OpenBabel::OBMol& ob() { return *mol_; }
  const OpenBabel::OBMol& ob() const { return *mol_; }

 private:
  std::unique_ptr<OpenBabel::OBMol> mol_;
};

struct ParsedMolecule {
  Molecule molecule;
  std::vector<std::string> dropped;  // canonical SMILES of the components that were removed
};

// Parses one SMILES. `name` is used only in error messages ("drug 'X': ..."). The string must
// pass check_smiles_syntax (smiles_syntax.h: OpenSMILES grammar, at most `limits` characters and
// atoms) before OpenBabel reads it.
ParsedMolecule parse_smiles(std::string_view smiles, std::string_view name = {},
                            ComponentPolicy policy = ComponentPolicy::largest_organic,
                            const SmilesLimits& limits = {});

// OpenBabel canonical isomeric SMILES of any SMILES (all components kept). Used to compare SMILES
// written by different toolkits: canonicalise both sides with the same toolkit.
std::string canonical_smiles(std::string_view smiles);

// OpenBabel canonical SMILES of a molecule, isomeric (stereo, isotopes) unless asked otherwise.
// Dummy-atom labels take part in the canonical ranking (see molecule.cpp). OpenBabel's own "F"
// option, which writes a subset of atoms, is not used: it deletes the stereo outside the subset.
std::string write_canonical_smiles(const OpenBabel::OBMol& mol, bool isomeric = true);

// A copy of the listed atoms (1-based OpenBabel indices, typically one connected component) as a
// molecule of its own, with their stereo.
Molecule extract_atoms(const OpenBabel::OBMol& mol, const std::vector<int>& atoms);

// Connected components as lists of 1-based atom indices, ordered by their lowest atom index.
std::vector<std::vector<int>> connected_components(const OpenBabel::OBMol& mol);

}  // namespace dispa::chem
