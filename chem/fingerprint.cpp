// Morgan/ECFP environments, folded count and bit fingerprints, and physicochemical descriptors.
// Algorithm, invariants and the handling of dummy atoms: fingerprint.h.
#include "chem/fingerprint.h"

#include <algorithm>
#include <array>
#include <set>

#include <openbabel/atom.h>
#include <openbabel/bond.h>
#include <openbabel/descriptor.h>
#include <openbabel/mol.h>
#include <openbabel/obiter.h>
#include <openbabel/ring.h>

#include "engine/error.h"

namespace dispa::chem {
namespace {

using OpenBabel::OBAtom;
using OpenBabel::OBBond;
using OpenBabel::OBMol;

// boost::hash_combine on 32 bits: fixed width, so identifiers do not depend on the platform.
inline uint32_t hash_combine(uint32_t seed, uint32_t value) {
  return seed ^ (value + 0x9e3779b9u + (seed << 6) + (seed >> 2));
}

constexpr uint32_t kAttachmentId = 0xA77AC4EDu;  // identifier of every dummy atom, at every radius

uint32_t atom_invariant(OBAtom* atom) {
  uint32_t h = 0;
  h = hash_combine(h, atom->GetAtomicNum());
  h = hash_combine(h, atom->GetTotalDegree());
  h = hash_combine(h, atom->GetImplicitHCount() + atom->ExplicitHydrogenCount());
  h = hash_combine(h, static_cast<uint32_t>(atom->GetFormalCharge() + 128));
  h = hash_combine(h, atom->GetIsotope());
  h = hash_combine(h, atom->IsInRing() ? 1u : 0u);
  return h;
}

uint32_t bond_type(OBBond* bond) { return bond->IsAromatic() ? 4u : bond->GetBondOrder(); }

using BondSet = std::vector<uint64_t>;  // one bit per bond index

void set_bit(BondSet& s, unsigned bit) { s[bit / 64] |= uint64_t{1} << (bit % 64); }
void merge(BondSet& into, const BondSet& from) {
  for (size_t w = 0; w < into.size(); ++w) into[w] |= from[w];
}

}  // namespace

std::vector<std::pair<uint32_t, int>> morgan_environments(const Molecule& molecule, int radius) {
  DISPA_CHECK(radius >= 0 && radius <= 8, "fingerprint: radius must be in [0, 8], got {}", radius);
  OBMol& mol = const_cast<OBMol&>(molecule.ob());  // ring/aromaticity perception is lazy
  const int n = static_cast<int>(mol.NumAtoms());
  const size_t words = (mol.NumBonds() + 63) / 64 + 1;
  std::vector<uint32_t> id(n + 1), next_id(n + 1);
  std::vector<BondSet> bonds(n + 1, BondSet(words, 0)), next_bonds = bonds;
  std::vector<bool> dummy(n + 1, false);
  std::vector<uint32_t> found;
  std::set<BondSet> seen;  // bond sets already produced (radius >= 1)
  for (int i = 1; i <= n; ++i) {
    OBAtom* atom = mol.GetAtom(i);
    dummy[i] = atom->GetAtomicNum() == 0;
    id[i] = dummy[i] ? kAttachmentId : atom_invariant(atom);
    if (!dummy[i]) found.push_back(id[i]);
  }
  std::vector<std::pair<uint32_t, uint32_t>> neighbours;
  struct Candidate {
    BondSet bonds;
    uint32_t id;
    int atom;
  };
  std::vector<Candidate> candidates;
  for (int r = 1; r <= radius; ++r) {
    candidates.clear();
    for (int i = 1; i <= n; ++i) {
      next_id[i] = id[i];
      if (dummy[i]) continue;
      OBAtom* atom = mol.GetAtom(i);
      neighbours.clear();
      next_bonds[i] = bonds[i];
      FOR_BONDS_OF_ATOM(bond, atom) {
        const int j = static_cast<int>(bond->GetNbrAtom(atom)->GetIdx());
        neighbours.emplace_back(bond_type(&*bond), id[j]);
        set_bit(next_bonds[i], bond->GetIdx());
        merge(next_bonds[i], bonds[j]);
      }
      std::sort(neighbours.begin(), neighbours.end());
      uint32_t h = hash_combine(static_cast<uint32_t>(r), id[i]);
      for (const auto& [type, nid] : neighbours) h = hash_combine(hash_combine(h, type), nid);
      next_id[i] = h;
      candidates.push_back({next_bonds[i], h, i});
    }
    // Duplicate bond sets: keep the smallest identifier (then atom), as a deterministic rule.
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
      return std::tie(a.bonds, a.id, a.atom) < std::tie(b.bonds, b.id, b.atom);
    });
    for (size_t k = 0; k < candidates.size(); ++k) {
      if (k > 0 && candidates[k].bonds == candidates[k - 1].bonds) continue;
      if (!seen.insert(candidates[k].bonds).second) continue;
      found.push_back(candidates[k].id);
    }
    std::swap(id, next_id);
    std::swap(bonds, next_bonds);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::pair<uint32_t, int>> out;
  for (uint32_t v : found) {
    if (!out.empty() && out.back().first == v)
      ++out.back().second;
    else
      out.emplace_back(v, 1);
  }
  return out;
}

