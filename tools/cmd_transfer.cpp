// dispa transfer: zero-shot drug-response predictions for the cells or spots of another
// transcriptome (10x folder, .h5, .h5ad, TSV) with a trained run (analysis/transfer.h).
#include "analysis/transfer.h"
#include "engine/log.h"
#include "tools/command.h"

namespace {
dispa::tools::CommandRegistration registration("transfer", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::analysis::TransferOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto pool = std::make_shared<std::string>("none");
  auto standardize = std::make_shared<std::string>("auto");
  auto no_log1p = std::make_shared<bool>(false);
  auto skip_invalid = std::make_shared<bool>(false);
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "transfer", "Predict drug response for single cells or spatial spots of another data set (zero-shot)");
  cmd->add_option("--run", o->run_dir, "run folder of dispa train (ensemble of its folds) or one fold_<k> folder")
      ->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--fold", o->fold, "use only this fold of a run folder");
  cmd->add_option("--counts", o->counts,
                  "10x matrix folder (filtered_feature_bc_matrix/), 10x .h5, AnnData .h5ad, or an expression TSV")
      ->required()->check(CLI::ExistingPath);
  cmd->add_option("--drugs", o->drugs, "drugs.tsv (columns drug_name, smiles)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", o->out, "output folder")->required();
  cmd->add_option("--positions", o->positions, "Space Ranger spatial/tissue_positions.csv (with or without header)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--labels", o->labels, "TSV: barcode, label (first line is a header unless it names a barcode)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--pool", *pool, "none | knn (spatial smoothing, needs --positions) | pseudobulk (per label)")
      ->capture_default_str();
  cmd->add_option("--knn", o->knn, "neighbours averaged with each spot for --pool knn")->capture_default_str();
  cmd->add_option("--target-sum", o->harmonise.target_sum,
                  "library size after normalisation (counts per N); 0 = no library-size normalisation")
      ->capture_default_str();
  cmd->add_flag("--no-log1p", *no_log1p, "do not log1p-transform (input already on a log scale)");
  cmd->add_option("--standardize", *standardize,
                  "per-gene z-score over: units (what is predicted), cells (before pooling), none; auto = cells with pseudobulk, else units")
      ->capture_default_str();
  cmd->add_option("--aliases", o->aliases, "extra gene-symbol aliases: TSV previous<TAB>current")->check(CLI::ExistingFile);
  cmd->add_option("--h5ad-matrix", o->read.h5ad_matrix, "AnnData matrix: X, raw/X or layers/<name>")->capture_default_str();
  cmd->add_option("--h5ad-gene-column", o->read.h5ad_gene_column,
                  "AnnData var column with gene symbols (default: the index, or a symbol column when it holds Ensembl ids)");
  cmd->add_option("--low-coverage", o->low_coverage, "warn when fewer of the model's pathway genes are detected")
      ->capture_default_str();
  cmd->add_option("--map-drugs", o->map_drugs, "drugs to map (with --positions); default: the most variable ones")
      ->delimiter(',');
  cmd->add_option("--maps", o->auto_maps, "how many drugs to map when --map-drugs is not given")->capture_default_str();
  cmd->add_option("--title", o->title, "title of report.html");
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch-cells", o->batch_cells, "cells (or spots) read and predicted per batch")->capture_default_str();
  cmd->add_option("--batch-size", o->batch_size, "pairs per forward pass")->capture_default_str();
  cmd->add_flag("--skip-invalid-drugs", *skip_invalid, "skip drugs whose SMILES cannot be featurised (counted in a warning)");
  cmd->add_flag("--quiet", *quiet, "only warnings and errors on stderr");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    o->device = dispa::parse_device(*device);
    o->pooling = dispa::analysis::parse_pooling(*pool);
    o->harmonise.standardize = dispa::analysis::parse_standardize(*standardize);
    o->harmonise.log1p = !*no_log1p;
    o->invalid_drugs = *skip_invalid ? dispa::train::InvalidDrugs::skip : dispa::train::InvalidDrugs::error;
    dispa::analysis::run_transfer(*o);
    exit_code = 0;
  });
});
}  // namespace
