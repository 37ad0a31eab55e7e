#include "train/train_run.h"

#include <omp.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "bio/pathway_scores.h"
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

// Trains and evaluates every selected fold; the caller holds the run folder's lock.
nlohmann::json train_folds(const TrainRunOptions& options) {
  write_run_record(options.out_dir, options, RunState::unfinished);
  const RunLog log(options.out_dir / "train.log");
  PreparedData data = prepare_data(options.data);
  stop_if_interrupted("while preparing the data");
  const Split split = run_split(options, data);
  DispaConfig config = options.model;
  data.dataset.fill_config(config);
  config.validate();

  std::optional<RidgeInputs> ridge;
  if (options.ridge_baseline) {
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

  std::vector<nlohmann::json> fold_results;
  for (int fold : folds) {
    const fs::path fold_dir = options.out_dir / fmt::format("fold_{}", fold);
    fs::create_directories(fold_dir);
    logging::info("fold {}: {}", fold, split.describe(fold));
    const std::vector<int64_t> train = split.indices(fold, Role::train), val = split.indices(fold, Role::val),
                               test = split.indices(fold, Role::test);
    // Without a validation set, early stopping and the schedule watch the training pairs.
    const std::vector<int64_t>& monitor = val.empty() ? train : val;

    Dispa model(config, options.trainer.seed * 1000003ull + uint64_t(fold));
    model.to(options.device);
    io::write_file_atomically(fold_dir / "config.json", config.to_json().dump(2) + "\n");
    io::write_file_atomically(fold_dir / "run.json", run_json(options, config, data, fold).dump(2) + "\n");
    TrainerOptions trainer = options.trainer;
    trainer.run_dir = fold_dir.string();
    trainer.resume = options.resume;
    const TrainResult result = train_model(model, data.dataset, train, monitor, trainer);
    fault_point("fold-trained");

    std::map<std::string, Tensor> weights;
    for (auto& [k, v] : model.state_dict()) weights[k] = v.to(Device::cpu());
    save_safetensors((fold_dir / "model.safetensors").string(), weights,
                     {{"producer", "dispa train"}, {"best_epoch", std::to_string(result.best_epoch)}});

    const std::vector<float> predictions = predict_pairs(model, data.dataset, test);
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

    BaselineOptions baseline_options;
    PairFeatures pair_features;
    if (ridge) {
      pair_features.cell = &ridge->cell;
      pair_features.drug = &ridge->drug;
      baseline_options.ridge_features = &pair_features;
    }
    const std::vector<BaselineResult> baselines = run_baselines(data.responses, split, fold, baseline_options);

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
    fold_results.push_back(fold_json);
    stop_if_interrupted(fmt::format("after fold {}", fold).c_str());
  }
  nlohmann::json summary = aggregate_folds(fold_results);
  summary["split"] = options.split_file.empty() ? options.split : options.split_file.string();
  summary["excluded_pairs"] = data.excluded.total;
  fault_point("run-end");
  write_json_file(options.out_dir / "metrics.json", summary);
  write_run_record(options.out_dir, options, RunState::finished);
  return summary;
}

}  // namespace

nlohmann::json run_training(const TrainRunOptions& requested) {
  DISPA_CHECK(!requested.out_dir.empty(), "train: --out RUN_DIR is required");
  io::check_output_folder(requested.out_dir, "--out");
  std::error_code ec;
  fs::create_directories(requested.out_dir, ec);
  DISPA_CHECK(!ec, "cannot create the run folder {}: {}", requested.out_dir.string(), ec.message());
  const RunLock lock(requested.out_dir);
  remove_stale_temporaries(requested.out_dir);
  const std::optional<TrainRunOptions> options = settle_run_folder(requested, inspect_run(requested.out_dir));
  if (!options) return read_metrics(requested.out_dir / "metrics.json");
  const InterruptHandler interrupts;
  try {
    return train_folds(*options);
  } catch (const Interrupted& e) {
    throw Interrupted(e.signal(), fmt::format("{}; resume with: OMP_NUM_THREADS={} dispa train --resume --out {}",
                                              e.what(), omp_get_max_threads(), shell_quote(options->out_dir.string())));
  }
}

}  // namespace dispa::train