std::vector<float> morgan_counts(const Molecule& mol, const FingerprintOptions& options) {
  DISPA_CHECK(options.n_bits > 0, "fingerprint: n_bits must be positive, got {}", options.n_bits);
  std::vector<float> out(static_cast<size_t>(options.n_bits), 0.f);
  for (const auto& [id, count] : morgan_environments(mol, options.radius))
    out[id % static_cast<uint32_t>(options.n_bits)] += static_cast<float>(count);
  return out;
}

std::vector<float> morgan_bits(const Molecule& mol, const FingerprintOptions& options) {
  std::vector<float> out = morgan_counts(mol, options);
  for (float& v : out) v = v > 0.f ? 1.f : 0.f;
  return out;
}

// ---- descriptors ---------------------------------------------------------------------------------

namespace {
constexpr std::array<std::string_view, 19> kDescriptorNames{
    "heavy_atoms", "mol_weight",    "carbons",        "nitrogens",     "oxygens",
    "sulfurs",     "halogens",      "other_hetero",   "hbond_donors",  "hbond_acceptors",
    "rotatable_bonds", "rings",     "aromatic_rings", "aromatic_atoms", "net_charge",
    "fraction_csp3", "attachments", "logp",           "tpsa"};

double openbabel_descriptor(OBMol& mol, const char* name) {
  OpenBabel::OBDescriptor* d = OpenBabel::OBDescriptor::FindType(name);
  DISPA_CHECK(d != nullptr, "fingerprint: OpenBabel descriptor '{}' is not available", name);
  return d->Predict(&mol);
}
}  // namespace

std::span<const std::string_view> descriptor_names() { return kDescriptorNames; }

std::vector<float> descriptors(const Molecule& molecule) {
  OBMol& mol = const_cast<OBMol&>(molecule.ob());
  double heavy = 0, weight = 0, c = 0, n = 0, o = 0, s = 0, halogen = 0, other = 0, donors = 0,
         acceptors = 0, rotatable = 0, aromatic_atoms = 0, charge = 0, csp3 = 0, attachments = 0;
  FOR_ATOMS_OF_MOL(atom, mol) {
    const unsigned z = atom->GetAtomicNum();
    if (z == 0) {
      ++attachments;
      continue;
    }
    if (z == 1) continue;
    ++heavy;
    weight += atom->GetAtomicMass() + atom->GetImplicitHCount() * 1.00794;
    charge += atom->GetFormalCharge();
    if (atom->IsAromatic()) ++aromatic_atoms;
    const unsigned h = atom->GetImplicitHCount() + atom->ExplicitHydrogenCount();
    switch (z) {
      case 6: {
        ++c;
        bool saturated = true;
        FOR_BONDS_OF_ATOM(bond, &*atom) saturated = saturated && bond->GetBondOrder() == 1 && !bond->IsAromatic();
        if (saturated) ++csp3;
        break;
      }
      case 7: ++n; ++acceptors; if (h > 0) ++donors; break;
      case 8: ++o; ++acceptors; if (h > 0) ++donors; break;
      case 16: ++s; break;
      case 9: case 17: case 35: case 53: ++halogen; break;
      default: ++other;
    }
  }
  FOR_BONDS_OF_MOL(bond, mol) {
    if (bond->GetBeginAtom()->GetAtomicNum() == 0 || bond->GetEndAtom()->GetAtomicNum() == 0) continue;
    if (bond->IsRotor()) ++rotatable;
  }
  double rings = 0, aromatic_rings = 0;
  for (OpenBabel::OBRing* ring : mol.GetSSSR()) {
    ++rings;
    if (ring->IsAromatic()) ++aromatic_rings;
  }
  const double logp = heavy > 0 ? openbabel_descriptor(mol, "logP") : 0.0;
  const double tpsa = heavy > 0 ? openbabel_descriptor(mol, "TPSA") : 0.0;
  std::vector<double> v{heavy,     weight,    c,         n,         o,        s,
                        halogen,   other,     donors,    acceptors, rotatable, rings,
                        aromatic_rings, aromatic_atoms, charge, c > 0 ? csp3 / c : 0.0,
                        attachments, logp,    tpsa};
  return std::vector<float>(v.begin(), v.end());
}

}  // namespace dispa::chem
