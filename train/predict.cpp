// `dispa predict` (see predict.h).
#include "train/predict.h"

#include <cmath>
#include <fstream>
#include <optional>
#include <unordered_map>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/log.h"
#include "train/tsv_reader.h"

namespace dispa::train {
namespace fs = std::filesystem;

namespace {

// Pairs from a TSV (cell_id, drug_name), as rows of the prepared tables.
std::vector<Pair> read_pairs(const fs::path& file, const FeaturizedDataset& ds, const fs::path& expression,
                             const fs::path& drugs, const std::vector<std::string>& skipped_drugs) {
  std::unordered_map<std::string, int32_t> cell_row, drug_row;
  for (size_t i = 0; i < ds.cell_ids.size(); ++i) cell_row.emplace(ds.cell_ids[i], int32_t(i));
  for (size_t i = 0; i < ds.drug_names.size(); ++i) drug_row.emplace(ds.drug_names[i], int32_t(i));
  TsvReader reader(file);
  const int cell_column = reader.column("cell_id"), drug_column = reader.column("drug_name");
  std::vector<Pair> pairs;
  while (reader.next()) {
    const std::string& cell = reader.field(cell_column);
    const std::string& drug = reader.field(drug_column);
    auto c = cell_row.find(cell);
    DISPA_CHECK(c != cell_row.end(), "{}: unknown cell '{}' (not a sample of {})", reader.where(), io::shorten(cell),
                expression.string());
    auto d = drug_row.find(drug);
    if (d == drug_row.end()) {
      for (const std::string& s : skipped_drugs)
        if (s.rfind(drug + " (line ", 0) == 0) fail("{}: drug '{}' was skipped: {}", reader.where(), drug, s);
      fail("{}: unknown drug '{}' (not in {})", reader.where(), io::shorten(drug), drugs.string());
    }
    pairs.push_back({c->second, d->second, 0.0f});
  }
  DISPA_CHECK(!pairs.empty(), "{}: no pairs", file.string());
  return pairs;
}

}  // namespace

std::vector<std::vector<float>> predict_with_run(TrainedRun& run, const FeaturizedDataset& inputs,
                                                 int64_t batch_size) {
  DISPA_CHECK(batch_size > 0, "predict: batch size must be positive, got {}", batch_size);
  NoGrad no_grad;
  const size_t n = inputs.pairs.size(), models = run.n_models();
  const int64_t batches = int64_t((n + size_t(batch_size) - 1) / size_t(batch_size));
  // A progress line only when the job is large enough to be watched.
  std::optional<logging::Progress> progress;
  if (n * models >= 20000) progress.emplace("predict", batches * int64_t(models));
  std::vector<std::vector<float>> out(models);
  int64_t done = 0;
  for (size_t m = 0; m < models; ++m) {
    Dispa& model = run.model(m);
    model.eval();
    out[m].reserve(n);
    for (size_t start = 0; start < n; start += size_t(batch_size)) {
      std::vector<int64_t> indices;
      for (size_t i = start; i < std::min(n, start + size_t(batch_size)); ++i) indices.push_back(int64_t(i));
      const Batch batch = make_batch(inputs, indices);
      const std::vector<float> p = model.forward(batch.inputs).prediction.to(Device::cpu()).to_vector<float>();
      out[m].insert(out[m].end(), p.begin(), p.end());
      if (progress) progress->update(++done, fmt::format("fold {}", run.fold(m)));
    }
  }
  if (progress) progress->finish();
  return out;
}

void write_prediction_table(const fs::path& file, const PredictionTable& t) {
  const bool ensemble = t.per_fold.size() > 1;
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  io::AtomicFile out(file);
  out.write(ensemble ? "cell_id\tdrug_name\tprediction\tprediction_sd\n" : "cell_id\tdrug_name\tprediction\n");
  for (size_t i = 0; i < t.prediction.size(); ++i) {
    std::string row = fmt::format("{}\t{}\t{:.6f}", t.cell_ids[i], t.drug_names[i], t.prediction[i]);
    if (ensemble) row += fmt::format("\t{:.6f}", t.sd[i]);
    out.write(row + '\n');
  }
  out.commit();
}

PredictionTable run_predict(const PredictOptions& o) {
  DISPA_CHECK(!o.expression.empty() && !o.drugs.empty(), "predict: --expression and --drugs are required");
  if (!o.out.empty()) io::check_output_file(o.out, "--out");
  TrainedRun run = TrainedRun::load(o.run_dir, o.fold);
  const bio::ExpressionMatrix expression = bio::read_expression(o.expression, run.data_options().expression);
  const std::vector<chem::DrugRecord> drugs = read_drugs_for_inference(o.drugs);
  InferenceInputs inputs = run.prepare(expression, drugs, o.invalid_drugs, o.drugs.string());
  FeaturizedDataset& ds = inputs.dataset;
  if (o.pairs.empty()) {
    for (size_t c = 0; c < ds.cell_ids.size(); ++c)
      for (size_t d = 0; d < ds.drug_names.size(); ++d) ds.pairs.push_back({int32_t(c), int32_t(d), 0.0f});
  } else {
    ds.pairs = read_pairs(o.pairs, ds, o.expression, o.drugs, inputs.skipped_drugs);
  }
  logging::info("predicting {} pairs ({} cells, {} drugs) with {} model(s)", ds.pairs.size(), ds.cell_ids.size(),
                ds.drug_names.size(), run.n_models());
  run.to(o.device);
  ds.to(o.device);

  PredictionTable t;
  t.per_fold = predict_with_run(run, ds, o.batch_size);
  for (size_t m = 0; m < run.n_models(); ++m) t.folds.push_back(run.fold(m));
  check_finite_predictions(t.per_fold, t.folds, ds);
  const size_t n = ds.pairs.size(), models = t.per_fold.size();
  for (const Pair& p : ds.pairs) {
    t.cell_ids.push_back(ds.cell_ids[size_t(p.cell)]);
    t.drug_names.push_back(ds.drug_names[size_t(p.drug)]);
  }
  t.prediction.resize(n);
  t.sd.assign(n, 0.0f);
  for (size_t i = 0; i < n; ++i) {
    double mean = 0, ss = 0;
    for (size_t m = 0; m < models; ++m) mean += t.per_fold[m][i];
    mean /= double(models);
    for (size_t m = 0; m < models; ++m) ss += (t.per_fold[m][i] - mean) * (t.per_fold[m][i] - mean);
    t.prediction[i] = float(mean);
    if (models > 1) t.sd[i] = float(std::sqrt(ss / double(models - 1)));
  }
  if (!o.out.empty()) {
    write_prediction_table(o.out, t);
    logging::info("wrote {} predictions to {}", n, o.out.string());
  }
  return t;
}

}  // namespace dispa::train
