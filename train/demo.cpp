#include "train/demo.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>

#include "bio/pathway_index.h"
#include "chem/drug_features.h"
#include "engine/autograd.h"
#include "engine/io/atomic_file.h"
#include "engine/log.h"
#include "model/dispa.h"
#include "train/baselines.h"
#include "train/dataset.h"
#include "train/metrics.h"
#include "train/splits.h"
#include "train/trainer.h"

namespace dispa::train {
namespace {

// Real structures (PubChem canonical SMILES); several share BRICS fragments (anilines, piperazines,
// morpholine, pyridines), which is what lets a fragment carry an effect across drugs.
const std::vector<std::pair<std::string, std::string>> kDemoDrugs = {
    {"Imatinib", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"},
    {"Gefitinib", "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"},
    {"Erlotinib", "COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC"},
    {"Lapatinib", "CS(=O)(=O)CCNCc1ccc(-c2ccc3ncnc(Nc4ccc(OCc5cccc(F)c5)c(Cl)c4)c3c2)o1"},
    {"Sorafenib", "CNC(=O)c1cc(Oc2ccc(NC(=O)Nc3ccc(Cl)c(C(F)(F)F)c3)cc2)ccn1"},
    {"Dasatinib", "Cc1nc(Nc2ncc(C(=O)Nc3c(C)cccc3Cl)s2)cc(N2CCN(CCO)CC2)n1"},
    {"Nilotinib", "Cc1cn(-c2cc(NC(=O)c3ccc(C)c(Nc4nccc(-c5cccnc5)n4)c3)cc(C(F)(F)F)c2)cn1"},
    {"Vemurafenib", "CCCS(=O)(=O)Nc1ccc(F)c(C(=O)c2c[nH]c3ncc(-c4ccc(Cl)cc4)cc23)c1F"},
    {"Olaparib", "O=C(c1cc(Cc2n[nH]c(=O)c3ccccc23)ccc1F)N1CCN(C(=O)C2CC2)CC1"},
    {"Tamoxifen", "CCC(=C(c1ccccc1)c1ccc(OCCN(C)C)cc1)c1ccccc1"},
    {"Methotrexate", "CN(Cc1cnc2nc(N)nc(N)c2n1)c1ccc(C(=O)NC(CCC(=O)O)C(=O)O)cc1"},
    {"Afatinib", "CN(C)C/C=C/C(=O)Nc1cc2c(Nc3ccc(F)c(Cl)c3)ncnc2cc1OC1CCOC1"},
    {"Bosutinib", "COc1cc(Nc2c(C#N)cnc3cc(OCCCN4CCN(C)CC4)c(OC)cc23)c(Cl)cc1Cl"},
    {"Axitinib", "CNC(=O)c1ccccc1Sc1ccc2c(/C=C/c3ccccn3)n[nH]c2c1"},
    {"Crizotinib", "CC(Oc1cc(-c2cnn(C3CCNCC3)c2)cnc1N)c1c(Cl)ccc(F)c1Cl"},
    {"Pazopanib", "Cc1ccc(Nc2nccc(N(C)c3ccc4c(C)n(C)nc4c3)n2)cc1S(N)(=O)=O"},
};

constexpr int kGenes = 120, kPathways = 12, kGenesPerPathway = 14;

struct Synthetic {
  std::vector<std::string> genes, cells, pathway_ids;
  std::vector<std::vector<int>> pathway_genes;  // gene columns per pathway
  std::vector<double> activity;                 // [cells, pathways]
  std::vector<float> expression;                // [cells, genes], z-scored per gene
};

Synthetic make_cells(int n_cells, uint64_t seed) {
  Synthetic s;
  for (int g = 0; g < kGenes; ++g) s.genes.push_back(fmt::format("GENE{:03d}", g + 1));
  for (int c = 0; c < n_cells; ++c) s.cells.push_back(fmt::format("CELL-{:04d}", c + 1));
  // Pathway p covers genes [10p, 10p + 14): consecutive pathways overlap by 4 genes, as real ones do.
  for (int p = 0; p < kPathways; ++p) {
    s.pathway_ids.push_back(fmt::format("PW{:02d}", p + 1));
    std::vector<int> members;
    for (int k = 0; k < kGenesPerPathway; ++k) members.push_back((10 * p + k) % kGenes);
    s.pathway_genes.push_back(members);
  }
  std::vector<std::vector<int>> pathways_of_gene(kGenes);
  for (int p = 0; p < kPathways; ++p)
    for (int g : s.pathway_genes[size_t(p)]) pathways_of_gene[size_t(g)].push_back(p);
  const std::vector<float> a = Tensor::normal({n_cells, kPathways}, 0, 1, seed, 0).to_vector<float>();
  const std::vector<float> noise = Tensor::normal({n_cells, kGenes}, 0, 0.5, seed, 1u << 20).to_vector<float>();
  s.activity.assign(a.begin(), a.end());
  s.expression.assign(size_t(n_cells) * kGenes, 0.0f);
  for (int c = 0; c < n_cells; ++c)
    for (int g = 0; g < kGenes; ++g) {
      double v = noise[size_t(c) * kGenes + g];
      for (int p : pathways_of_gene[size_t(g)]) v += a[size_t(c) * kPathways + p] / double(pathways_of_gene[size_t(g)].size());
      s.expression[size_t(c) * kGenes + g] = float(v);
    }
  for (int g = 0; g < kGenes; ++g) {  // z-score per gene, as the GDSC2 benchmark's expression
    double mean = 0, sq = 0;
    for (int c = 0; c < n_cells; ++c) mean += s.expression[size_t(c) * kGenes + g];
    mean /= n_cells;
    for (int c = 0; c < n_cells; ++c) sq += std::pow(s.expression[size_t(c) * kGenes + g] - mean, 2);
    const double sd = std::sqrt(sq / n_cells);
    for (int c = 0; c < n_cells; ++c)
      s.expression[size_t(c) * kGenes + g] = float((s.expression[size_t(c) * kGenes + g] - mean) / sd);
  }
  return s;
}

void write_file(const std::filesystem::path& file, const std::string& text) { io::write_file_atomically(file, text); }

}  // namespace

DemoData make_demo_data(const DemoOptions& options_in) {
  if (!options_in.out_dir.empty()) io::check_output_folder(options_in.out_dir, "--out");
  DemoData demo;
  DemoOptions& options = demo.options;
  options = options_in;
  if (options.quick) {
    options.cells = std::min(options.cells, 120);
    options.epochs = std::min(options.epochs, 12);
  }
  const uint64_t seed = options.seed;
  Synthetic syn = make_cells(options.cells, seed);

  // Drugs and their BRICS fragments.
  chem::DrugFeatureOptions feature_options;
  feature_options.fingerprint = {2, 256};
  feature_options.max_fragments = 17;
  const chem::DrugFeaturizer featurizer(feature_options);
  std::vector<chem::DrugRecord> records;
  for (const auto& [name, smiles] : kDemoDrugs) records.push_back({name, smiles, 0});
  FeaturizedDataset& data = demo.data;
  const chem::DrugFeatureBatch drug_batch = featurizer.featurize_all(records);
  data.drug_names = drug_batch.names;
  data.drug_global = drug_batch.global;
  data.drug_fragment_features = drug_batch.fragments;
  data.drug_fragment_mask = drug_batch.mask;
  for (const auto& r : records) data.drug_fragments.push_back(featurizer.featurize(r.name, r.smiles).fragment_smiles);

  // Planted fragments: shared by 2..6 drugs, most shared first (ties by SMILES), each on its own
  // pathway, with alternating signs.
  std::map<std::string, std::vector<int>> drugs_of_fragment;
  for (size_t d = 0; d < data.drug_fragments.size(); ++d)
    for (const std::string& f : data.drug_fragments[d]) drugs_of_fragment[f].push_back(int(d));
  std::vector<std::pair<std::string, std::vector<int>>> candidates;
  for (const auto& [f, ds] : drugs_of_fragment)
    if (ds.size() >= 2 && ds.size() <= 6) candidates.emplace_back(f, ds);
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  const int n_planted = std::min<int>(options.planted_pairs, int(candidates.size()));
  DISPA_CHECK(n_planted > 0, "demo: no fragment is shared by two or more demo drugs");
  std::vector<PlantedEffect>& planted = demo.planted;
  for (int k = 0; k < n_planted; ++k)
    planted.push_back({candidates[size_t(k)].first, candidates[size_t(k)].second, (3 * k + 1) % kPathways,
                       (k % 2 == 0 ? 1.0 : -1.0) * options.effect});

  // Responses for every cell x drug pair.
  const int n_cells = options.cells, n_drugs = int(kDemoDrugs.size());
  const auto potency = Tensor::normal({n_drugs}, 2.0, 1.5, seed, 2u << 20).to_vector<float>();
  const auto sensitivity = Tensor::normal({n_cells}, 0.0, 0.5, seed, 3u << 20).to_vector<float>();
  const auto noise = Tensor::normal({n_cells * n_drugs}, 0.0, 0.3, seed, 4u << 20).to_vector<float>();
  ResponseTable& table = demo.table;
  for (int c = 0; c < n_cells; ++c)
    for (int d = 0; d < n_drugs; ++d) {
      double y = potency[size_t(d)] + sensitivity[size_t(c)] + noise[size_t(c * n_drugs + d)];
      for (const PlantedEffect& p : planted)
        if (std::find(p.drugs.begin(), p.drugs.end(), d) != p.drugs.end())
          y += p.weight * syn.activity[size_t(c) * kPathways + p.pathway];
      table.add(syn.cells[size_t(c)], kDemoDrugs[size_t(d)].first, y);
    }
  data.cell_ids = syn.cells;
  data.gene_symbols = syn.genes;
  data.cell_expression = Tensor::from_vector(syn.expression, {n_cells, kGenes});
  for (int p = 0; p < kPathways; ++p) {
    bio::GeneSet set;
    set.id = syn.pathway_ids[size_t(p)];
    set.description = fmt::format("synthetic pathway {}", p + 1);
    for (int g : syn.pathway_genes[size_t(p)]) set.genes.push_back(syn.genes[size_t(g)]);
    set.n_listed = int64_t(set.genes.size());
    demo.pathways.push_back(set);
  }
  const bio::PathwayIndex index = bio::build_pathway_index(demo.pathways, syn.genes, {});
  data.pathway_ids = index.ids;
  data.pathway_gene_indices = index.index;
  for (const ResponsePair& p : table.pairs) data.pairs.push_back({p.cell, p.drug, float(p.ln_ic50)});
  demo.activity = syn.activity;

  // Random split: fold 0 of 10 is the test set (10 %), 10 % of the rest validates.
  KFoldOptions k;
  k.scheme = SplitScheme::random;
  k.folds = 10;
  k.seed = seed;
  k.val_fraction = 0.1;
  demo.split = kfold_split(table, k);
  demo.train = demo.split.indices(0, Role::train);
  demo.val = demo.split.indices(0, Role::val);
  demo.test = demo.split.indices(0, Role::test);
  return demo;
}

DispaConfig demo_model_config(const DemoData& demo) {
  DispaConfig config;
  config.embed_dim = 32;
  config.ffn_hidden = 64;
  config.attn_dim = 32;
  config.heads = 2;
  config.head_dims = {64, 32};
  config.ffn_dropout = 0.1;
  config.head_dropout = 0.1;
  config.attention = demo.options.attention;
  demo.data.fill_config(config);
  return config;
}

DemoTraining train_demo_model(DemoData& demo) {
  const DemoOptions& options = demo.options;
  demo.data.to(options.device);
  DemoTraining t;
  t.model = std::make_unique<Dispa>(demo_model_config(demo), options.seed);
  t.model->to(options.device);
  TrainerOptions trainer;
  trainer.epochs = options.epochs;
  trainer.batch_size = 128;
  trainer.learning_rate = 3e-3;
  trainer.weight_decay = 1e-5;
  trainer.early_stopping_patience = 8;
  trainer.plateau.patience = 3;
  trainer.seed = options.seed;
  logging::info("demo: {} cells x {} drugs, {} pathways over {} genes, {} planted fragment->pathway effects, {} attention",
                options.cells, demo.data.drug_names.size(), kPathways, kGenes, demo.planted.size(), options.attention);
  logging::info("demo: split {}", demo.split.describe(0));
  t.result = train_model(*t.model, demo.data, demo.train, demo.val, trainer);
  return t;
}

DemoResult run_demo(const DemoOptions& options_in) {
  DemoData demo = make_demo_data(options_in);
  const DemoOptions& options = demo.options;
  DemoTraining training = train_demo_model(demo);
  Dispa& model = *training.model;
  const TrainResult trained = training.result;
  const FeaturizedDataset& data = demo.data;
  const ResponseTable& table = demo.table;
  const Split& split = demo.split;
  const std::vector<int64_t>& test = demo.test;
  const std::vector<PlantedEffect>& planted = demo.planted;
  const int n_cells = options.cells, n_drugs = int(kDemoDrugs.size());

  // Test metrics beside the baselines.
  const std::vector<float> pred = predict_pairs(model, data, test, 256);
  std::vector<double> y, p;
  std::vector<int32_t> drug_of;
  for (size_t i = 0; i < test.size(); ++i) {
    y.push_back(table.pairs[size_t(test[i])].ln_ic50);
    p.push_back(pred[i]);
    drug_of.push_back(table.pairs[size_t(test[i])].drug);
  }
  const Metrics model_metrics = compute_metrics(y, p, drug_of);
  Matrix cell_features(n_cells, kGenes), drug_features(n_drugs, data.drug_global.dim(1));
  const auto expr = data.cell_expression.to(Device::cpu()).to_f64_vector();
  std::copy(expr.begin(), expr.end(), cell_features.data.begin());
  const auto fp = data.drug_global.to(Device::cpu()).to_f64_vector();
  std::copy(fp.begin(), fp.end(), drug_features.data.begin());
  PairFeatures pair_features{&cell_features, &drug_features};
  BaselineOptions baseline_options;
  baseline_options.ridge_features = &pair_features;
  const std::vector<BaselineResult> baselines = run_baselines(table, split, 0, baseline_options);

  DemoResult result;
  std::vector<std::pair<std::string, Metrics>> rows = {{"DiSPA", model_metrics}};
  for (const BaselineResult& b : baselines) rows.emplace_back(b.name, b.test);
  std::string report = fmt::format("\nDiSPA demo: test metrics on {} held-out pairs (best epoch {} of {})\n{}\n",
                                   test.size(), trained.best_epoch, trained.history.size(), metrics_table(rows));
  report += fmt::format("Planted fragment -> pathway effects (ln IC50 += weight x pathway activity in the drugs "
                        "carrying the fragment):\n");
  for (const PlantedEffect& e : planted)
    report += fmt::format("  {:<36} -> {}  weight {:+.2f}  in {} drugs\n", e.fragment, demo.pathways[size_t(e.pathway)].id,
                          e.weight, e.drugs.size());
  result.report = report;

  nlohmann::json metrics = metrics_to_json(model_metrics);
  metrics["baselines"] = baselines_to_json(baselines, Role::test);
  metrics["best_epoch"] = trained.best_epoch;
  metrics["planted_pairs"] = nlohmann::json::array();
  for (const PlantedEffect& e : planted)
    metrics["planted_pairs"].push_back(
        {{"fragment", e.fragment}, {"pathway", demo.pathways[size_t(e.pathway)].id}, {"weight", e.weight}});
  result.metrics = metrics;

  if (!options.out_dir.empty()) {  // the synthetic data as a data folder usable by `dispa train`
    namespace fs = std::filesystem;
    fs::create_directories(options.out_dir);
    std::string text = "cell_id";
    for (const auto& g : data.gene_symbols) text += "\t" + g;
    text += "\n";
    const std::vector<float> expression = data.cell_expression.to(Device::cpu()).to_vector<float>();
    for (int c = 0; c < n_cells; ++c) {
      text += data.cell_ids[size_t(c)];
      for (int g = 0; g < kGenes; ++g) text += fmt::format("\t{:.6g}", expression[size_t(c) * kGenes + g]);
      text += "\n";
    }
    write_file(options.out_dir / "expression.tsv", text);
    text = "cell_id\tdrug_name\tln_ic50\n";
    for (const ResponsePair& rp : table.pairs)
      text += fmt::format("{}\t{}\t{:.6f}\n", table.cell_ids[size_t(rp.cell)], table.drug_names[size_t(rp.drug)], rp.ln_ic50);
    write_file(options.out_dir / "response.tsv", text);
    text = "drug_name\tsmiles\n";
    for (const auto& [name, smiles] : kDemoDrugs) text += name + "\t" + smiles + "\n";
    write_file(options.out_dir / "drugs.tsv", text);
    text.clear();
    for (const bio::GeneSet& set : demo.pathways) {
      text += set.id + "\t" + set.description;
      for (const auto& g : set.genes) text += "\t" + g;
      text += "\n";
    }
    write_file(options.out_dir / "pathways_kegg.gmt", text);
    text = "fragment\tpathway\tweight\tdrugs\n";
    for (const PlantedEffect& p : planted) {
      std::string names;
      for (int d : p.drugs) names += (names.empty() ? "" : ",") + kDemoDrugs[size_t(d)].first;
      text += fmt::format("{}\t{}\t{}\t{}\n", p.fragment, demo.pathways[size_t(p.pathway)].id, p.weight, names);
    }
    write_file(options.out_dir / "planted.tsv", text);
    write_json_file(options.out_dir / "metrics.json", metrics);
  }
  result.model = std::move(training.model);
  result.data = std::make_shared<DemoData>(std::move(demo));
  return result;
}

}  // namespace dispa::train
