// Circular (ECFP / Morgan) fingerprints and a few physicochemical descriptors, for whole molecules
// and for BRICS fragments.
//
// Morgan algorithm (Rogers & Hahn, J. Chem. Inf. Model. 2010, 50:742; the variant RDKit implements):
//   radius 0: each atom's identifier is a hash of its invariants (atomic number, total degree, total
//             hydrogen count, formal charge, isotope, ring membership);
//   radius r: identifier = hash(r, own identifier at r-1, sorted (bond type, neighbour identifier
//             at r-1) pairs), bond type 1/2/3 or 4 for aromatic;
//   an environment whose set of bonds was already produced (at this or a smaller radius) is
//   dropped, so every distinct substructure counts once per occurrence.
// Identifiers are folded into `n_bits` positions (id mod n_bits); the count fingerprint adds one
// per environment, the bit fingerprint is its indicator. Hashing is fixed-width and seedless, so
// fingerprints are identical across runs and machines. Stereo is not encoded.
//
// Dummy atoms ([n*], the BRICS attachment points) are never environment centres: they are not
// atoms of the fragment. As neighbours they carry one fixed "attachment" identifier, the same for
// every label, so a ring carbon bearing an attachment differs from one bearing hydrogen, while the
// BRICS label (itself a function of the attached atom's environment) adds nothing. They count in
// the total degree of the atom they are attached to, as the substituent they replace did.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "chem/molecule.h"

namespace dispa::chem {

struct FingerprintOptions {
  int radius = 2;       // 2 = ECFP4
  int n_bits = 2048;
};

// (identifier, count) of every environment up to the radius, sorted by identifier.
std::vector<std::pair<uint32_t, int>> morgan_environments(const Molecule& mol, int radius);

// Folded count / bit fingerprints, length options.n_bits.
std::vector<float> morgan_counts(const Molecule& mol, const FingerprintOptions& options);
std::vector<float> morgan_bits(const Molecule& mol, const FingerprintOptions& options);

// Physicochemical descriptors in the order of descriptor_names(): counts and sums that stay
// meaningful for fragments (dummy atoms are excluded from every count except "attachments").
std::span<const std::string_view> descriptor_names();
std::vector<float> descriptors(const Molecule& mol);

}  // namespace dispa::chem
