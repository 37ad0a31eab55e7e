// dispa baselines: drug-mean, cell-mean and additive baselines on a split of a data folder, per fold
// and as mean +- sd (the bar a model must clear on the same split). Table to stdout; split.tsv and
// baselines.json to --out.
#include <cstdio>

#include <fmt/format.h>

#include "engine/log.h"
#include "train/baseline_run.h"
#include "tools/command.h"

namespace {
dispa::tools::CommandRegistration registration("baselines", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::train::BaselineRunOptions>();
  auto data = std::make_shared<std::string>();
  auto split_file = std::make_shared<std::string>();
  auto scaffolds = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand("baselines", "Drug-mean, cell-mean and additive baselines on a split");
  cmd->add_option("--data", *data, "data folder (response.tsv, expression.tsv, drugs.tsv, cells.tsv)")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--split", o->split,
                  "random, cell-blind, drug-blind, disjoint, tgsa-mixed, tgsa-cell-blind or tgsa-drug-blind")
      ->capture_default_str();
  cmd->add_option("--folds", o->folds, "folds of the k-fold schemes")->capture_default_str();
  cmd->add_option("--fold", o->fold, "evaluate only this fold (default: all)");
  cmd->add_option("--seed", o->seed, "split seed")->capture_default_str();
  cmd->add_option("--val-fraction", o->val_fraction, "validation share of the non-test units (k-fold schemes)")
      ->capture_default_str();
  cmd->add_option("--split-file", *split_file, "reuse a split.tsv written by an earlier run")->check(CLI::ExistingFile);
  cmd->add_option("--scaffolds", *scaffolds, "TSV with columns drug_name, scaffold (for tgsa-drug-blind)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--additive-lambda", o->additive.lambda, "ridge penalty of the additive model")
      ->capture_default_str();
  cmd->add_option("--out", *out, "folder for split.tsv and baselines.json");
  cmd->callback([o, data, split_file, scaffolds, out, &exit_code] {
    o->data_dir = *data;
    o->split_file = *split_file;
    o->scaffolds = *scaffolds;
    o->out_dir = *out;
    const dispa::train::BaselineRunResult result = dispa::train::run_baseline_evaluation(*o);
    fmt::print("{}", result.table);
    std::fflush(stdout);
    if (!out->empty()) dispa::logging::info("wrote {}/split.tsv and {}/baselines.json", *out, *out);
    exit_code = 0;
  });
});
}  // namespace
