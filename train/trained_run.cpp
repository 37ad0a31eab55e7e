// Loading a trained run back (see trained_run.h).
#include "train/trained_run.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <unordered_map>
#include <unordered_set>

#include <fmt/ranges.h>

#include "engine/io/text.h"
#include "engine/log.h"
#include "model/run_forward.h"

namespace dispa::train {
namespace fs = std::filesystem;

namespace {

nlohmann::json read_json(const fs::path& file) {
  const std::string text = io::read_text_file(file);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", file.string(), io::shorten(e.what(), 300));
  }
}

// The fold folders to load: (fold number, folder). A fold folder is recognised by its run.json.
std::vector<std::pair<int, fs::path>> fold_folders(const fs::path& run_dir, int fold) {
  DISPA_CHECK(fs::is_directory(run_dir), "run folder '{}' does not exist", run_dir.string());
  if (fs::exists(run_dir / "run.json")) {
    const nlohmann::json j = read_json(run_dir / "run.json");
    const int recorded = j.value("fold", 0);
    DISPA_CHECK(fold < 0 || fold == recorded, "{}: --fold {} asked, but this folder holds fold {}",
                (run_dir / "run.json").string(), fold, recorded);
    return {{recorded, run_dir}};
  }
  std::vector<std::pair<int, fs::path>> found;
  const std::regex pattern("fold_([0-9]+)");
  for (const fs::directory_entry& e : fs::directory_iterator(run_dir)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (e.is_directory() && std::regex_match(name, m, pattern) && fs::exists(e.path() / "run.json"))
      found.emplace_back(std::stoi(m[1].str()), e.path());
  }
  std::sort(found.begin(), found.end());
  DISPA_CHECK(!found.empty(),
              "'{}' is not a dispa run: it has no run.json and no fold_<k>/run.json (give the --out folder of "
              "dispa train or one of its fold_<k> folders)",
              run_dir.string());
  if (fold < 0) return found;
  for (const auto& f : found)
    if (f.first == fold) return {f};
  std::string have;
  for (const auto& f : found) have += (have.empty() ? "" : ", ") + std::to_string(f.first);
  fail("{}: no fold {} (folds present: {})", run_dir.string(), fold, have);
}

template <typename T>
T field(const nlohmann::json& j, const char* key, const fs::path& file) {
  DISPA_CHECK(j.contains(key), "{}: missing key '{}'", file.string(), key);
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception& e) {
    fail("{}: key '{}' has the wrong type: {}", file.string(), key, io::shorten(e.what(), 300));
  }
}

// fold_<k>/config.json (the model configuration alone, in `dispa forward`'s format) and the
// "model" of run.json describe one model: both are read, and a key that differs is an error.
void check_config_agrees(const fs::path& dir, const DispaConfig& from_run) {
  const fs::path file = dir / "config.json";
  DISPA_CHECK(fs::exists(file), "{}: missing (dispa train writes it beside run.json; this fold folder is incomplete)",
              file.string());
  const nlohmann::json a = load_dispa_config(file.string()).to_json(), b = from_run.to_json();
  for (const auto& [key, value] : a.items())
    DISPA_CHECK(value == b.at(key), "{}: '{}' is {} but {} has {}: the two files of this fold disagree",
                file.string(), key, io::shorten(value.dump()), (dir / "run.json").string(), io::shorten(b.at(key).dump()));
}

}  // namespace

std::vector<chem::DrugRecord> read_drugs_for_inference(const fs::path& path) {
  const chem::DrugTable table = chem::read_drug_table(path.string());
  DISPA_CHECK(table.problems.empty(), "{}:{}: {}{}", table.path, table.problems.empty() ? 0 : table.problems[0].line,
              table.problems.empty() ? "" : table.problems[0].message,
              table.problems.size() > 1 ? fmt::format(" (and {} more problems)", table.problems.size() - 1) : "");
  DISPA_CHECK(!table.drugs.empty(), "{}: no drugs", table.path);
  return table.drugs;
}

std::vector<int> TrainedRun::available_folds(const fs::path& run_dir) {
  std::vector<int> folds;
  for (const auto& f : fold_folders(run_dir, -1)) folds.push_back(f.first);
  return folds;
}

