// Inference from a trained run (train/trained_run, predict) on gdsc2-mini: a tiny 2-fold,
// 1-epoch run is trained once (about 2 s) and then
//  * loading rebuilds the training pathway index and reproduces the fold's own test predictions;
//  * an ensemble prediction is the mean (and sample sd) of the single-fold predictions;
//  * new cells (missing genes, shuffled and extra columns) and new SMILES predict finite values,
//    and column order does not matter;
//  * errors name file, line and the offending id; bad SMILES fail or are skipped on request.
#include <fstream>
#include <limits>
#include <map>

#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"
#include "tests/support/close.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/temp_dir.h"
#include "tests/train/tiny_run.h"
#include "train/predict.h"
#include "train/train_run.h"
#include "train/tsv_reader.h"

using namespace dispa;
using namespace dispa::train;
using dispa::test::error_of;
namespace fs = std::filesystem;

namespace {

const char* kImatinib = "CC1=C(C=C(C=C1)NC(=O)C2=CC=C(C=C2)CN3CCN(CC3)C)NC4=NC=CC(=N4)C5=CN=CC=C5";

// The tiny run (tests/train/tiny_run.h), trained on first use and shared by this binary's tests.
const test::TinyRun& tiny_run() {
  static const test::TinyRun t = test::train_tiny_run("trained_run");
  return t;
}


// An expression file of the run's genes for new cells: columns reversed, the first `drop` training
// genes left out, one unknown gene added; values from the mini file's first cells, shifted.
fs::path write_new_expression(const fs::path& file, const fs::path& data, int drop) {
  const bio::ExpressionMatrix e = bio::read_expression(data / "expression.tsv");
  std::ofstream out(file);
  out << "cell_id\tNOT_A_GENE";
  for (int64_t g = e.n_genes() - 1; g >= drop; --g) out << '\t' << e.genes()[size_t(g)];
  out << '\n';
  for (int c = 0; c < 3; ++c) {
    out << (c == 0 ? "NEW-CELL" : e.samples()[size_t(c)]) << "\t1.5";
    for (int64_t g = e.n_genes() - 1; g >= drop; --g) out << fmt::format("\t{}", e.at(c, g) + (c == 0 ? 0.25 : 0.0));
    out << '\n';
  }
  return file;
}

}  // namespace

TEST_CASE("TrainedRun: load rebuilds the training pathway index and reproduces the fold's test predictions") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  const TrainedRun ensemble = TrainedRun::load(t.run);
  CHECK(ensemble.n_models() == 2);
  CHECK(TrainedRun::available_folds(t.run) == std::vector<int>{0, 1});

  DataOptions data;
  data.data_dir = t.data;
  data.gmt = t.data / "pathways_kegg34.gmt";
  const PreparedData prepared = prepare_data(data);
  CHECK(ensemble.genes() == prepared.dataset.gene_symbols);
  CHECK(ensemble.pathway_ids() == prepared.pathways.ids);
  CHECK(ensemble.pathway_gene_indices().to_vector<int32_t>() == prepared.pathways.index.to_vector<int32_t>());

  // The fold's predictions.tsv (written by training on its own tensors) is reproduced by the
  // inference path: expression by symbol, index from run.json, drugs featurised again.
  PredictOptions o;
  o.run_dir = t.run / "fold_1";
  o.expression = t.data / "expression.tsv";
  o.drugs = t.data / "drugs.tsv";
  const PredictionTable p = run_predict(o);
  REQUIRE(p.prediction.size() == 40 * 12);
  const auto want = test::read_pair_table(t.run / "fold_1" / "predictions.tsv");
  REQUIRE(want.size() > 100);
  std::vector<double> got_v, want_v;
  for (size_t i = 0; i < p.prediction.size(); ++i) {
    auto it = want.find({p.cell_ids[i], p.drug_names[i]});
    if (it == want.end()) continue;
    got_v.push_back(p.prediction[i]);
    want_v.push_back(std::stod(it->second[3]));
  }
  CHECK(got_v.size() == want.size());
  CHECK_CLOSE_VALUES(got_v, want_v, 2e-6, 0);  // the file keeps 6 decimals
}

