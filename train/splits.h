// Train/validation/test splits of the measured (cell, drug) pairs, deterministic for a seed.
//
// K-fold schemes (KFoldOptions): the units (pairs, cells, drugs, or cells and drugs) are shuffled
// with a Philox permutation and dealt round-robin into K folds; in fold f the units of fold f are
// the test set, a val_fraction of the remaining units (another seeded permutation) is the
// validation set, and the rest is training.
//   random      unit = pair: every pair is a test pair in exactly one fold.
//   cell-blind  unit = cell line: test cells never appear in training or validation.
//   drug-blind  unit = drug: test drugs never appear in training or validation.
//   disjoint    cells and drugs are dealt into K folds separately; fold f tests the pairs whose
//               cell AND drug are both in fold f, trains on pairs whose cell and drug are both
//               outside fold f (and outside validation), and validates on pairs whose cell and
//               drug are both validation units. Pairs that mix a test unit with a training unit
//               are unused in that fold, so a pair is a test pair in at most one fold (only the
//               K diagonal blocks of the K x K cell-fold x drug-fold grid are ever tested).
//
// The published TGSA protocols on this benchmark (violet-sto/TGSA utils.py, Zhu et al. 2022),
// one fold each, re-implemented with our own RNG (so the same protocol, not the same partition):
//   tgsa-mixed       pairs 80/10/10, stratified by cell line;
//   tgsa-cell-blind  cell lines 60/20/20, stratified by lineage (tissue);
//   tgsa-drug-blind  drugs 60/20/20 by Bemis-Murcko scaffold groups: the scaffold groups are put in
//                    a seeded random order and greedily filled into train while the train drug
//                    count stays <= floor(0.6 n), then into val while train+val <= floor(0.8 n),
//                    else test (TGSA's scaffold_split, adapted from DeepChem). A scaffold group
//                    never straddles two roles. The scaffolds come from the caller (chem/).
//
// Stratified allocation: strata are visited in a seeded order; the role counts of a stratum are the
// differences of the cumulative targets round(N_cum * fraction) (minus what is already assigned),
// so each stratum gets about n * fraction of each role and the totals match N * fraction to within
// one unit, even when strata are small (a lineage with 1 cell line). Items within a stratum are
// shuffled before the roles are dealt.
//
// Randomness: every shuffle is train/permutation.h's philox_permutation (the trainer's too), on
// its own stream per use, so a seed gives the same split on every machine and standard library.
// Units are shuffled in table order (response.tsv file order for pairs, first appearance for ids),
// so the same seed on a reordered file gives another split: reuse a split through its file, which
// is keyed by ids.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "train/permutation.h"
#include "train/response.h"

namespace dispa::train {

enum class Role : uint8_t { unused = 0, train = 1, val = 2, test = 3 };
std::string_view role_name(Role role);  // "-", "train", "val", "test"

enum class SplitScheme { random, cell_blind, drug_blind, disjoint, tgsa_mixed, tgsa_cell_blind, tgsa_drug_blind };
std::string_view scheme_name(SplitScheme scheme);  // "random", "cell-blind", ..., "tgsa-drug-blind"
SplitScheme parse_scheme(std::string_view name);   // throws listing the valid names

// Which ids a scheme keeps out of training: blind_cells for cell-blind, disjoint and
// tgsa-cell-blind; blind_drugs for drug-blind, disjoint and tgsa-drug-blind.
bool blind_cells(SplitScheme scheme);
bool blind_drugs(SplitScheme scheme);

struct Split {
  SplitScheme scheme = SplitScheme::random;
  uint64_t seed = 0;
  std::vector<std::vector<Role>> roles;  // [fold][pair], pairs in ResponseTable order

  int folds() const { return static_cast<int>(roles.size()); }
  int64_t num_pairs() const { return roles.empty() ? 0 : static_cast<int64_t>(roles[0].size()); }
  std::vector<int64_t> indices(int fold, Role role) const;  // pair indices, ascending
  int64_t count(int fold, Role role) const;
  // "fold 0: 53012 train, 5890 val, 16567 test, 0 unused"
  std::string describe(int fold) const;
};

struct KFoldOptions {
  SplitScheme scheme = SplitScheme::random;  // random, cell-blind, drug-blind or disjoint
  int folds = 5;
  uint64_t seed = 0;
  double val_fraction = 0.1;  // of the non-test units; 0 = no validation set
};

Split kfold_split(const ResponseTable& table, const KFoldOptions& options);

// TGSA protocols (one fold). lineage_of_cell / scaffold_of_drug must cover every cell / drug of
// the table (an absent id is an error naming it). An acyclic drug's scaffold is the empty string,
// so all acyclic drugs form one group, as in RDKit's MurckoScaffoldSmiles.
Split tgsa_mixed_split(const ResponseTable& table, uint64_t seed);
Split tgsa_cell_blind_split(const ResponseTable& table,
                            const std::unordered_map<std::string, std::string>& lineage_of_cell, uint64_t seed);
Split tgsa_drug_blind_split(const ResponseTable& table,
                            const std::unordered_map<std::string, std::string>& scaffold_of_drug, uint64_t seed);

// Throws when a split breaks its scheme's promise: sizes differ from the table, a fold has no
// training or no test pair, or (blind schemes) a cell/drug of a fold's test set also appears in its
// training or validation set, or a validation cell/drug in training. read_split calls it.
void check_split(const ResponseTable& table, const Split& split);

// The split file (one row per pair, so it survives reordering of response.tsv):
//   # dispa split<TAB>scheme=random<TAB>seed=42<TAB>folds=5
//   cell_id<TAB>drug_name<TAB>fold_0<TAB>...<TAB>fold_4
//   ACH-000001<TAB>MK-8776<TAB>train<TAB>test<TAB>...        (roles: train, val, test, -)
void write_split(const std::filesystem::path& file, const ResponseTable& table, const Split& split);
// Reads a split for `table`: every pair of the table must appear exactly once, and every row must
// be a pair of the table (errors name the file, line and ids); then check_split.
Split read_split(const std::filesystem::path& file, const ResponseTable& table);

}  // namespace dispa::train
