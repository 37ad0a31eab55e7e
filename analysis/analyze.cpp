// `dispa analyze` (see analyze.h): attributions of a trained run's test pairs, then target
// concordance, structure vs context and pathway organisation; files and report.html.
#include "analysis/analyze.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include <fmt/format.h>

#include "analysis/analyze_results.h"
#include "analysis/statistics.h"
#include "analysis/target_map.h"
#include "bio/gmt.h"
#include "engine/log.h"
#include "train/data_pipeline.h"
#include "train/splits.h"
#include "train/svg_text.h"
#include "train/trained_run.h"
#include "train/tsv_reader.h"

namespace dispa::analysis {
namespace fs = std::filesystem;

namespace {

struct DrugAnnotation {
  std::string target_pathway = "NA", targets = "NA";
};

// target_pathway and targets of drugs.tsv by drug name (both optional columns).
std::map<std::string, DrugAnnotation> read_annotations(const fs::path& file) {
  train::TsvReader reader(file);
  const int name = reader.column("drug_name"), klass = reader.find_column("target_pathway"),
            targets = reader.find_column("targets");
  if (klass < 0) logging::warn("{} has no target_pathway column: target concordance and clustering are skipped", file.string());
  std::map<std::string, DrugAnnotation> out;
  while (reader.next())
    out[reader.field(name)] = {klass >= 0 ? reader.field(klass) : "NA", targets >= 0 ? reader.field(targets) : "NA"};
  return out;
}

// Per drug of `drugs`, the indices (into the model's pathways) of its targets under a definition;
// an empty set means the drug is not annotated under it.
using TargetSets = std::vector<std::vector<int>>;

// AUROC of target vs other pathways under `profile`; NaN when the set is empty or everything.
double target_auroc(const std::vector<double>& profile, const std::vector<int>& targets) {
  if (targets.empty() || targets.size() >= profile.size()) return std::nan("");
  std::vector<double> pos, neg;
  for (size_t p = 0; p < profile.size(); ++p)
    (std::find(targets.begin(), targets.end(), int(p)) != targets.end() ? pos : neg).push_back(profile[p]);
  return auroc(pos, neg);
}

// Concordance of one definition and method: observed per-class and overall mean AUROC, and the
// null from shuffling which drug carries which annotation (among the annotated drugs).
void concordance(const std::string& definition, Method m, const std::vector<AnalyzedDrug>& drugs,
                 const TargetSets& sets, int permutations, uint64_t seed, AnalyzeResults& out) {
  std::vector<size_t> annotated;
  for (size_t i = 0; i < drugs.size(); ++i)
    if (!sets[i].empty()) annotated.push_back(i);
  if (annotated.size() < 2) return;
  const size_t n = annotated.size();
  // A[i][j]: AUROC of drug i's profile for drug j's targets; the null only looks these up.
  std::vector<std::vector<double>> a(n, std::vector<double>(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) a[i][j] = target_auroc(drugs[annotated[i]].profile[size_t(m)], sets[annotated[j]]);
  // Classes: the target_pathway label (for "genes" too, so the tables line up), and "all".
  std::vector<std::string> klass(n);
  for (size_t i = 0; i < n; ++i) klass[i] = drugs[annotated[i]].target_pathway;
  std::set<std::string> classes(klass.begin(), klass.end());
  classes.insert("all");
  auto class_means = [&](const std::vector<size_t>& assigned) {  // assigned[i]: whose annotation drug i gets
    std::map<std::string, std::pair<double, int>> sums;
    for (size_t i = 0; i < n; ++i) {
      const double v = a[i][assigned[i]];
      if (std::isnan(v)) continue;
      for (const std::string& c : {klass[assigned[i]], std::string("all")}) {
        sums[c].first += v;
        sums[c].second += 1;
      }
    }
    return sums;
  };
  std::vector<size_t> identity(n);
  std::iota(identity.begin(), identity.end(), size_t{0});
  const auto observed = class_means(identity);
  std::map<std::string, std::vector<double>> null;
  for (int r = 0; r < permutations; ++r) {
    const auto perm = class_means(shuffled(identity, seed + uint64_t(r)));
    for (const auto& [c, s] : perm) null[c].push_back(s.first / s.second);
  }
  for (const std::string& c : classes) {
    const auto it = observed.find(c);
    if (it == observed.end()) continue;
    ConcordanceRow row{definition, method_name(m), c, it->second.second, it->second.first / it->second.second};
    const auto [nm, ns] = mean_sd(null[c]);
    row.null_mean = nm;
    row.null_sd = ns;
    row.p = empirical_p(row.mean_auroc, null[c]);
    out.concordance.push_back(row);
  }
  for (size_t i = 0; i < n; ++i) {
    const AnalyzedDrug& d = drugs[annotated[i]];
    const std::vector<double>& prof = d.profile[size_t(m)];
    int best = int(prof.size());
    for (int t : sets[annotated[i]]) best = std::min(best, rank_of(size_t(t), prof));
    out.drug_concordance.push_back({d.name, definition, method_name(m), int(sets[annotated[i]].size()), best, a[i][i]});
  }
}

// k-means on z-scored profiles (per pathway across drugs, then unit length per drug) of the drugs
// in classes with >= 3 members; ARI against the classes vs shuffled classes.
void clustering(Method m, const std::vector<AnalyzedDrug>& drugs, int permutations, uint64_t seed, AnalyzeResults& out) {
  std::map<std::string, int> count;
  for (const AnalyzedDrug& d : drugs) ++count[d.target_pathway];
  std::vector<size_t> kept;
  std::map<std::string, int> label_of;
  for (size_t i = 0; i < drugs.size(); ++i) {
    const std::string& c = drugs[i].target_pathway;
    if (c == "NA" || c == "Other" || c == "Unclassified" || count[c] < 3) continue;
    kept.push_back(i);
    label_of.emplace(c, int(label_of.size()));
  }
  const int k = int(label_of.size());
  if (k < 2) return;
  const size_t n = kept.size(), P = drugs[kept[0]].profile[size_t(m)].size();
  std::vector<double> x(n * P);
  for (size_t i = 0; i < n; ++i)
    for (size_t p = 0; p < P; ++p) x[i * P + p] = drugs[kept[i]].profile[size_t(m)][p];
  for (size_t p = 0; p < P; ++p) {
    std::vector<double> col(n);
    for (size_t i = 0; i < n; ++i) col[i] = x[i * P + p];
    const auto [mu, sd] = mean_sd(col);
    for (size_t i = 0; i < n; ++i) x[i * P + p] = sd > 0 ? (x[i * P + p] - mu) / sd : 0.0;
  }
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (size_t p = 0; p < P; ++p) norm += x[i * P + p] * x[i * P + p];
    for (size_t p = 0; p < P; ++p) x[i * P + p] /= norm > 0 ? std::sqrt(norm) : 1.0;
  }
  const std::vector<int> cluster = kmeans(x, int64_t(P), k, seed);
  std::vector<int> labels(n);
  for (size_t i = 0; i < n; ++i) labels[i] = label_of[drugs[kept[i]].target_pathway];
  ClusteringRow row{method_name(m), k, int(n), adjusted_rand_index(cluster, labels)};
  std::vector<double> null;
  for (int r = 0; r < permutations; ++r) null.push_back(adjusted_rand_index(cluster, shuffled(labels, seed + uint64_t(r))));
  std::tie(row.null_mean, row.null_sd) = mean_sd(null);
  row.p = empirical_p(row.ari, null);
  out.clustering.push_back(row);
}

std::string tsv_row(const std::vector<std::string>& fields) {
  std::string s;
  for (size_t i = 0; i < fields.size(); ++i) s += (i ? "\t" : "") + fields[i];
  return s + "\n";
}

void write_tables(const fs::path& dir, const AnalyzeResults& r) {
  std::string t = "target_pathway\tkegg_id\tkegg_name\tin_model\treason\n";
  for (const auto& row : r.target_map) t += tsv_row(row);
  train::svg::write_file(dir / "target_map.tsv", t);
  for (Method m : kMethods) {
    t = "drug_name\ttarget_pathway\tcells";
    for (const std::string& id : r.pathway_ids) t += "\t" + id;
    t += "\n";
    for (const AnalyzedDrug& d : r.drugs) {
      t += fmt::format("{}\t{}\t{}", d.name, d.target_pathway, d.cells);
      for (double v : d.profile[size_t(m)]) t += fmt::format("\t{:.6g}", v);
      t += "\n";
    }
    train::svg::write_file(dir / ("drug_pathway_" + method_name(m) + ".tsv"), t);
  }
  t = "definition\tmethod\ttarget_class\tdrugs\tmean_auroc\tnull_mean\tnull_sd\tp\n";
  for (const ConcordanceRow& c : r.concordance)
    t += fmt::format("{}\t{}\t{}\t{}\t{:.4f}\t{:.4f}\t{:.4f}\t{:.4g}\n", c.definition, c.method, c.target_class, c.drugs,
                     c.mean_auroc, c.null_mean, c.null_sd, c.p);
  train::svg::write_file(dir / "concordance.tsv", t);
  t = "drug_name\tdefinition\tmethod\ttargets\tauroc\tbest_rank\n";
  for (const DrugConcordance& c : r.drug_concordance)
    t += fmt::format("{}\t{}\t{}\t{}\t{:.4f}\t{}\n", c.drug, c.definition, c.method, c.targets, c.auroc, c.best_rank);
  train::svg::write_file(dir / "concordance_drugs.tsv", t);
  std::vector<const AnalyzedDrug*> ranked;
  for (const AnalyzedDrug& d : r.drugs) ranked.push_back(&d);
  std::stable_sort(ranked.begin(), ranked.end(), [](auto* a, auto* b) { return a->context_share > b->context_share; });
  t = "rank\tdrug_name\ttarget_pathway\tgroup\tcells\tmean_prediction\tcontext_sd\tstructure_rms\tcontext_share\t"
      "observed_sd\tdrug2path_entropy\n";
  for (size_t i = 0; i < ranked.size(); ++i) {
    const AnalyzedDrug& d = *ranked[i];
    t += fmt::format("{}\t{}\t{}\t{}\t{}\t{:.4f}\t{:.4f}\t{:.4f}\t{:.4f}\t{:.4f}\t{:.4f}\n", i + 1, d.name, d.target_pathway,
                     d.group, d.cells, d.mean_prediction, d.context_sd, d.structure_rms, d.context_share, d.observed_sd,
                     d.drug2path_entropy);
  }
  train::svg::write_file(dir / "drug_modes.tsv", t);
  t = "method\tk\tdrugs\tari\tnull_mean\tnull_sd\tp\n";
  for (const ClusteringRow& c : r.clustering)
    t += fmt::format("{}\t{}\t{}\t{:.4f}\t{:.4f}\t{:.4f}\t{:.4g}\n", c.method, c.k, c.drugs, c.ari, c.null_mean, c.null_sd, c.p);
  train::svg::write_file(dir / "clustering.tsv", t);
}

}  // namespace

nlohmann::json run_analyze(const AnalyzeOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  DISPA_CHECK(!o.out_dir.empty(), "analyze: --out DIR is required");
  DISPA_CHECK(o.cells_per_drug >= 0 && o.ig_steps >= 1 && o.permutations >= 1,
              "analyze: --cells-per-drug must be >= 0, --ig-steps and --permutations >= 1");
  int fold = o.fold;
  if (fold < 0 && !fs::exists(o.run_dir / "run.json")) fold = train::TrainedRun::available_folds(o.run_dir).front();
  train::TrainedRun run = train::TrainedRun::load(o.run_dir, fold);
  fold = run.fold(0);
  const fs::path root = fs::exists(o.run_dir / "split.tsv") ? o.run_dir : o.run_dir.parent_path();
  DISPA_CHECK(fs::exists(root / "split.tsv"), "analyze: no split.tsv in {} (the run folder of dispa train)", root.string());
  train::DataOptions data = run.data_options();
  if (!o.data_dir.empty()) {
    data.gmt = o.data_dir / data.gmt.filename();
    data.data_dir = o.data_dir;
  }
  logging::info("analyze: fold {} of {}; data {}", fold, root.string(), data.data_dir.string());
  train::PreparedData prepared = train::prepare_data(data);
  train::FeaturizedDataset& ds = prepared.dataset;
  DISPA_CHECK(ds.pathway_ids == run.pathway_ids() && ds.gene_symbols == run.genes(),
              "analyze: the data folder {} does not give the run's genes and pathways (another data version?)",
              data.data_dir.string());
  const train::Split split = train::read_split(root / "split.tsv", prepared.responses);
  const std::vector<int64_t> test = split.indices(fold, train::Role::test);

  // Test pairs per drug, at most cells_per_drug of them (a seeded sample), then ordered by cell so
  // a chunk's occluded cells are encoded once for several drugs.
  std::map<int32_t, std::vector<int64_t>> by_drug;
  for (int64_t k : test) by_drug[ds.pairs[size_t(k)].drug].push_back(k);
  std::vector<int64_t> chosen;
  for (auto& [drug, pairs] : by_drug) {
    std::vector<int64_t> s = shuffled(pairs, o.seed + uint64_t(drug));
    if (o.cells_per_drug > 0 && int(s.size()) > o.cells_per_drug) s.resize(size_t(o.cells_per_drug));
    chosen.insert(chosen.end(), s.begin(), s.end());
  }
  std::stable_sort(chosen.begin(), chosen.end(),
                   [&](int64_t a, int64_t b) { return ds.pairs[size_t(a)].cell < ds.pairs[size_t(b)].cell; });
  logging::info("analyze: {} test pairs of {} drugs (at most {} cells each)", chosen.size(), by_drug.size(),
                o.cells_per_drug);
  run.to(o.device);
  ds.to(o.device);
  Dispa& model = run.model(0);
  std::vector<int32_t> all_cells(ds.cell_ids.size());
  std::iota(all_cells.begin(), all_cells.end(), 0);
  const Tensor baseline = mean_pathway_tokens(model, ds, all_cells);
  AttributionOptions ao;
  ao.ig_steps = o.ig_steps;
  ao.interactions = false;
  ao.pairs_per_chunk = 64;  // cell-ordered: a chunk holds several drugs of each cell, whose occluded copies it shares
  const std::vector<PairAttribution> attributed = attribute_pairs(model, ds, chosen, baseline, ao);

  AnalyzeResults r;
  r.run = o.run_dir.string();
  r.fold = fold;
  r.permutations = o.permutations;
  r.cells_per_drug = o.cells_per_drug;
  r.ig_steps = o.ig_steps;
  r.pathway_ids = run.pathway_ids();
  r.pathway_names = run.pathway_descriptions();
  if (std::ifstream in(run.dir() / "metrics.json"); in.good()) r.test_metrics = nlohmann::json::parse(in, nullptr, false);
  const std::map<std::string, DrugAnnotation> annotations = read_annotations(data.data_dir / "drugs.tsv");
  std::map<int32_t, std::vector<PairAttribution>> per_drug;
  for (const PairAttribution& a : attributed) per_drug[a.drug].push_back(a);
  const size_t P = r.pathway_ids.size();
  for (const auto& [drug, pairs] : per_drug) {
    const AggregatedAttribution agg = aggregate(pairs);
    AnalyzedDrug d;
    d.name = ds.drug_names[size_t(drug)];
    if (auto it = annotations.find(d.name); it != annotations.end()) {
      d.target_pathway = it->second.target_pathway;
      d.targets = it->second.targets;
    } else {
      d.target_pathway = d.targets = "NA";
    }
    d.group = drug_group(d.target_pathway);
    d.cells = int(pairs.size());
    std::vector<double> observed;
    double frag_sq = 0;
    int64_t frag_n = 0;
    for (const PairAttribution& a : pairs) {
      observed.push_back(ds.pairs[size_t(a.pair_index)].ln_ic50);
      for (double v : a[Method::occlusion].fragment) frag_sq += v * v, ++frag_n;
    }
    d.observed_sd = mean_sd(observed).second;
    d.mean_prediction = mean_sd(agg.predictions).first;
    d.context_sd = mean_sd(agg.predictions).second;
    d.structure_rms = frag_n > 0 ? std::sqrt(frag_sq / double(frag_n)) : 0.0;
    const double c2 = d.context_sd * d.context_sd, s2 = d.structure_rms * d.structure_rms;
    d.context_share = c2 + s2 > 0 ? c2 / (c2 + s2) : 0.0;
    // Entropy of the Drug2Path map's magnitudes, normalised by log P (1 = spread evenly).
    const std::vector<double>& a2p = agg[Method::attention].pathway_mean;
    double total = 0, h = 0;
    for (double v : a2p) total += std::abs(v);
    for (double v : a2p)
      if (total > 0 && v != 0) h -= std::abs(v) / total * std::log(std::abs(v) / total);
    d.drug2path_entropy = P > 1 ? h / std::log(double(P)) : 0.0;
    for (Method m : kMethods) d.profile.push_back(agg[m].pathway(m));
    r.drugs.push_back(std::move(d));
  }

  // Target sets: by class (the map) and by target genes (GMT membership).
  const std::vector<TargetMapEntry> map = o.target_map.empty() ? default_target_map() : read_target_map(o.target_map);
  std::map<std::string, int> pathway_index;
  for (size_t p = 0; p < P; ++p) pathway_index[r.pathway_ids[p]] = int(p);
  std::map<std::string, std::string> kegg_names;
  const std::vector<bio::GeneSet> gmt = bio::read_gmt(data.gmt);
  for (const bio::GeneSet& s : gmt) kegg_names[s.id] = s.description;
  for (const TargetMapEntry& e : map)
    r.target_map.push_back({e.target_pathway, e.kegg_id, kegg_names.count(e.kegg_id) ? kegg_names[e.kegg_id] : "(not in the GMT)",
                            pathway_index.count(e.kegg_id) ? "yes" : "no", e.reason});
  TargetSets by_class(r.drugs.size()), by_genes(r.drugs.size());
  for (size_t i = 0; i < r.drugs.size(); ++i) {
    for (const TargetMapEntry& e : map)
      if (e.target_pathway == r.drugs[i].target_pathway && pathway_index.count(e.kegg_id))
        by_class[i].push_back(pathway_index[e.kegg_id]);
    const std::vector<std::string> genes = target_genes(r.drugs[i].targets);
    for (const bio::GeneSet& s : gmt) {
      if (!pathway_index.count(s.id)) continue;
      for (const std::string& g : s.genes)
        if (std::find(genes.begin(), genes.end(), g) != genes.end()) {
          by_genes[i].push_back(pathway_index[s.id]);
          break;
        }
    }
    std::sort(by_class[i].begin(), by_class[i].end());
    by_class[i].erase(std::unique(by_class[i].begin(), by_class[i].end()), by_class[i].end());
  }
  for (Method m : kMethods) {
    concordance("class", m, r.drugs, by_class, o.permutations, o.seed, r);
    concordance("genes", m, r.drugs, by_genes, o.permutations, o.seed + 1, r);
    clustering(m, r.drugs, o.permutations, o.seed, r);
  }

  // Structure vs context between the two compound groups.
  std::vector<double> cyto, targeted;
  std::vector<std::pair<double, bool>> both;
  for (const AnalyzedDrug& d : r.drugs) {
    if (d.group == "cytotoxic") cyto.push_back(d.context_share), both.emplace_back(d.context_share, true);
    if (d.group == "targeted") targeted.push_back(d.context_share), both.emplace_back(d.context_share, false);
  }
  if (!cyto.empty() && !targeted.empty()) {
    r.groups = {int(cyto.size()), int(targeted.size()), mean_sd(cyto).first, mean_sd(targeted).first, auroc(cyto, targeted)};
    std::vector<double> values;
    std::vector<int> is_cyto;
    for (const auto& [v, c] : both) values.push_back(v), is_cyto.push_back(c ? 1 : 0);
    std::vector<double> null;
    for (int k = 0; k < o.permutations; ++k) {
      const std::vector<int> s = shuffled(is_cyto, o.seed + 7 + uint64_t(k));
      std::vector<double> a, b;
      for (size_t i = 0; i < values.size(); ++i) (s[i] != 0 ? a : b).push_back(values[i]);
      null.push_back(std::abs(auroc(a, b) - 0.5));
    }
    r.groups.p = empirical_p(std::abs(r.groups.auroc - 0.5), null);  // two-sided
  }

  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fs::create_directories(o.out_dir);
  write_tables(o.out_dir, r);
  train::svg::write_file(o.out_dir / "report.html", analyze_report_html(r));
  nlohmann::json summary = {{"run", r.run}, {"fold", fold}, {"drugs", r.drugs.size()}, {"pairs", chosen.size()},
                            {"cells_per_drug", o.cells_per_drug}, {"ig_steps", o.ig_steps},
                            {"permutations", o.permutations}, {"seconds", r.seconds}};
  for (const ConcordanceRow& c : r.concordance)
    if (c.target_class == "all")
      summary["concordance"][c.definition][c.method] = {{"drugs", c.drugs}, {"mean_auroc", c.mean_auroc},
                                                         {"null_mean", c.null_mean}, {"p", c.p}};
  for (const ClusteringRow& c : r.clustering)
    summary["clustering"][c.method] = {{"k", c.k}, {"drugs", c.drugs}, {"ari", c.ari}, {"null_mean", c.null_mean}, {"p", c.p}};
  summary["structure_context"] = {{"cytotoxic", r.groups.cytotoxic},         {"targeted", r.groups.targeted},
                                  {"cytotoxic_mean", r.groups.cytotoxic_mean}, {"targeted_mean", r.groups.targeted_mean},
                                  {"auroc", r.groups.auroc},                 {"p", r.groups.p}};
  train::svg::write_file(o.out_dir / "summary.json", summary.dump(2) + "\n");
  logging::info("analyze: {} drugs in {:.0f} s; report in {}", r.drugs.size(), r.seconds, (o.out_dir / "report.html").string());
  return summary;
}

}  // namespace dispa::analysis
