#include "train/data_pipeline.h"

#include "chem/scaffold.h"
#include "engine/log.h"

namespace dispa::train {
namespace fs = std::filesystem;

nlohmann::json DataOptions::to_json() const {
  return {{"data_dir", data_dir.string()},
          {"gmt", gmt.string()},
          {"min_pathway_size", pathways.min_size},
          {"max_pathway_size", pathways.max_size},
          {"oversized_pathways", pathways.oversized == bio::OversizedSets::drop ? "drop" : "truncate"},
          {"max_fragments", drugs.max_fragments},
          {"fingerprint_radius", drugs.fingerprint.radius},
          {"fingerprint_bits", drugs.fingerprint.n_bits},
          {"descriptors", drugs.descriptors},
          {"unique_fragments", drugs.unique_fragments},
          {"components", std::string(chem::component_policy_name(drugs.components))},
          {"drug_feature_file", drugs.drug_feature_file},
          {"fragment_feature_file", drugs.fragment_feature_file}};
}

DataOptions DataOptions::from_json(const nlohmann::json& j) {
  DataOptions o;
  try {
    o.data_dir = j.at("data_dir").get<std::string>();
    o.gmt = j.at("gmt").get<std::string>();
    o.pathways.min_size = j.at("min_pathway_size");
    o.pathways.max_size = j.at("max_pathway_size");
    o.pathways.oversized = bio::parse_oversized_sets(j.at("oversized_pathways").get<std::string>());
    o.drugs.max_fragments = j.at("max_fragments");
    o.drugs.fingerprint.radius = j.at("fingerprint_radius");
    o.drugs.fingerprint.n_bits = j.at("fingerprint_bits");
    o.drugs.descriptors = j.at("descriptors");
    o.drugs.unique_fragments = j.at("unique_fragments");
    o.drugs.components = chem::parse_component_policy(j.at("components").get<std::string>());
    o.drugs.drug_feature_file = j.at("drug_feature_file");
    o.drugs.fragment_feature_file = j.at("fragment_feature_file");
  } catch (const nlohmann::json::exception& e) {
    fail("run.json: data options are incomplete or malformed: {}", e.what());
  }
  return o;
}

Tensor align_expression(const bio::ExpressionMatrix& expression, const std::vector<std::string>& genes,
                        int64_t* missing) {
  const int64_t n = expression.n_samples(), g = int64_t(genes.size());
  const Tensor values = expression.values().to(DType::f32);
  const float* src = values.data<float>();
  std::vector<float> out(size_t(n * g), 0.0f);
  int64_t absent = 0;
  for (int64_t j = 0; j < g; ++j) {
    const int64_t column = expression.find_gene(genes[size_t(j)]);
    if (column < 0) {
      ++absent;
      continue;
    }
    for (int64_t i = 0; i < n; ++i) out[size_t(i * g + j)] = src[i * expression.n_genes() + column];
  }
  if (missing) *missing = absent;
  return Tensor::from_vector(out, {n, g});
}

void featurize_drugs_into(const chem::DrugFeaturizer& featurizer, const std::vector<chem::DrugRecord>& drugs,
                          FeaturizedDataset& dataset, const std::string& drug_source) {
  const chem::DrugFeatureBatch batch = featurizer.featurize_all(drugs, drug_source);
  dataset.drug_names = batch.names;
  dataset.drug_global = batch.global;
  dataset.drug_fragment_features = batch.fragments;
  dataset.drug_fragment_mask = batch.mask;
  dataset.drug_fragments.clear();
  for (const chem::DrugRecord& d : drugs)
    dataset.drug_fragments.push_back(featurizer.featurize(d.name, d.smiles).fragment_smiles);
}

PreparedData prepare_data(const DataOptions& options) {
  const fs::path dir = options.data_dir;
  DISPA_CHECK(fs::is_directory(dir), "data folder '{}' does not exist", dir.string());
  const fs::path gmt = options.gmt.empty() ? dir / "pathways_kegg.gmt" : options.gmt;
  PreparedData out;

  logging::info("reading {}", (dir / "expression.tsv").string());
  const bio::ExpressionMatrix expression = bio::read_expression(dir / "expression.tsv", options.expression);
  const chem::DrugTable drug_table = chem::read_drug_table((dir / "drugs.tsv").string());
  DISPA_CHECK(drug_table.problems.empty(), "{}:{}: {}", drug_table.path,
              drug_table.problems.empty() ? 0 : drug_table.problems.front().line,
              drug_table.problems.empty() ? "" : drug_table.problems.front().message);

  std::unordered_set<std::string> known_cells(expression.samples().begin(), expression.samples().end());
  std::unordered_set<std::string> known_drugs;
  for (const chem::DrugRecord& d : drug_table.drugs) known_drugs.insert(d.name);
  ResponseReadOptions read_options;
  read_options.known_cells = &known_cells;
  read_options.known_drugs = &known_drugs;
  ResponseData responses = read_response(dir / "response.tsv", read_options);
  out.responses = std::move(responses.table);
  out.excluded = std::move(responses.excluded);
  if (out.excluded.total > 0) logging::warn("{}", out.excluded.summary());
  DISPA_CHECK(out.responses.size() > 0, "{}: no usable pairs", (dir / "response.tsv").string());

  // Cells in response order.
  FeaturizedDataset& ds = out.dataset;
  ds.cell_ids = out.responses.cell_ids;
  ds.gene_symbols = expression.genes();
  {
    const int64_t g = expression.n_genes();
    const Tensor values = expression.values().to(DType::f32);
    std::vector<float> rows(ds.cell_ids.size() * size_t(g));
    for (size_t i = 0; i < ds.cell_ids.size(); ++i) {
      const int64_t r = expression.sample_index(ds.cell_ids[i]);
      std::copy_n(values.data<float>() + r * g, g, rows.begin() + ptrdiff_t(i * size_t(g)));
    }
    ds.cell_expression = Tensor::from_vector(rows, {int64_t(ds.cell_ids.size()), g});
  }

  logging::info("reading {}", gmt.string());
  const std::vector<bio::GeneSet> sets = bio::read_gmt(gmt, options.expression.symbol_case);
  out.pathways = bio::build_pathway_index(sets, expression.genes(), options.pathways);
  ds.pathway_ids = out.pathways.ids;
  ds.pathway_gene_indices = out.pathways.index;

  // Drugs in response order, featurised (BRICS fragments + fingerprints).
  std::unordered_map<std::string, const chem::DrugRecord*> by_name;
  for (const chem::DrugRecord& d : drug_table.drugs) by_name[d.name] = &d;
  std::vector<chem::DrugRecord> drugs;
  for (const std::string& name : out.responses.drug_names) drugs.push_back(*by_name.at(name));
  logging::info("featurising {} drugs (BRICS fragments, Morgan r={} {} bits)", drugs.size(),
                options.drugs.fingerprint.radius, options.drugs.fingerprint.n_bits);
  const chem::DrugFeaturizer featurizer(options.drugs);
  featurize_drugs_into(featurizer, drugs, ds, (dir / "drugs.tsv").string());
  for (const chem::DrugRecord& d : drugs)
    out.scaffold_of_drug[d.name] =
        chem::murcko_scaffold_smiles(chem::parse_smiles(d.smiles, d.name, options.drugs.components).molecule);

  ds.pairs.reserve(out.responses.pairs.size());
  for (const ResponsePair& p : out.responses.pairs) ds.pairs.push_back({p.cell, p.drug, float(p.ln_ic50)});

  if (fs::exists(dir / "cells.tsv")) out.lineage_of_cell = read_cell_annotations(dir / "cells.tsv").lineage_map();
  logging::info("dataset: {} pairs, {} cells x {} genes, {} pathways (S = {}), {} drugs (L = {}, Dd = {})",
                ds.pairs.size(), ds.cell_ids.size(), ds.gene_symbols.size(), ds.pathway_ids.size(),
                ds.pathway_gene_indices.dim(1), ds.drug_names.size(), ds.drug_fragment_features.dim(1),
                ds.drug_global.dim(1));
  return out;
}

}  // namespace dispa::train
