// dispa train: train and evaluate DiSPA on a data folder under a split with k-fold CV, beside the
// baselines, writing a run folder (train/train_run.h documents its layout).
#include "engine/dist/launch_env.h"
#include "engine/log.h"
#include "engine/ops/matmul.h"
#include "tools/command.h"
#include "train/train_run.h"

namespace {
dispa::tools::CommandRegistration registration("train", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::train::TrainRunOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto data_dir = std::make_shared<std::string>();
  auto gmt = std::make_shared<std::string>();
  auto quiet = std::make_shared<bool>(false);
  auto no_ridge = std::make_shared<bool>(false);
  auto tf32 = std::make_shared<bool>(false);
  auto fold = std::make_shared<int>(0);
  CLI::App* cmd = app.add_subcommand("train", "Train DiSPA on a data folder with k-fold cross-validation");
  cmd->add_option("--data", *data_dir,
                  "data folder: expression.tsv, response.tsv, drugs.tsv (+ cells.tsv); with --resume: recorded")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--gmt", *gmt, "gene sets (GMT); default DATA/pathways_kegg.gmt");
  cmd->add_option("--split", o->split,
                  "random|cell-blind|drug-blind|disjoint|tgsa-mixed|tgsa-cell-blind|tgsa-drug-blind")
      ->capture_default_str();
  cmd->add_option("--split-file", o->split_file, "reuse a split.tsv written by an earlier run");
  cmd->add_option("--folds", o->folds, "number of folds (k-fold schemes)")->capture_default_str();
  CLI::Option* fold_option =
      cmd->add_option("--fold", *fold, "train only this fold, in [0, folds); default: every fold");
  cmd->add_option("--val-fraction", o->val_fraction, "validation share of the non-test units")->capture_default_str();
  cmd->add_option("--epochs", o->trainer.epochs, "maximum epochs")->capture_default_str();
  cmd->add_option("--batch-size", o->trainer.batch_size, "pairs per step (the global batch: all ranks together)")->capture_default_str();
  cmd->add_option("--lr", o->trainer.learning_rate, "Adam learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", o->trainer.weight_decay, "Adam L2 weight decay")->capture_default_str();
  cmd->add_option("--clip-grad-norm", o->trainer.clip_grad_norm, "clip the global gradient norm (0 = off)");
  cmd->add_option("--patience", o->trainer.early_stopping_patience, "early-stopping patience in epochs")
      ->capture_default_str();
  cmd->add_option("--lr-patience", o->trainer.plateau.patience, "ReduceLROnPlateau patience")->capture_default_str();
  cmd->add_option("--lr-factor", o->trainer.plateau.factor, "ReduceLROnPlateau factor")->capture_default_str();
  cmd->add_option("--seed", o->trainer.seed, "seed for the split, initialisation, order and dropout")
      ->capture_default_str();
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_flag("--tf32", *tf32, "CUDA GEMMs on TF32 tensor cores (10-bit mantissa inputs; default fp32)");
  cmd->add_option("--out", o->out_dir, "run folder")->required();
  cmd->add_flag("--resume", o->resume,
                "continue the run in --out from its checkpoints with its recorded options (only --epochs, to "
                "extend, and --device may change)");
  cmd->add_flag("--overwrite", o->overwrite, "replace the run already in --out (it is deleted)");
  cmd->add_flag("--no-ridge", *no_ridge, "skip the ridge baseline (it scores every cell with ssGSEA)");
  // Parallelism (docs/distributed.md): ranks of one fold, or folds side by side.
  cmd->add_option("--dist", o->dist,
                  "data-parallel backend: none (one process), mpi (CPU ranks), nccl (CUDA ranks), auto (none without "
                  "a launcher, else mpi for cpu, nccl for cuda); start the ranks with mpirun or srun")
      ->capture_default_str()
      ->check(CLI::IsMember({"none", "mpi", "nccl", "auto"}));
  cmd->add_flag("--sync-batchnorm", o->trainer.sync_batchnorm,
                "BatchNorm statistics over all ranks' rows (N ranks then equal one process on the global batch)");
  cmd->add_option("--accum", o->trainer.accum,
                  "global batches of --batch-size per optimizer step (gradient accumulation)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--parallel-folds", o->parallel_folds,
                  "train this many folds at once in this process, one thread each (OpenMP threads shared out)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_flag("--quiet", *quiet, "only warnings and errors on stderr (train.log still gets everything)");
  // Model and featurisation options (defaults: the paper's configuration).
  cmd->add_option("--embed-dim", o->model.embed_dim, "E")->capture_default_str();
  cmd->add_option("--ffn-hidden", o->model.ffn_hidden, "FFN hidden width h")->capture_default_str();
  cmd->add_option("--attn-dim", o->model.attn_dim, "attention width")->capture_default_str();
  cmd->add_option("--heads", o->model.heads, "attention heads")->capture_default_str();
  cmd->add_option("--head-dims", o->model.head_dims, "regressor head widths")->capture_default_str();
  cmd->add_option("--ffn-dropout", o->model.ffn_dropout, "dropout in the FFNs")->capture_default_str();
  cmd->add_option("--head-dropout", o->model.head_dropout, "dropout in the head")->capture_default_str();
  cmd->add_option("--attention", o->model.attention, "differential|vanilla")->capture_default_str();
  cmd->add_option("--min-pathway-size", o->data.pathways.min_size, "drop gene sets with fewer genes")
      ->capture_default_str();
  cmd->add_option("--max-fragments", o->data.drugs.max_fragments, "L: fragments kept per drug")->capture_default_str();
  cmd->add_option("--fingerprint-bits", o->data.drugs.fingerprint.n_bits, "Morgan fingerprint length")
      ->capture_default_str();
  cmd->add_option("--fingerprint-radius", o->data.drugs.fingerprint.radius, "Morgan radius")->capture_default_str();
  cmd->add_option("--drug-features", o->data.drugs.drug_feature_file, "per-drug feature TSV (replaces fingerprints)");
  cmd->add_option("--fragment-features", o->data.drugs.fragment_feature_file,
                  "per-fragment feature TSV (replaces fragment fingerprints)");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    if (fold_option->count() > 0) o->fold = *fold;
    o->given_flags.emplace();
    for (const CLI::Option* option : cmd->get_options())
      if (option->count() > 0) o->given_flags->insert(option->get_name());
    o->data.data_dir = *data_dir;
    o->data.gmt = *gmt;
    o->device = dispa::parse_device(*device);
    if (*tf32 && !o->device.is_cuda()) dispa::logging::warn("--tf32 has no effect on the CPU");
    dispa::set_cuda_tf32(*tf32);
    if (*tf32 && o->device.is_cuda()) dispa::logging::info("CUDA GEMMs use TF32 tensor cores (--tf32)");
    o->ridge_baseline = !*no_ridge;
    o->model.max_substructures = o->data.drugs.max_fragments;
    const nlohmann::json metrics = dispa::train::run_training(*o);
    exit_code = 0;
    if (dispa::dist::launch_info_from_environment().rank != 0) return;  // rank 0 speaks for the job
    dispa::logging::info("mean test RMSE {:.4f}, Pearson {:.4f} over {} fold(s); metrics in {}",
                         metrics.value("rmse", NAN), metrics.value("pearson", NAN), metrics.at("folds").size(),
                         (o->out_dir / "metrics.json").string());
  });
});
}  // namespace
