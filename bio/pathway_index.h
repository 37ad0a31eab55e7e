// Pathway index tensors for the model: each gene set is intersected with the genes (columns) of an
// expression matrix, too-small sets are dropped, too-large ones dropped or truncated, and the kept
// sets become a [P, S] i32 tensor of expression columns padded with -1 (S = largest kept set).
// The model reads it through engine gathered_linear() (its gene FFN's first layer over the valid slots
// only; gather_columns() builds the padded [B, P, S] input where one is wanted).
// Selection follows R's GSVA (filterGeneSets): a set is kept iff min_size <= |set ∩ genes| <=
// max_size, in GMT order; members keep their GMT order.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bio/gmt.h"
#include "engine/tensor.h"

namespace dispa::bio {

// What happens to a set with more than max_size genes in the expression matrix: dropped (as R's
// max.sz does) or truncated to its first max_size genes in GMT order (bounds S for the model).
enum class OversizedSets { drop, truncate };

struct PathwayIndexOptions {
  int64_t min_size = 5;
  int64_t max_size = 0;  // 0 = no cap
  OversizedSets oversized = OversizedSets::drop;
};

OversizedSets parse_oversized_sets(std::string_view text);  // drop|truncate

// One row per input gene set (kept or not): the coverage table of `dispa pathways coverage`.
struct GeneSetCoverage {
  std::string id, description;
  int64_t n_genes_gmt = 0;            // distinct symbols in the GMT line
  int64_t n_genes_in_expression = 0;  // of those, present in the expression matrix
  int64_t n_genes_used = 0;           // in the index (differs from the above only when truncated)
  bool kept = false;
  std::string reason;                 // why it was dropped or truncated; empty when kept whole
};

struct PathwayIndex {
  std::vector<std::string> ids, descriptions;   // kept sets, GMT order
  std::vector<std::vector<int32_t>> members;    // [P][k_p] expression columns, GMT order
  Tensor index;                                 // [P, S] i32, -1 padding
  std::vector<GeneSetCoverage> coverage;        // every input set, input order
  int64_t n_expression_genes = 0;               // G
  int64_t n_covered_genes = 0;                  // distinct genes in the kept sets

  int64_t n_pathways() const { return static_cast<int64_t>(ids.size()); }
  int64_t max_set_size() const { return index.defined() ? index.dim(1) : 0; }
};

// The coverage table alone (never throws for an empty selection).
std::vector<GeneSetCoverage> compute_coverage(const std::vector<GeneSet>& sets,
                                              const std::vector<std::string>& expression_genes,
                                              const PathwayIndexOptions& options = {});

// Builds the index; throws dispa::Error when no set survives (naming the largest intersection).
// Logs one line with the kept and dropped counts and, for each dropped set, its id and reason.
PathwayIndex build_pathway_index(const std::vector<GeneSet>& sets, const std::vector<std::string>& expression_genes,
                                 const PathwayIndexOptions& options = {});

// "kept 32 of 34 gene sets (min 5 genes); dropped 2: hsa03320 (3 genes in the expression matrix <
// min size 5), hsa03022 (...)"; at most 8 sets are named per list.
std::string describe_selection(const std::vector<GeneSetCoverage>& coverage, const PathwayIndexOptions& options);

}  // namespace dispa::bio
