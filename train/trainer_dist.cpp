#include "train/trainer_dist.h"

#include <cmath>
#include <cstring>

#include "train/data_parallel.h"

namespace dispa::train {

bool is_data_parallel(const dist::Communicator* comm) { return comm && comm->backend() != dist::Backend::none; }

std::vector<dist::CheckItem> trainer_check_items(const TrainerOptions& o, const FeaturizedDataset& data,
                                                 const std::vector<int64_t>& train_pairs,
                                                 const std::vector<int64_t>& val_pairs) {
  // Pair indices and their targets, hashed: ranks that read different response tables or made
  // different splits disagree here instead of training on different data.
  auto pairs_hash = [&](const std::vector<int64_t>& pairs) {
    std::string bytes;
    bytes.reserve(pairs.size() * 12);
    for (int64_t p : pairs) {
      const Pair& pair = data.pairs.at(size_t(p));
      bytes.append(reinterpret_cast<const char*>(&p), sizeof p);
      bytes.append(reinterpret_cast<const char*>(&pair.ln_ic50), sizeof pair.ln_ic50);
    }
    return fmt::format("{} pairs, hash {:016x}", pairs.size(), dist::fnv1a64(bytes));
  };
  return {{"trainer epochs", std::to_string(o.epochs)},
          {"trainer batch_size", std::to_string(o.batch_size)},
          {"trainer accum", std::to_string(o.accum)},
          {"trainer sync_batchnorm", o.sync_batchnorm ? "true" : "false"},
          {"trainer learning_rate", fmt::format("{}", o.learning_rate)},
          {"trainer weight_decay", fmt::format("{}", o.weight_decay)},
          {"trainer clip_grad_norm", fmt::format("{}", o.clip_grad_norm)},
          {"trainer early_stopping_patience", std::to_string(o.early_stopping_patience)},
          {"trainer plateau", fmt::format("{} {} {} {}", o.plateau.factor, o.plateau.patience, o.plateau.threshold,
                                          o.plateau.min_lr)},
          {"trainer seed", std::to_string(o.seed)},
          {"trainer resume", o.resume ? "true" : "false"},
          {"data cells x genes", fmt::format("{} x {}", data.cell_ids.size(), data.gene_symbols.size())},
          {"data drugs", std::to_string(data.drug_names.size())},
          {"data pairs", std::to_string(data.pairs.size())},
          {"training pairs", pairs_hash(train_pairs)},
          {"validation pairs", pairs_hash(val_pairs)}};
}

nlohmann::json broadcast_json(dist::Communicator& comm, const nlohmann::json& j) {
  std::string bytes = comm.rank() == 0 ? j.dump() : std::string();
  comm.broadcast_bytes(bytes, 0);
  return nlohmann::json::parse(bytes);
}

namespace {

nlohmann::json number(double x) { return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json(); }
double number_of(const nlohmann::json& j) { return j.is_null() ? INFINITY : j.get<double>(); }

}  // namespace

void share_trainer_state(dist::Communicator& comm, TrainingParts parts, TrainerState& state) {
  nlohmann::json j;
  if (comm.rank() == 0) {
    double plateau_best = 0;
    int bad = 0, cooldown = 0, last_epoch = 0;
    parts.plateau.get_state(plateau_best, bad, cooldown, last_epoch);
    nlohmann::json history = nlohmann::json::array();
    for (const EpochRecord& r : state.history)
      history.push_back({r.epoch, r.train_loss, r.val_loss, r.val_rmse, r.learning_rate, r.seconds,
                         r.samples_per_second});
    // Doubles go through JSON's shortest round-trip form, so every rank holds rank 0's values exactly.
    j = {{"epoch", state.epoch},
         {"step", state.step},
         {"loss_sum", state.loss_sum},
         {"loss_count", state.loss_count},
         {"epoch_seconds", state.epoch_seconds},
         {"best_epoch", state.best_epoch},
         {"best_val_rmse", number(state.best_val_rmse)},
         {"epochs_without_improvement", state.epochs_without_improvement},
         {"history", history},
         {"learning_rate", parts.optimizer.learning_rate()},
         {"plateau", {number(plateau_best), bad, cooldown, last_epoch}},
         {"dropout", {parts.dropout_rng.seed(), parts.dropout_rng.offset()}}};
  }
  j = broadcast_json(comm, j);
  const uint64_t seed = j.at("dropout").at(0), offset = j.at("dropout").at(1);
  parts.dropout_rng.set_state(rank_dropout_seed(seed, comm.rank()), offset);
  if (comm.rank() == 0) return;
  state.epoch = j.at("epoch");
  state.step = j.at("step");
  state.loss_sum = j.at("loss_sum");
  state.loss_count = j.at("loss_count");
  state.epoch_seconds = j.at("epoch_seconds");
  state.best_epoch = j.at("best_epoch");
  state.best_val_rmse = number_of(j.at("best_val_rmse"));
  state.epochs_without_improvement = j.at("epochs_without_improvement");
  state.history.clear();
  for (const auto& r : j.at("history"))
    state.history.push_back({r.at(0), r.at(1), r.at(2), r.at(3), r.at(4), r.at(5), r.at(6)});
  parts.optimizer.set_learning_rate(j.at("learning_rate"));
  const auto& p = j.at("plateau");
  parts.plateau.set_state(number_of(p.at(0)), p.at(1), p.at(2), p.at(3));
}

StepAgreement agree_on_step(dist::Communicator* comm, double local_loss, bool local_stop) {
  if (!is_data_parallel(comm)) return {local_loss, local_stop};
  double v[2] = {local_loss, local_stop ? 1.0 : 0.0};
  comm->all_reduce(v, 2, DType::f64, Device::cpu(), dist::ReduceOp::sum);
  return {v[0], v[1] > 0};
}

bool any_rank(dist::Communicator* comm, bool mine) {
  if (!is_data_parallel(comm)) return mine;
  int64_t v = mine ? 1 : 0;
  comm->all_reduce(&v, 1, DType::i64, Device::cpu(), dist::ReduceOp::sum);
  return v > 0;
}

}  // namespace dispa::train
