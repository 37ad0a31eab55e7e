// Cross-dataset evaluation (see cross_dataset.h).
#include "analysis/cross_dataset.h"

#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "bio/expression.h"
#include "chem/drug_table.h"
#include "engine/log.h"
#include "train/baselines.h"
#include "train/metrics.h"
#include "train/predict.h"
#include "train/response.h"
#include "train/splits.h"
#include "train/svg_text.h"
#include "train/train_run.h"
#include "train/trained_run.h"
#include "train/tsv_reader.h"

namespace dispa::analysis {
namespace fs = std::filesystem;

namespace {

// A target drug: its name, the SMILES to featurise, and the training drug it is (or "").
struct TargetDrug {
  chem::DrugRecord record;
  std::string training_name;
};

std::vector<TargetDrug> read_target_drugs(const fs::path& file, const chem::DrugTable& training) {
  std::unordered_map<std::string, const chem::DrugRecord*> train_by_name;
  for (const chem::DrugRecord& d : training.drugs) train_by_name[d.name] = &d;
  train::TsvReader in(file);
  const int c_name = in.column("drug_name"), c_smiles = in.column("smiles");
  const int c_map = in.find_column("gdsc2_drug_name"), c_flag = in.find_column("in_gdsc2");
  std::vector<TargetDrug> out;
  std::unordered_map<std::string, int64_t> seen;
  while (in.next()) {
    TargetDrug d;
    d.record = {in.field(c_name), in.field(c_smiles), in.line()};
    DISPA_CHECK(!d.record.name.empty() && !d.record.smiles.empty(), "{}: empty drug name or SMILES", in.where());
    const auto [it, added] = seen.emplace(d.record.name, in.line());
    DISPA_CHECK(added, "{}: drug '{}' appears twice (first on line {})", in.where(), d.record.name, it->second);
    std::string mapped = c_map >= 0 ? in.field(c_map) : (train_by_name.count(d.record.name) ? d.record.name : "");
    if (mapped == "NA") mapped.clear();
    if (!mapped.empty()) {
      const auto t = train_by_name.find(mapped);
      DISPA_CHECK(t != train_by_name.end(), "{}: drug '{}' is mapped to training drug '{}', which is not in {}", in.where(),
                  d.record.name, mapped, training.path);
      d.training_name = mapped;
      d.record.smiles = t->second->smiles;  // the structure the model was trained with
    }
    if (c_flag >= 0) {
      const std::string& flag = in.field(c_flag);
      DISPA_CHECK(flag == "yes" || flag == "no", "{}: in_gdsc2 must be yes or no, got '{}'", in.where(), flag);
      DISPA_CHECK((flag == "yes") == !mapped.empty(), "{}: drug '{}' has in_gdsc2 = {} but gdsc2_drug_name '{}'",
                  in.where(), d.record.name, flag, mapped);
    }
    out.push_back(std::move(d));
  }
  DISPA_CHECK(!out.empty(), "{}: no drugs", file.string());
  return out;
}

// Effect-model prediction with unknown ids contributing nothing (the training mean fallback).
double effect_prediction(const train::EffectModel& m, int32_t cell, int32_t drug) {
  // drug_mean has no cell effects and cell_mean no drug effects (empty vectors).
  const bool has_drug = drug >= 0 && size_t(drug) < m.drug_effect.size();
  const bool has_cell = cell >= 0 && size_t(cell) < m.cell_effect.size();
  return m.global + (has_drug ? m.drug_effect[size_t(drug)] : 0.0) + (has_cell ? m.cell_effect[size_t(cell)] : 0.0);
}

nlohmann::json score(const std::vector<size_t>& idx, const std::vector<double>& y, const std::vector<int32_t>& drug,
                     const std::vector<double>& model, const std::vector<std::pair<std::string, std::vector<double>>>& refs,
                     std::vector<std::pair<std::string, train::Metrics>>* table) {
  auto metrics = [&](const std::vector<double>& p) {
    std::vector<double> yy, pp;
    std::vector<int32_t> dd;
    for (size_t i : idx) {
      yy.push_back(y[i]);
      pp.push_back(p[i]);
      dd.push_back(drug[i]);
    }
    return train::compute_metrics(yy, pp, dd);
  };
  const train::Metrics m = metrics(model);
  nlohmann::json j = train::metrics_to_json(m);
  if (table) table->emplace_back("DiSPA", m);
  for (const auto& [name, p] : refs) {
    const train::Metrics b = metrics(p);
    j["baselines"][name] = train::metrics_to_json(b);
    if (table) table->emplace_back(name, b);
  }
  return j;
}

// The training screen: its pairs, the run's split (training pairs per fold) and its drugs.
struct Training {
  fs::path dir, split_file;
  train::ResponseTable table;
  train::Split split;
  chem::DrugTable drugs;
};

Training read_training(const CrossDatasetOptions& o, const train::TrainedRun& run) {
  Training t;
  t.dir = o.train_data.empty() ? run.data_options().data_dir : o.train_data;
  DISPA_CHECK(fs::is_directory(t.dir),
              "evaluate: the run's training data folder '{}' does not exist (a relative path in run.json is relative to "
              "where dispa train ran): give --train-data",
              t.dir.string());
  t.split_file = (fs::exists(o.run_dir / "run.json") ? o.run_dir.parent_path() : o.run_dir) / "split.tsv";
  DISPA_CHECK(fs::exists(t.split_file),
              "evaluate: no split.tsv beside the run's folds ({}): the baselines need the training pairs",
              t.split_file.string());
  t.table = train::read_response_folder(t.dir).table;
  t.split = train::read_split(t.split_file, t.table);
  t.drugs = chem::read_drug_table((t.dir / "drugs.tsv").string());
  return t;
}

// The target screen's pairs as prepared model inputs, with the training ids of their cell and
// drug (-1 when the training screen lacks it) for the baselines and the groups.
struct Target {
  train::InferenceInputs inputs;  // inputs.dataset.pairs: the scored pairs
  std::vector<double> y;
  std::vector<int32_t> drug_id, train_cell, train_drug;
  std::vector<std::string> cell_ids, drug_names;
  int64_t excluded = 0;
};

Target read_target(const CrossDatasetOptions& o, const train::TrainedRun& run, const Training& training) {
  const std::vector<TargetDrug> target_drugs = read_target_drugs(o.data / "drugs.tsv", training.drugs);
  fs::path expression_file = o.expression;
  if (expression_file.empty())
    expression_file = fs::exists(o.data / "expression.tsv") ? o.data / "expression.tsv" : training.dir / "expression.tsv";
  const bio::ExpressionMatrix expression = bio::read_expression(expression_file, run.data_options().expression);
  std::unordered_set<std::string> known_cells(expression.samples().begin(), expression.samples().end()), known_drugs;
  std::vector<chem::DrugRecord> records;
  std::unordered_map<std::string, std::string> training_name;
  for (const TargetDrug& d : target_drugs) {
    known_drugs.insert(d.record.name);
    records.push_back(d.record);
    training_name[d.record.name] = d.training_name;
  }
  train::ResponseReadOptions read;
  read.known_cells = &known_cells;
  read.known_drugs = &known_drugs;
  const train::ResponseData responses = train::read_response(o.data / "response.tsv", read);
  if (responses.excluded.total > 0) logging::warn("{}", responses.excluded.summary());

  Target t;
  t.inputs = run.prepare(expression, records, train::InvalidDrugs::skip, (o.data / "drugs.tsv").string());
  train::FeaturizedDataset& ds = t.inputs.dataset;
  std::unordered_map<std::string, int32_t> drug_row;
  for (size_t i = 0; i < ds.drug_names.size(); ++i) drug_row.emplace(ds.drug_names[i], int32_t(i));
  int64_t skipped_pairs = 0;
  for (const train::ResponsePair& p : responses.table.pairs) {
    const std::string& cell = responses.table.cell_ids[size_t(p.cell)];
    const std::string& drug = responses.table.drug_names[size_t(p.drug)];
    const auto row = drug_row.find(drug);
    if (row == drug_row.end()) {  // a drug prepare() skipped (SMILES not featurisable)
      ++skipped_pairs;
      continue;
    }
    ds.pairs.push_back({int32_t(expression.sample_index(cell)), row->second, float(p.ln_ic50)});
    t.y.push_back(p.ln_ic50);
    t.drug_id.push_back(p.drug);
    t.cell_ids.push_back(cell);
    t.drug_names.push_back(drug);
    t.train_cell.push_back(training.table.find_cell(cell));
    const std::string& name = training_name.at(drug);
    t.train_drug.push_back(name.empty() ? -1 : training.table.find_drug(name));
  }
  if (skipped_pairs > 0) logging::warn("evaluate: {} pairs of drugs that could not be featurised are left out", skipped_pairs);
  t.excluded = responses.excluded.total + skipped_pairs;
  return t;
}

}  // namespace

nlohmann::json run_cross_dataset(const CrossDatasetOptions& options) {
  CrossDatasetOptions o = options;
  DISPA_CHECK(fs::is_directory(o.data), "evaluate: data folder '{}' does not exist", o.data.string());
  if (o.out.empty()) {
    fs::path name = fs::absolute(o.data).lexically_normal();
    if (name.filename().empty()) name = name.parent_path();  // "gdsc1/" has an empty filename
    o.out = o.run_dir / ("eval_" + name.filename().string());
  }
  fs::create_directories(o.out);
  train::TrainedRun run = train::TrainedRun::load(o.run_dir, o.fold);
  const Training training = read_training(o, run);
  const train::ResponseTable& table = training.table;
  const train::Split& split = training.split;
  const fs::path& split_file = training.split_file;
  Target target = read_target(o, run, training);
  train::FeaturizedDataset& ds = target.inputs.dataset;
  const std::vector<double>& y = target.y;
  const std::vector<int32_t>& drug_id = target.drug_id;
  const std::vector<int32_t>& train_cell = target.train_cell;
  const std::vector<int32_t>& train_drug = target.train_drug;
  const size_t n = y.size();
  DISPA_CHECK(n > 0, "evaluate: no pairs to score in {}", (o.data / "response.tsv").string());

  // Groups.
  std::unordered_map<int64_t, double> measured;  // (training cell, training drug) -> training ln IC50
  for (const train::ResponsePair& p : table.pairs) measured[int64_t(p.cell) << 32 | uint32_t(p.drug)] = p.ln_ic50;
  std::vector<size_t> all, shared, unseen, both;
  std::vector<double> training_value(n, NAN);
  for (size_t i = 0; i < n; ++i) {
    all.push_back(i);
    (train_drug[i] >= 0 ? shared : unseen).push_back(i);
    if (train_drug[i] >= 0 && train_cell[i] >= 0) {
      const auto it = measured.find(int64_t(train_cell[i]) << 32 | uint32_t(train_drug[i]));
      if (it != measured.end()) {
        training_value[i] = it->second;
        both.push_back(i);
      }
    }
  }
  const std::vector<std::pair<std::string, const std::vector<size_t>*>> groups = {
      {"all", &all}, {"shared", &shared}, {"unseen", &unseen}, {"shared_measured_in_both", &both}};
  std::unordered_set<int32_t> shared_drugs, unseen_drugs;
  for (size_t i : shared) shared_drugs.insert(drug_id[i]);
  for (size_t i : unseen) unseen_drugs.insert(drug_id[i]);
  logging::info("evaluate: {} pairs; shared drugs {} ({} pairs, {} also measured in the training screen), unseen drugs {} ({} pairs)",
                n, shared_drugs.size(), shared.size(), both.size(), unseen_drugs.size(), unseen.size());

  run.to(o.device);
  ds.to(o.device);
  const std::vector<std::vector<float>> per_model = train::predict_with_run(run, ds, o.batch_size);

  std::map<std::string, std::vector<nlohmann::json>> per_group;
  std::vector<double> ensemble(n, 0.0);
  for (size_t m = 0; m < run.n_models(); ++m) {
    const int fold = run.fold(m);
    DISPA_CHECK(fold < split.folds(), "evaluate: fold {} is not in {} ({} folds)", fold, split_file.string(), split.folds());
    const std::vector<int64_t> train_pairs = split.indices(fold, train::Role::train);
    const train::EffectModel drug_mean = train::fit_drug_mean(table, train_pairs);
    const train::EffectModel cell_mean = train::fit_cell_mean(table, train_pairs);
    const train::EffectModel additive = train::fit_additive(table, train_pairs);
    std::vector<double> model(n);
    std::vector<std::pair<std::string, std::vector<double>>> refs = {
        {"drug_mean", std::vector<double>(n)}, {"cell_mean", std::vector<double>(n)}, {"additive", std::vector<double>(n)}};
    for (size_t i = 0; i < n; ++i) {
      model[i] = per_model[m][i];
      ensemble[i] += per_model[m][i] / double(run.n_models());
      refs[0].second[i] = effect_prediction(drug_mean, train_cell[i], train_drug[i]);
      refs[1].second[i] = effect_prediction(cell_mean, train_cell[i], train_drug[i]);
      refs[2].second[i] = effect_prediction(additive, train_cell[i], train_drug[i]);
    }
    for (const auto& [name, idx] : groups) {
      if (idx->empty()) {  // e.g. no unseen drugs: nothing to score (metrics are null in metrics.json)
        per_group[name].push_back({{"n", 0}, {"fold", fold}});
        continue;
      }
      auto group_refs = refs;
      if (name == "shared_measured_in_both") group_refs.emplace_back("training_measurement", training_value);
      std::vector<std::pair<std::string, train::Metrics>> rows;
      nlohmann::json j = score(*idx, y, drug_id, model, group_refs, &rows);
      j["fold"] = fold;
      per_group[name].push_back(j);
      logging::info("fold {}, {} ({} pairs):\n{}", fold, name, idx->size(), train::metrics_table(rows));
    }
  }

  nlohmann::json out = train::aggregate_folds(per_group.at("all"));
  for (const auto& [name, idx] : groups) {
    out["groups"][name] = train::aggregate_folds(per_group.at(name));
    out["groups"][name]["pairs"] = idx->size();
    if (run.n_models() > 1 && !idx->empty()) out["ensemble"][name] = score(*idx, y, drug_id, ensemble, {}, nullptr);
  }
  out["pairs"] = n;
  out["drugs_shared"] = shared_drugs.size();
  out["drugs_unseen"] = unseen_drugs.size();
  out["excluded_pairs"] = target.excluded;
  out["skipped_drugs"] = target.inputs.skipped_drugs;
  out["data"] = o.data.string();
  out["run"] = o.run_dir.string();
  train::write_json_file(o.out / "metrics.json", out);

  std::string text = "cell_id\tdrug_name\tgroup\tln_ic50\tprediction\n";
  for (size_t i = 0; i < n; ++i)
    text += fmt::format("{}\t{}\t{}\t{}\t{:.6f}\n", target.cell_ids[i], target.drug_names[i], train_drug[i] >= 0 ? "shared" : "unseen",
                        y[i], ensemble[i]);
  train::svg::write_file(o.out / "predictions.tsv", text);
  logging::info("wrote {} and {}", (o.out / "metrics.json").string(), (o.out / "predictions.tsv").string());
  return out;
}

}  // namespace dispa::analysis
