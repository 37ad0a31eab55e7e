#include "train/train_run.h"

#include <omp.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "bio/pathway_scores.h"
#include "engine/dist/consistency.h"
#include "engine/dist/launch_env.h"
#include "engine/fault_injection.h"
#include "engine/interrupt.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "train/baselines.h"
#include "train/learning_curve_svg.h"
#include "train/metrics.h"
#include "train/run_folder.h"
#include "train/splits.h"
#include "train/trainer_dist.h"

namespace dispa::train {
namespace fs = std::filesystem;

namespace {

Split make_split(const TrainRunOptions& o, const PreparedData& data) {
  if (!o.split_file.empty()) return read_split(o.split_file, data.responses);
  const SplitScheme scheme = parse_scheme(o.split);
  switch (scheme) {
    case SplitScheme::tgsa_mixed: return tgsa_mixed_split(data.responses, o.trainer.seed);
    case SplitScheme::tgsa_cell_blind:
      DISPA_CHECK(!data.lineage_of_cell.empty(), "split {}: needs cells.tsv (lineage) in the data folder", o.split);
      return tgsa_cell_blind_split(data.responses, data.lineage_of_cell, o.trainer.seed);
    case SplitScheme::tgsa_drug_blind: return tgsa_drug_blind_split(data.responses, data.scaffold_of_drug, o.trainer.seed);
    default: {
      KFoldOptions k;
      k.scheme = scheme;
      k.folds = o.folds;
      k.seed = o.trainer.seed;
      k.val_fraction = o.val_fraction;
      return kfold_split(data.responses, k);
    }
  }
}

// Ridge features: ssGSEA pathway scores per cell (same gene sets as the model) and the drug's
// global feature vector (fingerprint + descriptors), aligned to the response table's ids.
struct RidgeInputs {
  Matrix cell, drug;
};
RidgeInputs ridge_inputs(const PreparedData& data, const DataOptions& options) {
  const FeaturizedDataset& ds = data.dataset;
  const bio::ExpressionMatrix expression(ds.cell_ids, ds.gene_symbols, ds.cell_expression.to(Device::cpu()),
                                         "training expression");
  const std::vector<bio::GeneSet> sets =
      bio::read_gmt(options.gmt.empty() ? options.data_dir / "pathways_kegg.gmt" : options.gmt,
                    options.expression.symbol_case);
  bio::ScoreOptions score;
  score.sets = options.pathways;
  const bio::PathwayScores scores = bio::score_gene_sets(expression, sets, score);
  RidgeInputs r;
  const auto s = scores.scores.to_f64_vector();
  r.cell = Matrix(scores.scores.dim(0), scores.scores.dim(1));
  std::copy(s.begin(), s.end(), r.cell.data.begin());
  const Tensor g = ds.drug_global.to(Device::cpu());
  const auto d = g.to_f64_vector();
  r.drug = Matrix(g.dim(0), g.dim(1));
  std::copy(d.begin(), d.end(), r.drug.data.begin());
  return r;
}

nlohmann::json run_json(const TrainRunOptions& o, const DispaConfig& config, const PreparedData& data, int fold) {
  nlohmann::json pathways = nlohmann::json::array();
  for (size_t p = 0; p < data.pathways.ids.size(); ++p) {
    nlohmann::json genes = nlohmann::json::array();
    for (int32_t column : data.pathways.members[p]) genes.push_back(data.dataset.gene_symbols[size_t(column)]);
    pathways.push_back({{"id", data.pathways.ids[p]}, {"description", data.pathways.descriptions[p]}, {"genes", genes}});
  }
  return {{"format", "dispa run 1"},
          {"model", config.to_json()},
          {"data", o.data.to_json()},
          {"split", o.split_file.empty() ? o.split : o.split_file.string()},
          {"fold", fold},
          {"seed", o.trainer.seed},
          {"genes", data.dataset.gene_symbols},
          {"pathways", pathways}};
}

void write_predictions(const fs::path& file, const PreparedData& data, const std::vector<int64_t>& pairs,
                       const std::vector<float>& predictions) {
  std::string text = "cell_id\tdrug_name\tln_ic50\tprediction\n";
  for (size_t i = 0; i < pairs.size(); ++i) {
    const Pair& p = data.dataset.pairs[size_t(pairs[i])];
    text += fmt::format("{}\t{}\t{}\t{:.6f}\n", data.dataset.cell_ids[size_t(p.cell)],
                        data.dataset.drug_names[size_t(p.drug)], data.responses.pairs[size_t(pairs[i])].ln_ic50,
                        predictions[i]);
  }
  io::write_file_atomically(file, text);
}

// Paths are recorded absolute, so --resume works from any working directory.
void make_paths_absolute(TrainRunOptions& o) {
  auto absolute = [](const fs::path& p) { return p.empty() ? p : fs::weakly_canonical(fs::absolute(p)); };
  o.data.data_dir = absolute(o.data.data_dir);
  o.data.gmt = absolute(o.data.gmt);
  o.split_file = absolute(o.split_file);
  o.data.drugs.drug_feature_file = absolute(o.data.drugs.drug_feature_file).string();
  o.data.drugs.fragment_feature_file = absolute(o.data.drugs.fragment_feature_file).string();
}

// Checks that need no data, made before anything in the run folder changes.
void validate(const TrainRunOptions& o) {
  DISPA_CHECK(!o.data.data_dir.empty(), "train: --data DIR is required");
  DISPA_CHECK(o.trainer.epochs >= 1, "train: --epochs must be at least 1, got {} (an untrained model is not DiSPA)",
              o.trainer.epochs);
  const SplitScheme scheme = parse_scheme(o.split);
  const bool tgsa = scheme == SplitScheme::tgsa_mixed || scheme == SplitScheme::tgsa_cell_blind ||
                    scheme == SplitScheme::tgsa_drug_blind;
  const bool kfold = o.split_file.empty() && !tgsa;  // otherwise the fold count is known from the split
  if (o.fold)
    DISPA_CHECK(*o.fold >= 0 && (!kfold || *o.fold < o.folds),
                "train: --fold {} is outside [0, {}); leave --fold out to train every fold", *o.fold,
                kfold ? fmt::format("{}", o.folds) : std::string("folds"));
}

// Decides what to do with what the run folder holds: the options to train with, or nothing when
// --resume finds a finished run with no epochs to add.
std::optional<TrainRunOptions> settle_run_folder(const TrainRunOptions& requested, const RunStatus& status) {
  const std::string out = requested.out_dir.string();
  DISPA_CHECK(!(requested.resume && requested.overwrite), "train: --resume and --overwrite contradict each other");
  TrainRunOptions o = requested;
  make_paths_absolute(o);
  if (!requested.resume || status.state == RunState::empty) {
    if (status.state == RunState::finished)
      DISPA_CHECK(requested.overwrite, "{} holds a finished run: pass --overwrite to replace it, or choose another --out",
                  out);
    if (status.state == RunState::unfinished)
      DISPA_CHECK(requested.overwrite,
                  "{} holds an unfinished run (killed or interrupted): pass --resume to continue it, or --overwrite "
                  "to discard it and start again",
                  out);
    validate(o);
    if (status.state != RunState::empty) {
      clear_run(requested.out_dir);
      logging::warn("--overwrite: removed the earlier run in {}", out);
    }
    if (requested.resume) logging::info("--resume: {} holds no run yet: starting a new one", out);
    return o;
  }
  DISPA_CHECK(status.record.has_value(),
              "{} holds a run of an older dispa (no run_options.json): its options cannot be checked, so it cannot be "
              "resumed safely; pass --overwrite to train it again",
              out);
  o = resume_options(*status.record, o);
  validate(o);
  if (status.state == RunState::finished) {
    const int recorded = status.record->at("trainer").at("epochs");
    if (o.trainer.epochs <= recorded) {
      logging::info("{} is finished ({} epochs): nothing to resume (pass a larger --epochs to train longer)", out,
                    recorded);
      return std::nullopt;
    }
    logging::info("--resume: extending the finished run in {} from {} to {} epochs", out, recorded, o.trainer.epochs);
    fs::remove(requested.out_dir / "metrics.json");  // the folder is no longer a finished run
  }
  return o;
}

// The split of a resumed run is the one it recorded (split.tsv), never a new one.
Split run_split(const TrainRunOptions& o, const PreparedData& data) {
  const fs::path recorded = o.out_dir / "split.tsv";
  if (o.resume && fs::exists(recorded)) {
    logging::info("using the run's split {}", recorded.string());
    return read_split(recorded, data.responses);
  }
  Split split = make_split(o, data);
  write_split(recorded, data.responses, split);
  return split;
}

void stop_if_interrupted(const char* where) {
  if (const int signal = interrupt_signal())
    throw Interrupted(signal, fmt::format("interrupted by {} {}", signal_name(signal), where));
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Closes the run's train.log however run_training ends.
struct RunLog {
  explicit RunLog(const fs::path& file) { logging::set_log_file(file.string()); }
  ~RunLog() { logging::set_log_file(""); }
};

nlohmann::json read_metrics(const fs::path& file) {
  std::ifstream in(file);
  DISPA_CHECK(in.good(), "cannot read {}", file.string());
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", file.string(), e.what());
  }
}

const char* kMetricKeys[] = {"rmse", "mae", "pearson", "spearman", "r2", "per_drug_pearson_mean",
                             "per_drug_pearson_median"};

}  // namespace

nlohmann::json aggregate_folds(const std::vector<nlohmann::json>& folds) {
  nlohmann::json mean = nlohmann::json::object(), sd = nlohmann::json::object();
  auto stats = [&](auto get) {
    std::vector<double> v;
    for (const auto& f : folds) {
      const nlohmann::json* x = get(f);
      if (x && x->is_number()) v.push_back(x->get<double>());
    }
    double m = 0, s = 0;
    for (double x : v) m += x;
    m = v.empty() ? NAN : m / double(v.size());
    for (double x : v) s += (x - m) * (x - m);
    s = v.size() > 1 ? std::sqrt(s / double(v.size() - 1)) : 0.0;
    return std::pair{m, s};
  };
  for (const char* key : kMetricKeys) {
    auto [m, s] = stats([&](const nlohmann::json& f) { return f.contains(key) ? &f.at(key) : nullptr; });
    mean[key] = m;
    sd[key] = s;
  }
  if (!folds.empty() && folds[0].contains("baselines")) {
    for (const auto& [name, unused] : folds[0].at("baselines").items()) {
      for (const char* key : kMetricKeys) {
        auto [m, s] = stats([&](const nlohmann::json& f) -> const nlohmann::json* {
          if (!f.contains("baselines") || !f.at("baselines").contains(name)) return nullptr;
          const auto& b = f.at("baselines").at(name);
          return b.contains(key) ? &b.at(key) : nullptr;
        });
        mean["baselines"][name][key] = m;
        sd["baselines"][name][key] = s;
      }
    }
  }
  nlohmann::json out = mean;
  out["sd"] = sd;
  out["folds"] = folds;
  return out;
}

namespace {

// The split as bytes (scheme, seed, then one role byte per pair and fold), for rank 0 to hand on.
std::string split_bytes(const Split& split) {
  std::string bytes;
  const int32_t scheme = int32_t(split.scheme), folds = split.folds();
  const int64_t pairs = split.num_pairs();
  bytes.append(reinterpret_cast<const char*>(&scheme), sizeof scheme);
  bytes.append(reinterpret_cast<const char*>(&split.seed), sizeof split.seed);
  bytes.append(reinterpret_cast<const char*>(&folds), sizeof folds);
  bytes.append(reinterpret_cast<const char*>(&pairs), sizeof pairs);
  for (const auto& fold : split.roles)
    for (Role r : fold) bytes.push_back(char(r));
  return bytes;
}

Split split_from_bytes(const std::string& bytes) {
  Split split;
  int32_t scheme = 0, folds = 0;
  int64_t pairs = 0;
  size_t at = 0;
  auto take = [&](void* dst, size_t n) {
    DISPA_CHECK(at + n <= bytes.size(), "train: the split received from rank 0 is truncated");
    std::memcpy(dst, bytes.data() + at, n);
    at += n;
  };
  take(&scheme, sizeof scheme);
  take(&split.seed, sizeof split.seed);
  take(&folds, sizeof folds);
  take(&pairs, sizeof pairs);
  split.scheme = SplitScheme(scheme);
  split.roles.assign(size_t(folds), std::vector<Role>(size_t(pairs)));
  for (auto& fold : split.roles) take(fold.data(), fold.size());
  return split;
}

// What every rank needs besides its options to train the folds.
struct RunContext {
  const TrainRunOptions& options;
  const PreparedData& data;
  const Split& split;
  const DispaConfig& config;
  const std::optional<RidgeInputs>& ridge;
  dist::Communicator* comm;  // data-parallel; nullptr otherwise
  bool writer() const { return !comm || comm->rank() == 0; }
};

// Trains fold `fold`, evaluates it and (rank 0) writes its files; returns its metrics JSON (empty
// on ranks other than 0).
nlohmann::json train_fold(const RunContext& run, int fold, const std::string& label,
                          const std::atomic<bool>* cancel) {
  const TrainRunOptions& options = run.options;
  const PreparedData& data = run.data;
  const fs::path fold_dir = options.out_dir / fmt::format("fold_{}", fold);
  if (run.writer()) fs::create_directories(fold_dir);
  logging::info("fold {}: {}", fold, run.split.describe(fold));
  const std::vector<int64_t> train = run.split.indices(fold, Role::train), val = run.split.indices(fold, Role::val),
                             test = run.split.indices(fold, Role::test);
  // Without a validation set, early stopping and the schedule watch the training pairs.
  const std::vector<int64_t>& monitor = val.empty() ? train : val;

  Dispa model(run.config, options.trainer.seed * 1000003ull + uint64_t(fold));
  model.to(options.device);
  if (run.writer()) {
    io::write_file_atomically(fold_dir / "config.json", run.config.to_json().dump(2) + "\n");
    io::write_file_atomically(fold_dir / "run.json", run_json(options, run.config, data, fold).dump(2) + "\n");
  }
  TrainerOptions trainer = options.trainer;
  trainer.run_dir = fold_dir.string();
  trainer.resume = options.resume;
  trainer.comm = run.comm;
  trainer.label = label;
  trainer.cancel = cancel;
  const TrainResult result = train_model(model, data.dataset, train, monitor, trainer);
  fault_point("fold-trained");

  const std::vector<float> predictions = predict_pairs_sharded(model, data.dataset, test, run.comm);
  if (!run.writer()) {
    run.comm->barrier();  // rank 0 writes the fold's files
    return nlohmann::json();
  }
  std::map<std::string, Tensor> weights;
  for (auto& [k, v] : model.state_dict()) weights[k] = v.to(Device::cpu());
  save_safetensors((fold_dir / "model.safetensors").string(), weights,
                   {{"producer", "dispa train"}, {"best_epoch", std::to_string(result.best_epoch)}});
  write_predictions(fold_dir / "predictions.tsv", data, test, predictions);
  std::vector<double> y, p;
  std::vector<int32_t> drug;
  for (size_t i = 0; i < test.size(); ++i) {
    const ResponsePair& rp = data.responses.pairs[size_t(test[i])];
    y.push_back(rp.ln_ic50);
    p.push_back(predictions[i]);
    drug.push_back(rp.drug);
  }
  const Metrics model_metrics = compute_metrics(y, p, drug);

  // Baselines are computed once, by rank 0 (they are deterministic and cheap beside the model).
  BaselineOptions baseline_options;
  PairFeatures pair_features;
  if (run.ridge) {
    pair_features.cell = &run.ridge->cell;
    pair_features.drug = &run.ridge->drug;
    baseline_options.ridge_features = &pair_features;
  }
  const std::vector<BaselineResult> baselines = run_baselines(data.responses, run.split, fold, baseline_options);

  nlohmann::json fold_json = metrics_to_json(model_metrics);
  fold_json["fold"] = fold;
  fold_json["best_epoch"] = result.best_epoch;
  fold_json["best_val_rmse"] = result.best_val_rmse;
  fold_json["epochs"] = result.history.size();
  fold_json["baselines"] = baselines_to_json(baselines, Role::test);
  write_json_file(fold_dir / "metrics.json", fold_json);

  std::vector<LearningCurvePoint> curve;
  for (const EpochRecord& r : result.history) curve.push_back({r.epoch, r.train_loss, r.val_loss, r.val_rmse});
  if (!curve.empty())
    write_learning_curve_svg(fold_dir / "learning_curve.svg", curve,
                             {fmt::format("DiSPA fold {} ({} split)", fold, options.split), 960, 380});

  std::vector<std::pair<std::string, Metrics>> rows = {{"DiSPA", model_metrics}};
  for (const BaselineResult& b : baselines) rows.emplace_back(b.name, b.test);
  logging::info("fold {} test metrics:\n{}", fold, metrics_table(rows));
  if (run.comm) run.comm->barrier();
  return fold_json;
}

// --parallel-folds: `workers` threads take folds in order; each runs its folds with an equal share
// of the OpenMP threads. A failed fold stops the others after their current step (they save a
// checkpoint); the first failure is rethrown.
std::vector<nlohmann::json> train_folds_in_parallel(const RunContext& run, const std::vector<int>& folds,
                                                    int workers) {
  const int threads_each = std::max(1, omp_get_max_threads() / workers);
  logging::info("--parallel-folds {}: {} folds, {} at a time, {} OpenMP thread(s) each", workers, folds.size(),
                workers, threads_each);
  std::vector<nlohmann::json> results(folds.size());
  std::atomic<size_t> next{0};
  std::atomic<bool> cancel{false};
  std::mutex mutex;
  std::exception_ptr first_failure;
  auto work = [&] {
    omp_set_num_threads(threads_each);
    for (size_t i = next++; i < folds.size(); i = next++) {
      try {
        results[i] = train_fold(run, folds[i], fmt::format("fold {}: ", folds[i]), &cancel);
        stop_if_interrupted(fmt::format("after fold {}", folds[i]).c_str());
      } catch (...) {
        const std::lock_guard<std::mutex> lock(mutex);
        if (!first_failure) first_failure = std::current_exception();
        cancel = true;
        return;
      }
      if (cancel) return;
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  if (first_failure) std::rethrow_exception(first_failure);
  return results;
}

// Trains and evaluates every selected fold; rank 0 holds the run folder's lock.
nlohmann::json train_folds(const TrainRunOptions& options, dist::Communicator* comm) {
  const bool writer = !comm || comm->rank() == 0;
  if (writer) write_run_record(options.out_dir, options, RunState::unfinished);
  std::optional<RunLog> log;
  if (writer) log.emplace(options.out_dir / "train.log");
  PreparedData data = prepare_data(options.data);
  stop_if_interrupted("while preparing the data");
  Split split;
  if (writer) split = run_split(options, data);
  if (comm) {
    std::string bytes = writer ? split_bytes(split) : std::string();
    comm->broadcast_bytes(bytes, 0);
    if (!writer) split = split_from_bytes(bytes);
    DISPA_CHECK(split.num_pairs() == int64_t(data.responses.pairs.size()),
                "train: rank 0's split has {} pairs but this rank read {} (different data folders?)",
                split.num_pairs(), data.responses.pairs.size());
  }
  DispaConfig config = options.model;
  data.dataset.fill_config(config);
  config.validate();

  std::optional<RidgeInputs> ridge;
  if (options.ridge_baseline && writer) {
    logging::info("ridge baseline features: ssGSEA pathway scores + drug fingerprints");
    ridge = ridge_inputs(data, options.data);
  }
  data.dataset.to(options.device);

  std::vector<int> folds;
  if (options.fold) {
    DISPA_CHECK(*options.fold < split.folds(), "train: --fold {} is outside [0, {}) (the split's folds)", *options.fold,
                split.folds());
    folds.push_back(*options.fold);
  } else {
    for (int f = 0; f < split.folds(); ++f) folds.push_back(f);
  }

  const RunContext run{options, data, split, config, ridge, comm};
  std::vector<nlohmann::json> fold_results;
  const int workers = std::min<int>(options.parallel_folds, int(folds.size()));
  if (workers > 1) {
    fold_results = train_folds_in_parallel(run, folds, workers);
  } else {
    for (int fold : folds) {
      fold_results.push_back(train_fold(run, fold, "", nullptr));
      if (any_rank(comm, interrupt_signal() != 0))  // all ranks stop together
        throw Interrupted(interrupt_signal() ? interrupt_signal() : SIGINT,
                          fmt::format("interrupted by {} after fold {}",
                                      signal_name(interrupt_signal() ? interrupt_signal() : SIGINT), fold));
    }
  }
  nlohmann::json summary;
  if (writer) {
    summary = aggregate_folds(fold_results);
    summary["split"] = options.split_file.empty() ? options.split : options.split_file.string();
    summary["excluded_pairs"] = data.excluded.total;
    fault_point("run-end");
    write_json_file(options.out_dir / "metrics.json", summary);
    write_run_record(options.out_dir, options, RunState::finished);
  }
  return comm ? broadcast_json(*comm, summary) : summary;
}

// What every rank must have been given alike: the options as the run record would hold them, the
// flags given, the run folder and the mode. Checked before rank 0 touches the folder.
std::vector<dist::CheckItem> command_line_items(const TrainRunOptions& o) {
  std::vector<dist::CheckItem> items;
  const nlohmann::json record = options_record(o).flatten();  // named: items() refers into it
  for (const auto& [path, value] : record.items()) items.push_back({path, value.dump()});
  std::string given;
  if (o.given_flags)
    for (const std::string& flag : *o.given_flags) given += flag + " ";
  items.push_back({"flags given", given});
  // As given: only rank 0 uses it, from its own working directory.
  items.push_back({"--out", o.out_dir.string()});
  items.push_back({"--resume/--overwrite", fmt::format("{}/{}", o.resume, o.overwrite)});
  items.push_back({"--dist", o.dist});
  return items;
}

// Sets --quiet on ranks other than 0 for the call: their progress would repeat rank 0's.
struct QuietRank {
  explicit QuietRank(bool quiet) : was_(logging::quiet()) { logging::set_quiet(was_ || quiet); }
  ~QuietRank() { logging::set_quiet(was_); }
  bool was_;
};

}  // namespace

nlohmann::json run_training(const TrainRunOptions& requested) {
  DISPA_CHECK(!requested.out_dir.empty(), "train: --out RUN_DIR is required");
  DISPA_CHECK(requested.parallel_folds >= 1, "train: --parallel-folds must be at least 1, got {}",
              requested.parallel_folds);
  const dist::Backend backend = dist::choose_backend(requested.dist, requested.device);
  DISPA_CHECK(backend == dist::Backend::none || requested.parallel_folds == 1,
              "train: --parallel-folds and --dist {} do not combine: use ranks for one fold, or folds side by side "
              "in one process (docs/distributed.md)",
              dist::backend_name(backend));
  DISPA_CHECK(backend != dist::Backend::mpi || !requested.device.is_cuda(),
              "train: --dist mpi carries CPU tensors only (Debian's OpenMPI is not CUDA-aware): use --dist nccl "
              "with --device cuda");
  DISPA_CHECK(backend != dist::Backend::nccl || requested.device.is_cuda(),
              "train: --dist nccl needs --device cuda (each rank takes GPU local_rank); CPU ranks use --dist mpi");
  const std::unique_ptr<dist::Communicator> owned = dist::make_communicator(backend);
  dist::Communicator* const comm = backend == dist::Backend::none ? nullptr : owned.get();
  const bool writer = !comm || comm->rank() == 0;
  if (comm) dist::check_same_on_all_ranks(*comm, command_line_items(requested), "the dispa train command line");
  const QuietRank quiet(!writer);
  if (comm) logging::info("data-parallel training: {} rank(s), backend {}", comm->size(), dist::backend_name(backend));

  std::optional<RunLock> lock;
  std::optional<TrainRunOptions> settled;
  nlohmann::json plan;
  if (writer) {
    io::check_output_folder(requested.out_dir, "--out");
    std::error_code ec;
    fs::create_directories(requested.out_dir, ec);
    DISPA_CHECK(!ec, "cannot create the run folder {}: {}", requested.out_dir.string(), ec.message());
    lock.emplace(requested.out_dir);
    remove_stale_temporaries(requested.out_dir);
    settled = settle_run_folder(requested, inspect_run(requested.out_dir));
    plan = settled ? nlohmann::json{{"record", options_record(*settled)}}
                   : nlohmann::json{{"metrics", read_metrics(requested.out_dir / "metrics.json")}};
  }
  if (comm) plan = broadcast_json(*comm, plan);
  if (plan.contains("metrics")) return plan.at("metrics");
  TrainRunOptions options;
  if (writer) {
    options = *settled;
  } else {
    // Rank 0's settled options (it may have resumed a recorded run): the record, read as --resume
    // reads it, with nothing of this rank's command line taking precedence.
    TrainRunOptions base = requested;
    base.given_flags = std::set<std::string>();
    options = resume_options(plan.at("record"), base);
  }
  if (comm) options.device = backend == dist::Backend::nccl ? comm->device() : Device::cpu();
  const InterruptHandler interrupts;
  try {
    return train_folds(options, comm);
  } catch (const Interrupted& e) {
    const std::string how = comm ? fmt::format("mpirun -np {} -x OMP_NUM_THREADS={} dispa train --resume --dist {}",
                                               comm->size(), omp_get_max_threads(), dist::backend_name(backend))
                                 : fmt::format("OMP_NUM_THREADS={} dispa train --resume", omp_get_max_threads());
    throw Interrupted(e.signal(), fmt::format("{}; resume with: {} --out {}", e.what(), how,
                                              shell_quote(options.out_dir.string())));
  }
}

}  // namespace dispa::train
