// `dispa predict` (see predict.h).
#include "train/predict.h"

#include <cmath>
#include <iterator>
#include <fstream>
#include <optional>
#include <unordered_map>

#include <fmt/ranges.h>

#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/log.h"
#include "train/predict_screen.h"
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
      const std::vector<float> p =
          model.predict(batch.inputs).to(Device::cpu()).to_vector<float>();
      out[m].insert(out[m].end(), p.begin(), p.end());
      if (progress) progress->update(++done, fmt::format("fold {}", run.fold(m)));
    }
  }
  if (progress) progress->finish();
  return out;
}

namespace {

// Mean over models and sample sd (0 for one model) of pair i.
std::pair<float, float> mean_sd(const std::vector<std::vector<float>>& per_model, size_t i) {
  const size_t models = per_model.size();
  double mean = 0, ss = 0;
  for (size_t m = 0; m < models; ++m) mean += per_model[m][i];
  mean /= double(models);
  for (size_t m = 0; m < models; ++m) ss += (per_model[m][i] - mean) * (per_model[m][i] - mean);
  return {float(mean), models > 1 ? float(std::sqrt(ss / double(models - 1))) : 0.0f};
}

std::string table_header(bool ensemble) {
  return ensemble ? "cell_id\tdrug_name\tprediction\tprediction_sd\n" : "cell_id\tdrug_name\tprediction\n";
}

void append_row(std::string& out, const std::string& cell, const std::string& drug, float prediction, float sd,
                bool ensemble) {
  fmt::format_to(std::back_inserter(out), "{}\t{}\t{:.6f}", cell, drug, prediction);
  if (ensemble) fmt::format_to(std::back_inserter(out), "\t{:.6f}", sd);
  out += '\n';
}

// Non-finite predictions seen while streaming: counted, the first few named, an error at the end
// (before the output is committed, so nothing is written), as check_finite_predictions.
struct NonFiniteCount {
  size_t bad = 0, total = 0;
  std::vector<std::string> examples;
  void check() const {
    DISPA_CHECK(bad == 0,
                "predict: {} of {} predictions are not finite (e.g. {}): the model's weights or the inputs hold NaN "
                "or infinite values; nothing was written",
                bad, total, fmt::join(examples, "; "));
  }
};

// Every cell x drug of ds, streamed: rows go to `out` (when open) batch by batch; the table is
// filled only when o.keep_table.
void screen_into(TrainedRun& run, const FeaturizedDataset& ds, const PredictOptions& o, io::AtomicFile* out,
                 PredictionTable& t) {
  std::vector<const Dispa*> models;
  for (size_t m = 0; m < run.n_models(); ++m) models.push_back(&run.model(m));
  const bool ensemble = models.size() > 1;
  const int64_t total = int64_t(ds.cell_ids.size()) * int64_t(ds.drug_names.size());
  std::optional<logging::Progress> progress;
  if (total * int64_t(models.size()) >= 20000) progress.emplace("predict", total);
  NonFiniteCount non_finite;
  std::string rows;
  if (o.keep_table) t.per_fold.assign(models.size(), {});
  const ScreenStats stats = screen_all_pairs(models, ds, o.batch_size, [&](const ScreenBatch& b) {
    rows.clear();
    for (size_t i = 0; i < b.cells.size(); ++i) {
      const std::string& cell = ds.cell_ids[size_t(b.cells[i])];
      const std::string& drug = ds.drug_names[size_t(b.drugs[i])];
      for (size_t m = 0; m < models.size(); ++m) {
        ++non_finite.total;
        if (std::isfinite(b.per_model[m][i])) continue;
        if (++non_finite.bad <= 5)
          non_finite.examples.push_back(fmt::format("fold {}: {} x {} = {}", run.fold(m), io::shorten(cell),
                                                    io::shorten(drug), b.per_model[m][i]));
      }
      const auto [mean, sd] = mean_sd(b.per_model, i);
      if (out) append_row(rows, cell, drug, mean, sd, ensemble);
      if (o.keep_table) {
        t.cell_ids.push_back(cell);
        t.drug_names.push_back(drug);
        t.prediction.push_back(mean);
        t.sd.push_back(sd);
        for (size_t m = 0; m < models.size(); ++m) t.per_fold[m].push_back(b.per_model[m][i]);
      }
    }
    if (out) out->write(rows);
    if (progress) progress->update(b.first_pair + int64_t(b.cells.size()));
  });
  if (progress) progress->finish();
  non_finite.check();
  t.pairs = stats.pairs;
}

}  // namespace

