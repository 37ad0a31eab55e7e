// `dispa pathways score|coverage`: pathway scores (ssGSEA, GSVA, combined z-score, as R's GSVA
// computes them) and gene-set coverage of an expression matrix. Flags map onto
// bio::PathwaysCommandOptions; the work is bio::run_pathways_score / run_pathways_coverage.
#include <memory>

#include "bio/pathway_scores.h"
#include "engine/log.h"
#include "tools/command.h"

namespace dispa::tools {
namespace {

struct PathwaysFlags {
  std::string expression, gmt, out, method = "ssgsea", layout = "detect", na = "error", duplicates = "error",
                                    symbol_case = "upper", oversized = "drop";
  int64_t min_size = 5, max_size = 0;
  double tau = -1;
  bool quiet = false;
};

void add_common(CLI::App* cmd, PathwaysFlags& f) {
  cmd->add_option("--expression", f.expression, "expression matrix: TSV (samples x genes or genes x samples) or GCT")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--gmt", f.gmt, "gene sets (GMT: id, description, genes...)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--min-size", f.min_size, "keep sets with at least this many genes in the expression matrix")
      ->capture_default_str();
  cmd->add_option("--max-size", f.max_size, "cap on genes per set (0 = none)")->capture_default_str();
  cmd->add_option("--oversized", f.oversized, "sets above --max-size: drop|truncate")->capture_default_str();
  cmd->add_option("--layout", f.layout, "detect|samples-by-genes|genes-by-samples|gct")->capture_default_str();
  cmd->add_option("--na", f.na, "missing values: error|impute-mean (per-gene mean)")->capture_default_str();
  cmd->add_option("--duplicates", f.duplicates, "duplicate gene symbols: error|first|mean")->capture_default_str();
  cmd->add_option("--symbol-case", f.symbol_case, "gene symbols: upper (case-insensitive matching)|keep")
      ->capture_default_str();
  cmd->add_flag("--quiet", f.quiet, "no progress or log lines (warnings still shown)");
}

bio::PathwaysCommandOptions to_options(const PathwaysFlags& f) {
  bio::PathwaysCommandOptions o;
  o.expression = f.expression;
  o.gmt = f.gmt;
  o.out = f.out == "-" ? std::string() : f.out;
  o.read.layout = bio::parse_expression_layout(f.layout);
  o.read.missing = bio::parse_missing_values(f.na);
  o.read.hint_read_flags = true;  // this command has --na and --duplicates
  o.read.duplicates = bio::parse_duplicate_genes(f.duplicates);
  o.read.symbol_case = bio::parse_symbol_case(f.symbol_case);
  o.score.method = bio::parse_score_method(f.method);
  o.score.sets.min_size = f.min_size;
  o.score.sets.max_size = f.max_size;
  o.score.sets.oversized = bio::parse_oversized_sets(f.oversized);
  if (f.tau >= 0) o.score.tau = f.tau;
  logging::set_quiet(f.quiet);
  return o;
}

const CommandRegistration kPathways("pathways", [](CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<PathwaysFlags>();
  CLI::App* pathways = app.add_subcommand("pathways", "pathway scores and gene-set coverage of an expression matrix");
  pathways->require_subcommand(1);

  CLI::App* score = pathways->add_subcommand(
      "score", "score every sample on every gene set (rows = samples, header = gene-set ids)");
  add_common(score, *flags);
  score->add_option("--method", flags->method, "ssgsea|ssgsea-raw|gsva|zscore (as R's GSVA 1.46)")
      ->capture_default_str();
  score->add_option("--tau", flags->tau, "rank-weight exponent (default 0.25 for ssgsea, 1 for gsva)");
  score->add_option("--out", flags->out, "output TSV ('-' = stdout)")->required();
  score->callback([flags, &exit_code] {
    bio::run_pathways_score(to_options(*flags));
    exit_code = 0;
  });

  CLI::App* coverage = pathways->add_subcommand(
      "coverage", "table of gene-set sizes before and after intersection with the expression genes");
  add_common(coverage, *flags);
  coverage->add_option("--out", flags->out, "output TSV (default stdout)");
  coverage->callback([flags, &exit_code] {
    bio::run_pathways_coverage(to_options(*flags));
    exit_code = 0;
  });
});

}  // namespace
}  // namespace dispa::tools
