// BRICS fragmentation (Degen, Wegscheid-Gerlach, Zaliani, Rarey, ChemMedChem 2008, 3:1503-1507)
// on OpenBabel SMARTS matching, written to agree with RDKit's FragmentOnBRICSBonds
// (Chem.BreakBRICSBonds), the reference implementation.
//
// Rules (the tables are embedded in brics.cpp; a test checks them against
// ../shared/data/brics/brics_{rules,pairs}.tsv):
//   * 16 chemical environments L1..L16 (RDKit's set: L2 folded into L5; lettered copies L7a/L7b,
//     L14b, L16b) and 46 allowed pairs (La, Lb, bond order).
//   * A bond x-y is cut for the pair (La, Lb, order) when x is in La, y is in Lb, the bond has that
//     order and is not in a ring: the SMARTS [$(La)]<order>;!@[$(Lb)].
//   * A bond matching several pairs takes the labels of the LAST matching pair in table order
//     (RDKit's C++ scans the list "general -> specific" backwards). If one pair matches in both
//     directions, the atom with the lower index takes La (RDKit's first substructure match).
//   * Each cut bond x-y is replaced by x-[Lx*] and y-[Ly*] with the original bond order: the dummy's
//     isotope is the environment number of the atom it is attached to (letter dropped, L7a -> 7).
//     Atoms keep their charges, hydrogen counts and stereo (stereo references move to the dummy).
//   * Fragments are the connected components of the cut molecule, written as OpenBabel canonical
//     isomeric SMILES; the multiset has one entry per component (a salt's counter-ion, when kept, is
//     its own fragment), sorted; a molecule with no cleavable bond is its own single fragment.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chem/molecule.h"

namespace dispa::chem {

struct BricsEnvironment {
  std::string_view label;   // "L1", "L7a", ...
  std::string_view smarts;
};
struct BricsPair {
  std::string_view label_a, label_b;
  std::string_view bond;    // "-" or "="
};

// The published tables, in RDKit's order (pair order matters: see "last matching pair" above).
std::span<const BricsEnvironment> brics_environments();
std::span<const BricsPair> brics_pairs();
// "L7a" -> 7, "L16b" -> 16. Throws on anything that is not L<number>[letter].
int brics_label_number(std::string_view label);

struct BricsBond {
  int atom_a = 0, atom_b = 0;    // 0-based atom indices (input SMILES order); atom_a < atom_b
  int label_a = 0, label_b = 0;  // environment number of atom_a / atom_b (= the dummy isotopes)
  int order = 1;                 // 1 or 2 (the L7=L7 cut)
  bool operator==(const BricsBond&) const = default;
};

struct BricsFragment {
  std::string smiles;        // canonical isomeric SMILES with [n*] dummies
  Molecule molecule;         // the fragment as a molecule of its own (dummies included)
  std::vector<int> atoms;    // 1-based OpenBabel atom indices in BricsDecomposition::cut
  int heavy_atoms = 0;       // dummies excluded
  int attachments = 0;       // number of dummy atoms
};

struct BricsDecomposition {
  Molecule cut;                          // the molecule after cutting, dummies added at the end
  std::vector<BricsBond> bonds;          // the bonds that were cut, by (atom_a, atom_b)
  std::vector<BricsFragment> fragments;  // one per component of `cut`, sorted by SMILES

  std::vector<std::string> multiset() const;  // one SMILES per fragment occurrence, sorted
  std::vector<std::string> unique() const;    // sorted, duplicates removed
};

// Holds the compiled SMARTS. Not thread-safe (OpenBabel's matcher keeps state): use one per
// thread, or the free function below, which keeps one per thread.
class BricsFragmenter {
 public:
  BricsFragmenter();
  ~BricsFragmenter();
  BricsFragmenter(const BricsFragmenter&) = delete;
  BricsFragmenter& operator=(const BricsFragmenter&) = delete;

  // The cleavable bonds: every environment SMARTS is matched once and the pair table is applied
  // to each acyclic bond. Equivalent to find_bonds_by_pair_smarts (a test checks it), faster.
  std::vector<BricsBond> find_bonds(const Molecule& mol);
  // Reference route: one SMARTS "[$(La)]-;!@[$(Lb)]" per pair, scanned from the last pair.
  std::vector<BricsBond> find_bonds_by_pair_smarts(const Molecule& mol);
  // Cuts the given bonds (as returned by find_bonds) and returns the fragments.
  BricsDecomposition cut(const Molecule& mol, const std::vector<BricsBond>& bonds);
  BricsDecomposition decompose(const Molecule& mol) { return cut(mol, find_bonds(mol)); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// decompose() with a per-thread fragmenter.
BricsDecomposition brics_decompose(const Molecule& mol);

}  // namespace dispa::chem
