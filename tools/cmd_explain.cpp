// dispa explain: both attention maps of one (cell, drug) pair as TSV tables and SVG figures, the top
// pathways per fragment and the prediction (analysis/explain.h lists the files); with --internals the
// attention internals as computed, with --attributions the attribution tables (one pair or, with --all-cells,
// aggregated over cells).
#include "engine/log.h"
#include "tools/command.h"
#include "analysis/explain.h"

namespace {
dispa::tools::CommandRegistration registration("explain", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::analysis::ExplainOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("explain", "Attention maps (Path2Sub, Drug2Path) of one cell x drug pair");
  cmd->add_option("--run", o->run_dir, "run folder of dispa train (uses fold 0) or one fold_<k> folder")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--fold", o->fold, "fold of a run folder to use (default 0)");
  cmd->add_option("--cell", o->cell, "cell id (a sample of the expression table)");
  cmd->add_option("--drug", o->drug, "drug name (a drug_name of the drugs table)")->required();
  cmd->add_option("--expression", o->expression, "expression table; default: the run's DATA/expression.tsv")
      ->check(CLI::ExistingFile);
  cmd->add_option("--drugs", o->drugs, "drugs.tsv; default: the run's DATA/drugs.tsv")->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out_dir, "output folder")->required();
  cmd->add_option("--top", o->top_k, "pathways per fragment in top_pathways.tsv")->capture_default_str();
  cmd->add_option("--bars", o->top_bars, "pathways in drug2path.svg")->capture_default_str();
  cmd->add_flag("--internals", o->internals,
                "also write internals.safetensors and internals/: scores, softmaxes, lambda and maps as computed");
  cmd->add_flag("--attributions", o->attributions,
                "also write attributions/: attention, rollout, gradient x input, integrated gradients, occlusion");
  cmd->add_flag("--all-cells", o->all_cells, "attributions of the drug aggregated over every cell (instead of --cell)");
  cmd->add_option("--max-cells", o->max_cells, "with --all-cells: only the first N cells (0 = all)")->capture_default_str();
  cmd->add_option("--ig-steps", o->ig_steps, "integrated gradients: midpoint-rule steps")->capture_default_str();
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "only warnings and errors on stderr");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    o->device = dispa::parse_device(*device);
    dispa::analysis::run_explain(*o);
    exit_code = 0;
  });
});
}  // namespace
