// Pathway scoring of an expression matrix against gene sets, end to end: the gene filtering and set
// selection of R's gsva() (genes constant over the samples dropped for gsva and zscore, sets kept
// iff min_size <= |set ∩ genes| <= max_size), one of the methods of gsva.h, and the TSV writers and
// file-level entry points behind `dispa pathways score` and `dispa pathways coverage`.
//
// Score table format (the layout of expression.tsv): tab-separated, header "<id column><TAB>set ids",
// one row per sample in expression order, sets in GMT order; numbers in fixed notation (15
// significant digits for f64 scores, 9 for f32), never an exponent.
// Coverage table: set_id, description, n_genes_gmt, n_genes_in_expression, n_genes_used, kept (1/0),
// reason (why dropped or truncated; empty otherwise), one row per GMT set in file order.
#pragma once
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bio/expression.h"
#include "bio/gmt.h"
#include "bio/gsva.h"
#include "bio/pathway_index.h"

namespace dispa::bio {

enum class ScoreMethod { ssgsea, ssgsea_raw, gsva, zscore };

ScoreMethod parse_score_method(std::string_view text);  // ssgsea|ssgsea-raw|gsva|zscore
std::string_view method_name(ScoreMethod method);

struct ScoreOptions {
  ScoreMethod method = ScoreMethod::ssgsea;
  PathwayIndexOptions sets;     // min_size 5, no cap: R's defaults in the fixtures
  std::optional<double> tau;    // default: 0.25 for ssGSEA, 1 for GSVA (unused by zscore)
  DType dtype = DType::f32;
};

struct PathwayScores {
  std::vector<std::string> samples;       // rows of `scores`, expression order
  std::string id_column;                  // header of the sample-id column
  std::vector<std::string> scored_genes;  // genes the methods saw (PathwayIndex columns refer here)
  std::vector<std::string> dropped_constant_genes;  // gsva/zscore: constant over the samples
  PathwayIndex sets;                      // the scored sets (ids in GMT order) and full coverage
  Tensor scores;                          // [N, P]
};

PathwayScores score_gene_sets(const ExpressionMatrix& expression, const std::vector<GeneSet>& gene_sets,
                              const ScoreOptions& options = {});

// Writers (formats above). `out` empty means stdout; files are written to a temporary name and
// renamed, so a failed run never leaves a half-written table behind.
void write_scores_tsv(const PathwayScores& scores, const std::filesystem::path& out);
void write_coverage_tsv(const std::vector<GeneSetCoverage>& coverage, const std::filesystem::path& out);

// Fixed notation with `significant` digits, trailing zeros dropped ("0.145043478260870" -> "0.14504347826087").
std::string format_fixed(double value, int significant);

// The two subcommands as library calls (tools/cmd_pathways.cpp maps flags onto this struct).
struct PathwaysCommandOptions {
  std::filesystem::path expression, gmt, out;  // out empty: stdout
  ExpressionReadOptions read;
  ScoreOptions score;
};
void run_pathways_score(const PathwaysCommandOptions& options);
void run_pathways_coverage(const PathwaysCommandOptions& options);

}  // namespace dispa::bio
