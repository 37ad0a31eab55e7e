#include "train/train_run.h"

#include <cmath>
#include <fstream>

#include "bio/pathway_scores.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "train/baselines.h"
#include "train/learning_curve_svg.h"
#include "train/metrics.h"
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

void write_text(const fs::path& file, const std::string& text) {
  const fs::path tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    DISPA_CHECK(out.good(), "cannot write {}", tmp.string());
  }
  fs::rename(tmp, file);
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
  write_text(file, text);
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

nlohmann::json run_training(const TrainRunOptions& options) {
  DISPA_CHECK(!options.out_dir.empty(), "train: --out RUN_DIR is required");
  fs::create_directories(options.out_dir);
  logging::set_log_file((options.out_dir / "train.log").string());
  PreparedData data = prepare_data(options.data);
  const Split split = make_split(options, data);
  write_split(options.out_dir / "split.tsv", data.responses, split);
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
  if (options.fold >= 0) {
    DISPA_CHECK(options.fold < split.folds(), "train: --fold {} but the split has {} folds", options.fold, split.folds());
    folds.push_back(options.fold);
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
    write_text(fold_dir / "config.json", config.to_json().dump(2) + "\n");
    write_text(fold_dir / "run.json", run_json(options, config, data, fold).dump(2) + "\n");
    TrainerOptions trainer = options.trainer;
    trainer.run_dir = fold_dir.string();
    trainer.resume = options.resume;
    const TrainResult result = train_model(model, data.dataset, train, monitor, trainer);

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
  }
  nlohmann::json summary = aggregate_folds(fold_results);
  summary["split"] = options.split_file.empty() ? options.split : options.split_file.string();
  summary["excluded_pairs"] = data.excluded.total;
  write_json_file(options.out_dir / "metrics.json", summary);
  logging::set_log_file("");
  return summary;
}

}  // namespace dispa::train