TEST_CASE("predict: an ensemble is the mean and sample sd of its single-fold predictions") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("predict_ensemble");
  PredictOptions o;
  o.expression = t.data / "expression.tsv";
  o.drugs = t.data / "drugs.tsv";
  o.batch_size = 37;  // batches that do not divide the pairs
  o.run_dir = t.run / "fold_0";
  const PredictionTable f0 = run_predict(o);
  o.run_dir = t.run;
  o.fold = 1;
  const PredictionTable f1 = run_predict(o);
  o.fold = -1;
  o.out = tmp.path() / "preds.tsv";
  const PredictionTable all = run_predict(o);
  REQUIRE(all.per_fold.size() == 2);
  CHECK(all.folds == std::vector<int>{0, 1});
  std::vector<double> mean, sd, got_mean, got_sd;
  for (size_t i = 0; i < all.prediction.size(); ++i) {
    const double a = f0.prediction[i], b = f1.prediction[i];
    mean.push_back(0.5 * (a + b));
    sd.push_back(std::abs(a - b) / std::sqrt(2.0));
    got_mean.push_back(all.prediction[i]);
    got_sd.push_back(all.sd[i]);
  }
  CHECK_CLOSE_VALUES(got_mean, mean, 1e-6, 1e-6);
  CHECK_CLOSE_VALUES(got_sd, sd, 1e-6, 1e-5);
  std::vector<std::string> header;
  const auto rows = test::read_pair_table(o.out, &header);
  CHECK(header == std::vector<std::string>{"cell_id", "drug_name", "prediction", "prediction_sd"});
  CHECK(rows.size() == 480);
}

TEST_CASE("predict: new cells and new SMILES; gene order and extra genes do not matter") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("predict_new");
  const fs::path drugs = tmp.write("drugs.tsv", fmt::format("drug_name\tsmiles\nOlaparib\t{}\nImatinib\t{}\n",
                                                            "C1CC1C(=O)N2CCN(CC2)C(=O)C3=C(C=CC(=C3)CC4=NNC(=O)C5=CC=CC=C54)F",
                                                            kImatinib));
  PredictOptions o;
  o.run_dir = t.run / "fold_0";
  o.drugs = drugs;

  // All training genes present, in reversed order plus an unknown one: same numbers as the original file.
  o.expression = write_new_expression(tmp.path() / "reordered.tsv", t.data, 0);
  const PredictionTable reordered = run_predict(o);
  o.expression = t.data / "expression.tsv";
  const std::string second = bio::read_expression(o.expression).samples()[1];
  o.pairs = tmp.write("pairs.tsv", fmt::format("cell_id\tdrug_name\n{0}\tOlaparib\n{0}\tImatinib\n", second));
  const PredictionTable original = run_predict(o);
  REQUIRE(reordered.prediction.size() == 3 * 2);
  CHECK(reordered.cell_ids[2] == second);
  CHECK(reordered.prediction[2] == original.prediction[0]);
  CHECK(reordered.prediction[3] == original.prediction[1]);

  // A new cell with 12 training genes missing: reported, filled with 0, finite predictions.
  o.expression = write_new_expression(tmp.path() / "new.tsv", t.data, 12);
  o.pairs = tmp.write("pairs2.tsv", "drug_name\tcell_id\tnote\nImatinib\tNEW-CELL\tx\nOlaparib\tNEW-CELL\ty\n");
  const TrainedRun run = TrainedRun::load(o.run_dir);
  const InferenceInputs inputs =
      run.prepare(bio::read_expression(o.expression), read_drugs_for_inference(drugs), InvalidDrugs::error);
  CHECK(inputs.missing_genes == 12);
  CHECK(inputs.missing_pathway_genes > 0);
  CHECK(inputs.missing_pathway_genes <= 12);
  CHECK(inputs.dataset.drug_fragments[1].size() >= 3);  // Imatinib fragmented on the fly
  const PredictionTable fresh = run_predict(o);
  REQUIRE(fresh.prediction.size() == 2);
  CHECK(fresh.cell_ids == std::vector<std::string>{"NEW-CELL", "NEW-CELL"});
  CHECK(fresh.drug_names == std::vector<std::string>{"Imatinib", "Olaparib"});
  for (float v : fresh.prediction) CHECK(std::isfinite(v));
  CHECK(fresh.prediction[0] != fresh.prediction[1]);
}

