// Gene-symbol aliases and the matching of a data set's features to a model's genes.
//
// The built-in table pairs previous HGNC symbols with the current ones for genes of the DiSPA
// training set (the 706 genes of ../shared/data/gdsc2/expression.tsv), as resolved by Bioconductor
// org.Hs.eg.db 3.16 (NCBI Gene 2022-09-12), the source of the training symbols:
//   * the 9 genes whose 2019 HGNC symbol (gdsc2/genes.tsv, symbol_hgnc_2019) differs from the
//     current one (SEPT9 -> SEPTIN9, CARS -> CARS1, ...), and
//   * the 8 further renamings found under older symbols in real data sets
//     (shared/data/spatial/README.md: MKL1 -> MRTFA, WHSC1 -> NSD2, ...).
// Each previous symbol maps to exactly one current symbol (a symbol reused for another gene would
// not be listed). More pairs can be added from a TSV (`previous<TAB>current`, header optional).
//
// Matching (match_genes): symbols are compared after normalize_symbol (upper case, so matching is
// case-insensitive). A model gene takes the features spelled exactly like it; only when there are
// none does it take features spelled with one of its aliases (either direction: a model trained on
// old symbols also finds new ones). A feature used by exact spelling is never reused as an alias.
// Several features with one symbol (e.g. two Ensembl ids) all map to that gene: the caller adds
// their counts. Non-gene features (10x Antibody Capture, CRISPR guides) are never matched.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

#include "bio/count_matrix.h"

namespace dispa::bio {

struct GeneAlias {
  std::string previous, current;
};

// The built-in pairs (above), in a fixed order.
const std::vector<GeneAlias>& builtin_gene_aliases();

class GeneAliasTable {
 public:
  GeneAliasTable();  // the built-in pairs
  // Adds pairs from a TSV; a previous symbol mapped to two different current ones is an error.
  void add_file(const std::filesystem::path& path);
  void add(const std::string& previous, const std::string& current, const std::string& where = "aliases");
  // Other spellings of `symbol` (normalised), both directions; empty when none.
  const std::vector<std::string>& aliases_of(const std::string& symbol) const;
  size_t size() const { return pairs_; }

 private:
  std::unordered_map<std::string, std::string> current_of_;  // previous -> current (normalised)
  std::unordered_map<std::string, std::vector<std::string>> aliases_;
  size_t pairs_ = 0;
};

struct GeneMatch {
  std::vector<std::vector<int32_t>> features_of_gene;  // per model gene: matched feature indices
  std::vector<int8_t> via_alias;                       // per model gene: 1 when matched under another symbol
  int64_t matched = 0, matched_via_alias = 0;
  std::vector<std::string> alias_examples;             // "CARS1 (as CARS)"
};

GeneMatch match_genes(const std::vector<std::string>& model_genes, const std::vector<Feature>& features,
                      const GeneAliasTable& aliases);

}  // namespace dispa::bio