void write_prediction_table(const fs::path& file, const PredictionTable& t) {
  const bool ensemble = t.per_fold.size() > 1;
  if (file.has_parent_path()) fs::create_directories(file.parent_path());
  io::AtomicFile out(file);
  out.write(table_header(ensemble));
  std::string row;
  for (size_t i = 0; i < t.prediction.size(); ++i) {
    row.clear();
    append_row(row, t.cell_ids[i], t.drug_names[i], t.prediction[i], t.sd[i], ensemble);
    out.write(row);
  }
  out.commit();
}

PredictionTable run_predict(const PredictOptions& o) {
  DISPA_CHECK(!o.expression.empty() && !o.drugs.empty(), "predict: --expression and --drugs are required");
  DISPA_CHECK(o.batch_size > 0, "predict: batch size must be positive, got {}", o.batch_size);
  if (!o.out.empty()) io::check_output_file(o.out, "--out");
  TrainedRun run = TrainedRun::load(o.run_dir, o.fold);
  const bio::ExpressionMatrix expression = bio::read_expression(o.expression, run.data_options().expression);
  const std::vector<chem::DrugRecord> drugs = read_drugs_for_inference(o.drugs);
  InferenceInputs inputs = run.prepare(expression, drugs, o.invalid_drugs, o.drugs.string());
  FeaturizedDataset& ds = inputs.dataset;
  const bool screen = o.pairs.empty();
  if (!screen) ds.pairs = read_pairs(o.pairs, ds, o.expression, o.drugs, inputs.skipped_drugs);
  const size_t n_pairs = screen ? ds.cell_ids.size() * ds.drug_names.size() : ds.pairs.size();
  logging::info("predicting {} pairs ({} cells, {} drugs) with {} model(s){}", n_pairs, ds.cell_ids.size(),
                ds.drug_names.size(), run.n_models(), screen ? ", cell-major screen" : "");
  run.to(o.device);
  ds.to(o.device);

  PredictionTable t;
  for (size_t m = 0; m < run.n_models(); ++m) t.folds.push_back(run.fold(m));
  if (screen) {
    std::optional<io::AtomicFile> out;
    if (!o.out.empty()) {
      if (o.out.has_parent_path()) fs::create_directories(o.out.parent_path());
      out.emplace(o.out);
      out->write(table_header(run.n_models() > 1));
    }
    screen_into(run, ds, o, out ? &*out : nullptr, t);
    if (out) out->commit();
  } else {
    t.per_fold = predict_with_run(run, ds, o.batch_size);
    check_finite_predictions(t.per_fold, t.folds, ds);
    const size_t n = ds.pairs.size();
    for (const Pair& p : ds.pairs) {
      t.cell_ids.push_back(ds.cell_ids[size_t(p.cell)]);
      t.drug_names.push_back(ds.drug_names[size_t(p.drug)]);
    }
    for (size_t i = 0; i < n; ++i) {
      const auto [mean, sd] = mean_sd(t.per_fold, i);
      t.prediction.push_back(mean);
      t.sd.push_back(sd);
    }
    t.pairs = int64_t(n);
    if (!o.out.empty()) write_prediction_table(o.out, t);
  }
  if (!o.out.empty()) logging::info("wrote {} predictions to {}", t.pairs, o.out.string());
  return t;
}

}  // namespace dispa::train