TEST_CASE("predict: errors name the file, line and id; bad SMILES fail or are skipped") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("predict_errors");
  PredictOptions o;
  o.run_dir = t.run;
  o.expression = t.data / "expression.tsv";
  o.drugs = t.data / "drugs.tsv";

  o.pairs = tmp.write("pairs.tsv", "cell_id\tdrug_name\nACH-000030\tOlaparib\nACH-999999\tOlaparib\n");
  std::string e = error_of([&] { run_predict(o); });
  CHECK_MESSAGE(e.find("pairs.tsv:3: unknown cell 'ACH-999999'") != std::string::npos, e);
  o.pairs = tmp.write("pairs2.tsv", "cell_id\tdrug_name\nACH-000030\tAspirinX\n");
  e = error_of([&] { run_predict(o); });
  CHECK_MESSAGE(e.find("pairs2.tsv:2: unknown drug 'AspirinX'") != std::string::npos, e);
  o.pairs = tmp.write("pairs3.tsv", "cell\tdrug_name\nACH-000030\tOlaparib\n");
  e = error_of([&] { run_predict(o); });
  CHECK_MESSAGE(e.find("cell_id") != std::string::npos, e);

  o.pairs.clear();
  o.drugs = tmp.write("drugs.tsv", fmt::format("drug_name\tsmiles\nImatinib\t{}\nBroken\tC1CC(\n", kImatinib));
  e = error_of([&] { run_predict(o); });
  CHECK_MESSAGE(e.find("drugs.tsv:3:") != std::string::npos, e);
  CHECK_MESSAGE(e.find("Broken") != std::string::npos, e);
  o.invalid_drugs = InvalidDrugs::skip;
  const PredictionTable skipped = run_predict(o);
  CHECK(skipped.prediction.size() == 40);
  o.pairs = tmp.write("pairs4.tsv", "cell_id\tdrug_name\nACH-000030\tBroken\n");
  e = error_of([&] { run_predict(o); });
  CHECK_MESSAGE(e.find("pairs4.tsv:2: drug 'Broken' was skipped") != std::string::npos, e);

  e = error_of([&] { TrainedRun::load(tmp.path()); });
  CHECK_MESSAGE(e.find("no run.json") != std::string::npos, e);
  e = error_of([&] { TrainedRun::load(t.run, 4); });
  CHECK_MESSAGE(e.find("no fold 4 (folds present: 0, 1)") != std::string::npos, e);
}

TEST_CASE("TrainedRun: fold_k/config.json is read and must agree with run.json") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("trained_run_config");
  const fs::path fold = tmp.path() / "fold_0";
  fs::copy(t.run / "fold_0", fold, fs::copy_options::recursive);
  CHECK_NOTHROW(TrainedRun::load(fold));
  nlohmann::json config;
  std::ifstream(fold / "config.json") >> config;
  config["head_dropout"] = 0.25;
  std::ofstream(fold / "config.json") << config.dump(2);
  std::string e = error_of([&] { TrainedRun::load(fold); });
  CHECK_MESSAGE(e.find("config.json") != std::string::npos, e);
  CHECK_MESSAGE(e.find("'head_dropout'") != std::string::npos, e);
  CHECK_MESSAGE(e.find("run.json") != std::string::npos, e);
  fs::remove(fold / "config.json");
  e = error_of([&] { TrainedRun::load(fold); });
  CHECK_MESSAGE(e.find("config.json") != std::string::npos, e);
}

TEST_CASE("predict: non-finite weights give non-finite predictions, reported as an error with the pairs") {
  const test::TinyRun& t = tiny_run();
  if (!t.ok) return;
  test::TempDir tmp("predict_nan_weights");
  const fs::path fold = tmp.path() / "fold_0";
  fs::copy(t.run / "fold_0", fold, fs::copy_options::recursive);
  SafetensorsFile w = load_safetensors((fold / "model.safetensors").string());
  // One NaN bias before the FFN's LayerNorm: the whole row becomes NaN, and ReLU must keep it
  // (it used to map NaN to 0, so predictions stayed finite and silently wrong).
  w.tensors.at("gene_ffn.fc1.bias").data<float>()[0] = std::numeric_limits<float>::quiet_NaN();
  save_safetensors((fold / "model.safetensors").string(), w.tensors);
  PredictOptions o;
  o.run_dir = fold;
  o.expression = t.data / "expression.tsv";
  o.drugs = t.data / "drugs.tsv";
  o.out = tmp.path() / "preds.tsv";
  const std::string e = error_of([&] { run_predict(o); });
  CHECK_MESSAGE(e.find("480 of 480 predictions are not finite") != std::string::npos, e);
  CHECK_MESSAGE(e.find("ACH-") != std::string::npos, e);
  CHECK(!fs::exists(o.out));
}