TrainedRun TrainedRun::load(const fs::path& run_dir, int fold) {
  TrainedRun run;
  run.dir_ = run_dir;
  nlohmann::json first;
  fs::path first_file;
  for (const auto& [k, dir] : fold_folders(run_dir, fold)) {
    const fs::path file = dir / "run.json";
    const nlohmann::json j = read_json(file);
    if (first.is_null()) {
      first = j;
      first_file = file;
      const std::string format = j.value("format", "");
      DISPA_CHECK(format == "dispa run 1", "{}: unknown run format '{}' (this dispa reads 'dispa run 1')",
                  file.string(), format);
      try {
        run.config_ = DispaConfig::from_json(field<nlohmann::json>(j, "model", file));
        run.data_ = DataOptions::from_json(field<nlohmann::json>(j, "data", file));
      } catch (const Error& e) {
        fail("{}: {}", file.string(), e.what());
      }
      run.genes_ = field<std::vector<std::string>>(j, "genes", file);
    } else {
      // An ensemble only makes sense over models that read the same inputs.
      for (const char* key : {"model", "data", "genes", "pathways"})
        DISPA_CHECK(j.value(key, nlohmann::json()) == first.value(key, nlohmann::json()),
                    "{}: '{}' differs from {}: the folds do not belong to one run", file.string(), key,
                    first_file.string());
    }
    check_config_agrees(dir, run.config_);
    const fs::path weights = dir / "model.safetensors";
    DISPA_CHECK(fs::exists(weights), "{}: no model.safetensors (is training of this fold unfinished?)", dir.string());
    run.models_.push_back(load_dispa(run.config_, weights.string()));
    run.models_.back()->eval();
    run.folds_.push_back(k);
  }

  // Pathway index over the training gene order, exactly as training built it (members in GMT order).
  const DispaConfig& c = run.config_;
  DISPA_CHECK(int64_t(run.genes_.size()) == c.genes, "{}: {} genes listed but the model expects {}",
              first_file.string(), run.genes_.size(), c.genes);
  std::unordered_map<std::string, int32_t> column;
  for (size_t g = 0; g < run.genes_.size(); ++g) column.emplace(run.genes_[g], int32_t(g));
  const auto pathways = field<nlohmann::json>(first, "pathways", first_file);
  DISPA_CHECK(pathways.is_array() && int64_t(pathways.size()) == c.pathways,
              "{}: {} pathways listed but the model expects {}", first_file.string(), pathways.size(), c.pathways);
  const int64_t P = c.pathways, S = c.max_genes_per_pathway;
  std::vector<int32_t> index(size_t(P * S), -1);
  int64_t widest = 0;
  for (int64_t p = 0; p < P; ++p) {
    const nlohmann::json& entry = pathways[size_t(p)];
    run.pathway_ids_.push_back(field<std::string>(entry, "id", first_file));
    run.pathway_descriptions_.push_back(entry.value("description", ""));
    const auto members = field<std::vector<std::string>>(entry, "genes", first_file);
    DISPA_CHECK(int64_t(members.size()) <= S, "{}: pathway {} has {} genes, more than the model's S = {}",
                first_file.string(), run.pathway_ids_.back(), members.size(), S);
    for (size_t s = 0; s < members.size(); ++s) {
      auto it = column.find(members[s]);
      DISPA_CHECK(it != column.end(), "{}: pathway {} lists gene '{}', which is not among the run's genes",
                  first_file.string(), run.pathway_ids_.back(), members[s]);
      index[size_t(p * S) + s] = it->second;
    }
    widest = std::max<int64_t>(widest, int64_t(members.size()));
  }
  DISPA_CHECK(widest == S, "{}: the largest pathway has {} genes but the model expects S = {}", first_file.string(),
              widest, S);
  run.pathway_index_ = Tensor::from_vector(index, {P, S});
  run.featurizer_ = std::make_unique<chem::DrugFeaturizer>(run.data_.drugs);
  DISPA_CHECK(run.featurizer_->global_dim() == c.drug_dim && run.featurizer_->fragment_dim() == c.fragment_dim(),
              "{}: drug features of the recorded options are {} / {} wide but the model expects {} / {}",
              first_file.string(), run.featurizer_->global_dim(), run.featurizer_->fragment_dim(), c.drug_dim,
              c.fragment_dim());
  logging::info("loaded {} model(s) from {} (folds {}): {} genes, {} pathways, L = {}", run.models_.size(),
                run_dir.string(), fmt::join(run.folds_, ", "), c.genes, c.pathways, c.max_substructures);
  return run;
}

void TrainedRun::to(Device device) {
  for (auto& m : models_) {
    m->to(device);
    m->eval();
  }
}

