// dispa analyze: a trained run's mechanisms on its test pairs: target concordance, structure-driven vs
// context-dependent compounds, pathway organisation; TSVs and a self-contained report.html
// (analysis/analyze.h).
#include "analysis/analyze.h"
#include "engine/log.h"
#include "tools/command.h"

namespace {
dispa::tools::CommandRegistration registration("analyze", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::analysis::AnalyzeOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("analyze", "Mechanisms of a trained run: target concordance, structure vs context, "
                                                "pathway organisation (report.html)");
  cmd->add_option("--run", o->run_dir, "run folder of dispa train (holds split.tsv) or one of its fold_<k> folders")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--fold", o->fold, "fold to analyse (default: the first one present)");
  cmd->add_option("--out", o->out_dir, "output folder")->required();
  cmd->add_option("--data", o->data_dir, "data folder; default: the one recorded in the run")->check(CLI::ExistingDirectory);
  cmd->add_option("--targets", o->target_map, "target map TSV (target_pathway, kegg_id); default: the built-in table")
      ->check(CLI::ExistingFile);
  cmd->add_option("--cells-per-drug", o->cells_per_drug, "test cells attributed per drug (0 = all)")->capture_default_str();
  cmd->add_option("--ig-steps", o->ig_steps, "integrated gradients: midpoint-rule steps")->capture_default_str();
  cmd->add_option("--permutations", o->permutations, "label permutations per null distribution")->capture_default_str();
  cmd->add_option("--seed", o->seed, "seed of the cell sample, permutations and k-means")->capture_default_str();
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "only warnings and errors on stderr");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    o->device = dispa::parse_device(*device);
    dispa::analysis::run_analyze(*o);
    exit_code = 0;
  });
});
}  // namespace
