// dispa evaluate: a trained run scored on another screen of the same cell lines, e.g. a GDSC2 run
// on GDSC1, by drug group (analysis/cross_dataset.h).
#include "analysis/cross_dataset.h"
#include "engine/log.h"
#include "tools/command.h"

namespace {
dispa::tools::CommandRegistration registration("evaluate", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::analysis::CrossDatasetOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("evaluate", "Score a trained run on another screen (e.g. GDSC2 run on GDSC1)");
  cmd->add_option("--run", o->run_dir, "run folder of dispa train (every fold) or one fold_<k> folder")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--fold", o->fold, "use only this fold of a run folder");
  cmd->add_option("--data", o->data, "folder with response.tsv and drugs.tsv (drug_name, smiles[, in_gdsc2, gdsc2_drug_name])")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--expression", o->expression,
                  "expression of the cells; default DATA/expression.tsv, else the training data's")
      ->check(CLI::ExistingFile);
  cmd->add_option("--train-data", o->train_data, "the run's training data folder (default: as recorded in run.json)")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--out", o->out, "output folder for metrics.json, predictions.tsv; default RUN/eval_<name of DATA>");
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "pairs per forward pass")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "only warnings and errors on stderr");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    o->device = dispa::parse_device(*device);
    dispa::analysis::run_cross_dataset(*o);
    exit_code = 0;
  });
});
}  // namespace
