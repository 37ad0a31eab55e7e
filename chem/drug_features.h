// Drug featurisation for the DiSPA substructure view (DESIGN.md, step 2): every drug becomes
//   global     [Dg]     the whole molecule's feature vector (input of the drug FFN),
//   fragments  [L, Df]  one row per BRICS fragment, zero rows past the last fragment,
//   mask       [L]      1 for a real fragment row, 0 for padding (f32, so it multiplies),
// as dispa::Tensor (f32, CPU). The paper uses L <= 17 and 768-d ChemBERTa embeddings; we have no
// language model, so by default both vectors are
//   [ log(1 + Morgan count fingerprint) (n_bits) | signed log1p of descriptors() (19) ]
// (see fingerprint.h; Dg = Df = n_bits + 19), and either can be replaced by rows of a feature
// file written by another tool (below).
//
// Deterministic rules:
//   * Fragments are BRICS fragments (brics.h) of the molecule after the component policy
//     (molecule.h); with unique_fragments each distinct fragment appears once (RDKit's
//     BRICSDecompose semantics), otherwise once per occurrence.
//   * A molecule with no cleavable bond is its own single fragment (mask = [1, 0, ..., 0]).
//   * Rows are ordered by heavy-atom count (largest first), ties by canonical SMILES.
//   * More fragments than L: the first L in that order are kept (the largest substructures carry
//     the most chemistry); the rest are counted in n_fragments_total - fragment_smiles.size().
//
// Feature files (TSV, header required, values parsed as floats, NaN/inf rejected):
//   per drug:      first column `drug_name`, then Dg value columns; replaces `global`;
//   per fragment:  first column `fragment` (or `smiles`), then Df value columns; replaces every
//                  fragment row. Keys are canonicalised with chem's canonical SMILES, so fragment
//                  SMILES written by another toolkit (e.g. RDKit) match ours.
// A drug or fragment missing from a given file is an error naming it and the file; errors in a
// file name its path, line and column.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "chem/drug_table.h"
#include "chem/fingerprint.h"
#include "chem/molecule.h"
#include "engine/tensor.h"

namespace dispa::chem {

struct DrugFeatureOptions {
  int max_fragments = 17;             // L
  FingerprintOptions fingerprint{2, 1024};
  bool descriptors = true;            // append the 19 descriptors (signed log1p)
  bool unique_fragments = true;       // distinct fragments (true) or one row per occurrence
  ComponentPolicy components = ComponentPolicy::largest_organic;
  std::string drug_feature_file;      // optional per-drug TSV (replaces `global`)
  std::string fragment_feature_file;  // optional per-fragment TSV (replaces fragment rows)
};

// A loaded feature file: key -> row of `dim` values.
struct FeatureTable {
  enum class Kind { per_drug, per_fragment };
  std::string path;
  Kind kind = Kind::per_drug;
  int64_t dim = 0;
  std::unordered_map<std::string, std::vector<float>> rows;
};
FeatureTable load_feature_table(const std::string& path);

struct DrugFeatures {
  std::string name;
  Tensor global;     // [Dg]
  Tensor fragments;  // [L, Df]
  Tensor mask;       // [L]
  std::vector<std::string> fragment_smiles;  // the kept fragments, in row order
  int n_fragments_total = 0;                 // before truncation to L
  std::vector<std::string> dropped_components;
};

struct DrugFeatureBatch {
  std::vector<std::string> names;  // row order
  Tensor global;     // [N, Dg]
  Tensor fragments;  // [N, L, Df]
  Tensor mask;       // [N, L]
  std::vector<int> n_fragments_total;
};

class DrugFeaturizer {
 public:
  explicit DrugFeaturizer(DrugFeatureOptions options);
  const DrugFeatureOptions& options() const { return options_; }
  int64_t global_dim() const;    // Dg
  int64_t fragment_dim() const;  // Df

  DrugFeatures featurize(std::string_view name, std::string_view smiles) const;
  // All drugs stacked in table order; the first failure throws "SOURCE:LINE: ..." naming the drug
  // (`source`: the drugs file the records came from).
  DrugFeatureBatch featurize_all(const std::vector<DrugRecord>& drugs, const std::string& source = "drugs") const;

  // The fingerprint (+ descriptor) vector of one molecule, length n_bits (+ 19).
  std::vector<float> fingerprint_features(const Molecule& mol) const;

 private:
  DrugFeatureOptions options_;
  FeatureTable drug_table_, fragment_table_;
  bool has_drug_table_ = false, has_fragment_table_ = false;
};

}  // namespace dispa::chem