InferenceInputs TrainedRun::prepare(const bio::ExpressionMatrix& expression, const std::vector<chem::DrugRecord>& drugs,
                                    InvalidDrugs invalid, const std::string& drug_source) const {
  InferenceInputs out;
  FeaturizedDataset& ds = out.dataset;

  // Cells: columns matched by symbol; genes the file lacks are 0 (the mean of z-scored data).
  ds.cell_ids = expression.samples();
  ds.gene_symbols = genes_;
  ds.cell_expression = align_expression(expression, genes_, &out.missing_genes);
  std::unordered_set<int32_t> used;
  for (int32_t g : pathway_index_.to_vector<int32_t>())
    if (g >= 0) used.insert(g);
  std::vector<std::string> examples;
  for (size_t g = 0; g < genes_.size(); ++g) {
    if (expression.find_gene(genes_[g]) >= 0 || !used.count(int32_t(g))) continue;
    ++out.missing_pathway_genes;
    if (examples.size() < 6) examples.push_back(genes_[g]);
  }
  DISPA_CHECK(out.missing_genes < int64_t(genes_.size()),
              "{}: none of the run's {} genes is a column (expected gene symbols such as {}, {}; is the layout "
              "right?)",
              expression.source(), genes_.size(), genes_.front(), genes_.back());
  if (out.missing_pathway_genes > 0)
    logging::warn("{}: {} of the {} genes the model's pathways use are missing and set to 0 (e.g. {}){}",
                  expression.source(), out.missing_pathway_genes, used.size(), fmt::join(examples, ", "),
                  out.missing_genes > out.missing_pathway_genes
                      ? fmt::format("; {} other training genes missing too", out.missing_genes - out.missing_pathway_genes)
                      : "");
  else if (out.missing_genes > 0)
    logging::info("{}: {} training genes missing (none used by the pathways)", expression.source(), out.missing_genes);
  const int64_t extra = expression.n_genes() - (int64_t(genes_.size()) - out.missing_genes);
  if (extra > 0) logging::info("{}: {} genes the model was not trained on are ignored", expression.source(), extra);

  ds.pathway_ids = pathway_ids_;
  ds.pathway_gene_indices = pathway_index_;

  // Drugs: one featurisation each (new SMILES are fragmented here), stacked as the dataset's tables.
  const int64_t L = config_.max_substructures, Dd = config_.drug_dim, Df = config_.fragment_dim();
  std::vector<chem::DrugFeatures> features;
  for (const chem::DrugRecord& d : drugs) {
    try {
      features.push_back(featurizer_->featurize(d.name, d.smiles));
    } catch (const Error& e) {
      if (invalid == InvalidDrugs::error) fail("{}:{}: {}", drug_source, d.line, e.what());
      out.skipped_drugs.push_back(fmt::format("{} (line {}): {}", d.name, d.line, e.what()));
      continue;
    }
    ds.drug_names.push_back(d.name);
    ds.drug_fragments.push_back(features.back().fragment_smiles);
    out.n_fragments_total.push_back(features.back().n_fragments_total);
  }
  if (!out.skipped_drugs.empty())
    logging::warn("{}: skipped {} drug(s) that cannot be featurised: {}", drug_source, out.skipped_drugs.size(),
                  fmt::join(out.skipped_drugs.begin(),
                            out.skipped_drugs.begin() + std::min<ptrdiff_t>(3, ptrdiff_t(out.skipped_drugs.size())),
                            "; "));
  DISPA_CHECK(!features.empty(), "{}: no drug could be featurised", drug_source);
  const int64_t N = int64_t(features.size());
  std::vector<float> global(size_t(N * Dd)), fragments(size_t(N * L * Df)), mask(size_t(N * L));
  for (int64_t n = 0; n < N; ++n) {
    const chem::DrugFeatures& f = features[size_t(n)];
    std::copy_n(f.global.data<float>(), Dd, global.begin() + n * Dd);
    std::copy_n(f.fragments.data<float>(), L * Df, fragments.begin() + n * L * Df);
    std::copy_n(f.mask.data<float>(), L, mask.begin() + n * L);
  }
  ds.drug_global = Tensor::from_vector(global, {N, Dd});
  ds.drug_fragment_features = Tensor::from_vector(fragments, {N, L, Df});
  ds.drug_fragment_mask = Tensor::from_vector(mask, {N, L});
  return out;
}

void check_finite_predictions(const std::vector<std::vector<float>>& per_fold, const std::vector<int>& folds,
                              const FeaturizedDataset& ds) {
  size_t bad = 0, total = 0;
  std::vector<std::string> examples;
  for (size_t m = 0; m < per_fold.size(); ++m) {
    total += per_fold[m].size();
    for (size_t i = 0; i < per_fold[m].size(); ++i) {
      if (std::isfinite(per_fold[m][i])) continue;
      ++bad;
      if (examples.size() < 5) {
        const Pair& p = ds.pairs.at(i);
        examples.push_back(fmt::format("fold {}: {} x {} = {}", folds.at(m), io::shorten(ds.cell_ids[size_t(p.cell)]),
                                       io::shorten(ds.drug_names[size_t(p.drug)]), per_fold[m][i]));
      }
    }
  }
  DISPA_CHECK(bad == 0,
              "predict: {} of {} predictions are not finite (e.g. {}): the model's weights or the inputs hold NaN or "
              "infinite values; nothing was written",
              bad, total, fmt::join(examples, "; "));
}

}  // namespace dispa::train
