// BRICS on OpenBabel: the published environment and pair tables, bond finding (per-atom
// environments, plus the slower one-SMARTS-per-pair reference route) and bond cutting with
// isotope-labelled dummy atoms. Rules and their sources: brics.h.
#include "chem/brics.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include <openbabel/atom.h>
#include <openbabel/bond.h>
#include <openbabel/mol.h>
#include <openbabel/obiter.h>
#include <openbabel/parsmart.h>
#include <openbabel/stereo/cistrans.h>
#include <openbabel/stereo/squareplanar.h>
#include <openbabel/stereo/tetrahedral.h>

#include "engine/error.h"

namespace dispa::chem {
namespace {

using OpenBabel::OBAtom;
using OpenBabel::OBBond;
using OpenBabel::OBMol;

// Source: RDKit 2022.09.3, rdkit/Chem/BRICS.py (`environs`, `reactionDefs`), identical to
// Code/GraphMol/ChemTransforms/MolFragmenter.cpp; published as ../shared/data/brics/*.tsv.
// RDKit's unused "#L8" environment is left out, as in the shared table.
constexpr std::array<BricsEnvironment, 18> kEnvironments{{
    {"L1", "[C;D3]([#0,#6,#7,#8])(=O)"},
    {"L3", "[O;D2]-;!@[#0,#6,#1]"},
    {"L4", "[C;!D1;!$(C=*)]-;!@[#6]"},
    {"L5", "[N;!D1;!$(N=*);!$(N-[!#6;!#16;!#0;!#1]);!$([N;R]@[C;R]=O)]"},
    {"L6", "[C;D3;!R](=O)-;!@[#0,#6,#7,#8]"},
    {"L7a", "[C;D2,D3]-[#6]"},
    {"L7b", "[C;D2,D3]-[#6]"},
    {"L8", "[C;!R;!D1;!$(C!-*)]"},
    {"L9", "[n;+0;$(n(:[c,n,o,s]):[c,n,o,s])]"},
    {"L10", "[N;R;$(N(@C(=O))@[C,N,O,S])]"},
    {"L11", "[S;D2](-;!@[#0,#6])"},
    {"L12", "[S;D4]([#6,#0])(=O)(=O)"},
    {"L13", "[C;$(C(-;@[C,N,O,S])-;@[N,O,S])]"},
    {"L14", "[c;$(c(:[c,n,o,s]):[n,o,s])]"},
    {"L14b", "[c;$(c(:[c,n,o,s]):[n,o,s])]"},
    {"L15", "[C;$(C(-;@C)-;@C)]"},
    {"L16", "[c;$(c(:c):c)]"},
    {"L16b", "[c;$(c(:c):c)]"},
}};

// Order matters: the last matching pair labels a bond.
constexpr std::array<BricsPair, 46> kPairs{{
    {"L1", "L3", "-"},   {"L1", "L5", "-"},   {"L1", "L10", "-"},  {"L3", "L4", "-"},
    {"L3", "L13", "-"},  {"L3", "L14", "-"},  {"L3", "L15", "-"},  {"L3", "L16", "-"},
    {"L4", "L5", "-"},   {"L4", "L11", "-"},  {"L5", "L12", "-"},  {"L5", "L14", "-"},
    {"L5", "L16", "-"},  {"L5", "L13", "-"},  {"L5", "L15", "-"},  {"L6", "L13", "-"},
    {"L6", "L14", "-"},  {"L6", "L15", "-"},  {"L6", "L16", "-"},  {"L7a", "L7b", "="},
    {"L8", "L9", "-"},   {"L8", "L10", "-"},  {"L8", "L13", "-"},  {"L8", "L14", "-"},
    {"L8", "L15", "-"},  {"L8", "L16", "-"},  {"L9", "L13", "-"},  {"L9", "L14", "-"},
    {"L9", "L15", "-"},  {"L9", "L16", "-"},  {"L10", "L13", "-"}, {"L10", "L14", "-"},
    {"L10", "L15", "-"}, {"L10", "L16", "-"}, {"L11", "L13", "-"}, {"L11", "L14", "-"},
    {"L11", "L15", "-"}, {"L11", "L16", "-"}, {"L13", "L14", "-"}, {"L13", "L15", "-"},
    {"L13", "L16", "-"}, {"L14", "L14", "-"}, {"L14", "L15", "-"}, {"L14", "L16", "-"},
    {"L15", "L16", "-"}, {"L16", "L16", "-"},
}};

int environment_index(std::string_view label) {
  for (size_t i = 0; i < kEnvironments.size(); ++i)
    if (kEnvironments[i].label == label) return static_cast<int>(i);
  fail("brics: pair table names unknown environment '{}'", label);
}

// A pair resolved to environment indices, numbers and a bond order.
struct ResolvedPair {
  int env_a, env_b;        // indices into kEnvironments
  int label_a, label_b;    // environment numbers (dummy isotopes)
  int order;
};

// Replaces stereo reference `old_ref` by `new_ref` in every stereo object centred on (or, for
// cis/trans, ending at) atom `owner`: the dummy takes the place of the neighbour it replaces, so
// the parity is unchanged. A cis/trans object on the cut double bond itself is deleted.
void move_stereo_reference(OBMol& mol, unsigned long owner, unsigned long old_ref, unsigned long new_ref) {
  std::vector<OpenBabel::OBGenericData*> remove;
  for (OpenBabel::OBGenericData* data : mol.GetData()) {
    if (data->GetDataType() != OpenBabel::OBGenericDataType::StereoData) continue;
    if (auto* t = dynamic_cast<OpenBabel::OBTetrahedralStereo*>(data)) {
      auto config = t->GetConfig();
      if (config.center != owner) continue;
      if (config.from == old_ref) config.from = new_ref;
      std::replace(config.refs.begin(), config.refs.end(), old_ref, new_ref);
      t->SetConfig(config);
    } else if (auto* ct = dynamic_cast<OpenBabel::OBCisTransStereo*>(data)) {
      auto config = ct->GetConfig();
      if (config.begin != owner && config.end != owner) continue;
      if (config.begin == old_ref || config.end == old_ref) {
        remove.push_back(data);  // the double bond itself was cut (L7=L7)
        continue;
      }
      std::replace(config.refs.begin(), config.refs.end(), old_ref, new_ref);
      ct->SetConfig(config);
    } else if (auto* sp = dynamic_cast<OpenBabel::OBSquarePlanarStereo*>(data)) {
      auto config = sp->GetConfig();
      if (config.center != owner) continue;
      std::replace(config.refs.begin(), config.refs.end(), old_ref, new_ref);
      sp->SetConfig(config);
    }
  }
  for (auto* data : remove) mol.DeleteData(data);
}

OBAtom* add_dummy(OBMol& mol, OBAtom* owner, int label, int order) {
  OBAtom* dummy = mol.NewAtom();
  dummy->SetAtomicNum(0);
  dummy->SetIsotope(static_cast<unsigned int>(label));
  dummy->SetImplicitHCount(0);
  mol.AddBond(static_cast<int>(owner->GetIdx()), static_cast<int>(dummy->GetIdx()), order);
  return dummy;
}

void sort_bonds(std::vector<BricsBond>& bonds) {
  std::sort(bonds.begin(), bonds.end(), [](const BricsBond& x, const BricsBond& y) {
    return std::pair(x.atom_a, x.atom_b) < std::pair(y.atom_a, y.atom_b);
  });
}

}  // namespace

std::span<const BricsEnvironment> brics_environments() { return kEnvironments; }
std::span<const BricsPair> brics_pairs() { return kPairs; }

int brics_label_number(std::string_view label) {
  DISPA_CHECK(label.size() >= 2 && label[0] == 'L', "brics: bad environment label '{}'", label);
  int n = 0;
  size_t i = 1;
  for (; i < label.size() && label[i] >= '0' && label[i] <= '9'; ++i) n = n * 10 + (label[i] - '0');
  DISPA_CHECK(i > 1 && i + 1 >= label.size() && n >= 1 && n <= 16, "brics: bad environment label '{}'",
              label);
  return n;
}

std::vector<std::string> BricsDecomposition::multiset() const {
  std::vector<std::string> out;
  out.reserve(fragments.size());
  for (const auto& f : fragments) out.push_back(f.smiles);
  return out;  // fragments are kept sorted by SMILES
}

std::vector<std::string> BricsDecomposition::unique() const {
  std::vector<std::string> out = multiset();
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// ---- BricsFragmenter ------------------------------------------------------------------------------

struct BricsFragmenter::Impl {
  std::array<OpenBabel::OBSmartsPattern, kEnvironments.size()> environments;
  std::array<ResolvedPair, kPairs.size()> pairs;
  std::array<OpenBabel::OBSmartsPattern, kPairs.size()> pair_patterns;  // reference route only
  bool pair_patterns_ready = false;

  Impl() {
    for (size_t i = 0; i < kEnvironments.size(); ++i)
      DISPA_CHECK(environments[i].Init(std::string(kEnvironments[i].smarts)),
                  "brics: OpenBabel rejects the SMARTS of {}: {}", kEnvironments[i].label,
                  kEnvironments[i].smarts);
    for (size_t k = 0; k < kPairs.size(); ++k) {
      const BricsPair& p = kPairs[k];
      DISPA_CHECK(p.bond == "-" || p.bond == "=", "brics: pair {}-{} has bond '{}'", p.label_a,
                  p.label_b, p.bond);
      pairs[k] = {environment_index(p.label_a), environment_index(p.label_b),
                  brics_label_number(p.label_a), brics_label_number(p.label_b), p.bond == "=" ? 2 : 1};
    }
  }

  void init_pair_patterns() {
    if (pair_patterns_ready) return;
    for (size_t k = 0; k < kPairs.size(); ++k) {
      const std::string smarts = fmt::format("[$({})]{};!@[$({})]", kEnvironments[pairs[k].env_a].smarts,
                                             kPairs[k].bond, kEnvironments[pairs[k].env_b].smarts);
      DISPA_CHECK(pair_patterns[k].Init(smarts), "brics: OpenBabel rejects pair SMARTS {}", smarts);
    }
    pair_patterns_ready = true;
  }
};

BricsFragmenter::BricsFragmenter() : impl_(std::make_unique<Impl>()) {}
BricsFragmenter::~BricsFragmenter() = default;

std::vector<BricsBond> BricsFragmenter::find_bonds(const Molecule& molecule) {
  OBMol& mol = const_cast<OBMol&>(molecule.ob());  // matching perceives rings/aromaticity lazily
  const int n = static_cast<int>(mol.NumAtoms());
  // environment membership per atom: bit e set when the atom is the first atom of a match of e.
  static_assert(kEnvironments.size() <= 32);
  std::vector<uint32_t> member(n + 1, 0);
  uint32_t present = 0;
  for (size_t e = 0; e < kEnvironments.size(); ++e) {
    auto& pattern = impl_->environments[e];
    // All matches, not the unique list: "C-C" matched from either end is one atom set but two
    // first atoms, and both are in the environment.
    if (!pattern.Match(mol)) continue;
    present |= 1u << e;
    for (const auto& match : pattern.GetMapList()) member[match[0]] |= 1u << e;
  }
  std::vector<BricsBond> bonds;
  FOR_BONDS_OF_MOL(bond, mol) {
    if (bond->IsInRing() || bond->IsAromatic()) continue;  // "!@"; "-" and "=" exclude aromatic
    const int order = static_cast<int>(bond->GetBondOrder());
    int i = static_cast<int>(bond->GetBeginAtomIdx()), j = static_cast<int>(bond->GetEndAtomIdx());
    if (i > j) std::swap(i, j);
    for (auto it = impl_->pairs.rbegin(); it != impl_->pairs.rend(); ++it) {
      const ResolvedPair& p = *it;
      if (p.order != order) continue;
      const uint32_t a = 1u << p.env_a, b = 1u << p.env_b;
      if ((present & a) == 0 || (present & b) == 0) continue;
      if ((member[i] & a) && (member[j] & b)) {
        bonds.push_back({i - 1, j - 1, p.label_a, p.label_b, order});
        break;
      }
      if ((member[j] & a) && (member[i] & b)) {
        bonds.push_back({i - 1, j - 1, p.label_b, p.label_a, order});
        break;
      }
    }
  }
  sort_bonds(bonds);
  return bonds;
}

std::vector<BricsBond> BricsFragmenter::find_bonds_by_pair_smarts(const Molecule& molecule) {
  OBMol& mol = const_cast<OBMol&>(molecule.ob());
  impl_->init_pair_patterns();
  std::vector<bool> used(mol.NumBonds(), false);
  std::vector<BricsBond> bonds;
  for (size_t k = kPairs.size(); k-- > 0;) {
    auto& pattern = impl_->pair_patterns[k];
    if (!pattern.Match(mol)) continue;
    const ResolvedPair& p = impl_->pairs[k];
    // Matches in the order OpenBabel finds them; for a pair matching both ways the first match
    // (lower first atom) wins, as RDKit's uniquified match list does.
    std::vector<std::vector<int>> matches = pattern.GetMapList();
    std::stable_sort(matches.begin(), matches.end(),
                     [](const auto& x, const auto& y) { return x[0] < y[0]; });
    for (const auto& match : matches) {
      OBBond* bond = mol.GetBond(match[0], match[1]);
      if (used[bond->GetIdx()]) continue;
      used[bond->GetIdx()] = true;
      const int x = match[0] - 1, y = match[1] - 1;
      if (x < y)
        bonds.push_back({x, y, p.label_a, p.label_b, p.order});
      else
        bonds.push_back({y, x, p.label_b, p.label_a, p.order});
    }
  }
  sort_bonds(bonds);
  return bonds;
}

BricsDecomposition BricsFragmenter::cut(const Molecule& molecule, const std::vector<BricsBond>& bonds) {
  BricsDecomposition result;
  result.cut = molecule;
  result.bonds = bonds;
  OBMol& mol = result.cut.ob();
  const int n = static_cast<int>(mol.NumAtoms());
  for (const BricsBond& b : bonds) {
    DISPA_CHECK(b.atom_a >= 0 && b.atom_b < n && b.atom_a != b.atom_b,
                "brics: bond {}-{} is outside a molecule of {} atoms", b.atom_a, b.atom_b, n);
    OBAtom* x = mol.GetAtom(b.atom_a + 1);
    OBAtom* y = mol.GetAtom(b.atom_b + 1);
    OBBond* bond = mol.GetBond(x, y);
    DISPA_CHECK(bond != nullptr, "brics: atoms {} and {} are not bonded", b.atom_a, b.atom_b);
    const int order = static_cast<int>(bond->GetBondOrder());
    mol.DeleteBond(bond);
    OBAtom* dx = add_dummy(mol, x, b.label_a, order);
    OBAtom* dy = add_dummy(mol, y, b.label_b, order);
    move_stereo_reference(mol, x->GetId(), y->GetId(), dx->GetId());
    move_stereo_reference(mol, y->GetId(), x->GetId(), dy->GetId());
  }
  for (std::vector<int>& atoms : connected_components(mol)) {
    BricsFragment fragment;
    for (int idx : atoms) {
      const unsigned z = mol.GetAtom(idx)->GetAtomicNum();
      if (z > 1) ++fragment.heavy_atoms;
      if (z == 0 && idx > n) ++fragment.attachments;  // dummies we added (input '*' are not ours)
    }
    // Each fragment is written as a molecule of its own, so its canonical SMILES (and which of its
    // centres count as stereogenic) does not depend on the rest of the parent molecule.
    fragment.molecule = extract_atoms(mol, atoms);
    fragment.smiles = fragment.molecule.smiles();
    fragment.atoms = std::move(atoms);
    result.fragments.push_back(std::move(fragment));
  }
  std::stable_sort(result.fragments.begin(), result.fragments.end(),
                   [](const BricsFragment& x, const BricsFragment& y) { return x.smiles < y.smiles; });
  return result;
}

BricsDecomposition brics_decompose(const Molecule& mol) {
  thread_local BricsFragmenter fragmenter;
  return fragmenter.decompose(mol);
}

}  // namespace dispa::chem
