// dispa predict: ln(IC50) predictions of a trained run (one fold, or the fold ensemble of a run
// folder) for cells and drugs given as files, new ones included (train/predict.h: pairs, format).
#include "engine/log.h"
#include "tools/command.h"
#include "train/predict.h"

namespace {
dispa::tools::CommandRegistration registration("predict", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::train::PredictOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto skip_invalid = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("predict", "Predict ln(IC50) with a trained run, for new cells and drugs too");
  cmd->add_option("--run", o->run_dir, "run folder of dispa train (ensemble of its folds) or one fold_<k> folder")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--fold", o->fold, "use only this fold of a run folder");
  cmd->add_option("--expression", o->expression, "expression table (cells x genes TSV, genes x cells TSV or GCT)")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--drugs", o->drugs, "drugs.tsv (columns drug_name, smiles)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--pairs", o->pairs, "TSV with columns cell_id, drug_name; default: every cell x drug")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out, "predictions TSV: cell_id, drug_name, prediction (+ prediction_sd)")->required();
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "pairs per forward pass")->capture_default_str();
  cmd->add_flag("--skip-invalid-drugs", *skip_invalid,
                "skip drugs whose SMILES cannot be featurised (counted in a warning) instead of failing");
  cmd->add_flag("--quiet", *quiet, "only warnings and errors on stderr");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    o->device = dispa::parse_device(*device);
    o->invalid_drugs = *skip_invalid ? dispa::train::InvalidDrugs::skip : dispa::train::InvalidDrugs::error;
    dispa::train::run_predict(*o);
    exit_code = 0;
  });
});
}  // namespace
