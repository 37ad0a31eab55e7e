// `dispa demo`: the built-in default job, needing no data files. It builds a synthetic
// pharmacogenomic dataset with planted fragment -> pathway effects:
//   * 16 real drug structures (kinase inhibitors and others), fragmented with our BRICS;
//   * 12 synthetic pathways over 120 genes; each cell has latent pathway activities a[c, p] ~ N(0, 1)
//     and expression x[c, g] = mean of the activities of g's pathways + noise, z-scored per gene;
//   * ln IC50[c, d] = drug potency + cell sensitivity + sum over planted (fragment f, pathway p)
//     with f in d of w * a[c, p] + noise: a drug carrying fragment f is more (or less) potent in
//     cells where pathway p is active, an interaction no additive model can express;
// trains DiSPA on a random 80/10/10 split and prints the model beside the baselines (drug mean, cell
// mean, additive, ridge on [expression, drug fingerprint]). `dispa demo` then asks whether raw
// attention and the attribution methods recover the planted pairs (analysis/demo_check.h).
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bio/gmt.h"
#include "model/dispa.h"
#include "train/dataset.h"
#include "train/response.h"
#include "train/splits.h"
#include "train/trainer.h"

namespace dispa::train {

struct DemoOptions {
  uint64_t seed = 7;
  int cells = 240;
  int epochs = 30;
  double effect = 1.5;          // w: planted effect size in ln IC50 units per SD of activity
  int planted_pairs = 4;
  std::string attention = "differential";  // or "vanilla" (the benchmark trains both)
  bool quick = false;           // fewer cells and epochs (for the test suite)
  Device device = Device::cpu();
  std::filesystem::path out_dir;  // optional: write the synthetic data folder and results here
};

// One planted fragment -> pathway effect: drugs carrying `fragment` get weight·a[c, pathway].
struct PlantedEffect {
  std::string fragment;
  std::vector<int> drugs;  // rows of the drug tables that carry it
  int pathway = 0;
  double weight = 0;
};

// The synthetic dataset, its split (fold 0 of 10 is the test set) and what was planted.
struct DemoData {
  DemoOptions options;  // after --quick
  FeaturizedDataset data;
  ResponseTable table;
  Split split;
  std::vector<int64_t> train, val, test;  // pair indices
  std::vector<PlantedEffect> planted;
  std::vector<bio::GeneSet> pathways;
  std::vector<double> activity;  // [cells, pathways] latent pathway activities
};
DemoData make_demo_data(const DemoOptions& options);

// The demo's model configuration (small: E = 32, 2 heads) for `data`, with options.attention.
DispaConfig demo_model_config(const DemoData& data);
// Trains a model on data.train (early stopping on data.val) on options.device.
struct DemoTraining {
  std::unique_ptr<Dispa> model;
  TrainResult result;
};
DemoTraining train_demo_model(DemoData& data);

struct DemoResult {
  nlohmann::json metrics;  // model and baselines on the test pairs, the planted effects (metrics.json)
  std::string report;      // the text printed by the command (metrics table, planted effects)
  std::shared_ptr<DemoData> data;  // the dataset and split, for analyses of the trained model
  std::shared_ptr<Dispa> model;    // the trained model (best validation weights)
};

// make_demo_data, train_demo_model, test metrics beside the baselines; with options.out_dir the
// synthetic data folder and metrics.json. Whether the planted effects are recovered is analysed
// above train/ (analysis/demo_check.h).
DemoResult run_demo(const DemoOptions& options);

}  // namespace dispa::train
