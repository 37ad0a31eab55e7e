// report.html of dispa analyze (see analyze.h): the tables and figures of AnalyzeResults in one
// self-contained page.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include <fmt/format.h>

#include "analysis/analyze_results.h"
#include "analysis/attention_svg.h"
#include "analysis/html_report.h"
#include "analysis/statistics.h"
#include "analysis/svg_scatter.h"

namespace dispa::analysis {
namespace {

std::string num(double v, int digits = 3) { return std::isfinite(v) ? fmt::format("{:.{}f}", v, digits) : "NA"; }
std::string pval(double p) { return p < 0.001 ? fmt::format("{:.1e}", p) : fmt::format("{:.3f}", p); }

void overview(HtmlReport& h, const AnalyzeResults& r) {
  h.paragraph(fmt::format("Run {} (fold {}): {} drugs, each attributed on at most {} of its test cells "
                          "({} pairs in all); integrated gradients with {} steps; {} label permutations per null; "
                          "{:.0f} s on this machine.",
                          r.run, r.fold, r.drugs.size(), r.cells_per_drug == 0 ? std::string("all") : std::to_string(r.cells_per_drug),
                          [&] { int n = 0; for (const auto& d : r.drugs) n += d.cells; return n; }(), r.ig_steps,
                          r.permutations, r.seconds));
  if (r.test_metrics.is_object() && r.test_metrics.contains("rmse")) {
    std::vector<std::vector<std::string>> rows;
    auto row = [&](const std::string& name, const nlohmann::json& m) {
      rows.push_back({name, num(m.value("rmse", NAN)), num(m.value("pearson", NAN)), num(m.value("spearman", NAN)),
                      num(m.value("per_drug_pearson_mean", NAN))});
    };
    row("DiSPA", r.test_metrics);
    if (r.test_metrics.contains("baselines"))
      for (const auto& [name, m] : r.test_metrics["baselines"].items()) row(name, m);
    h.table({"model", "RMSE", "Pearson", "Spearman", "per-drug Pearson"}, rows, "The fold's test metrics (metrics.json)");
  }
  h.paragraph("Methods (analysis/attribution.h): attention = the Drug2Path map (the drug's attention on each pathway, "
              "head mean); attention_rollout = Drug2Path-weighted Path2Sub maps summed over fragments; grad_input = "
              "gradient x input on the pathway tokens; integrated_gradients = the same integrated from the mean "
              "pathway token of all cells; occlusion = change of the prediction when the pathway's genes are set to 0. "
              "Per drug the attention methods are averaged over cells with their sign, the others as magnitudes.");
}

void concordance_section(HtmlReport& h, const AnalyzeResults& r) {
  h.heading("1. Target concordance");
  h.paragraph("For every drug with a known target, the AUROC of its target pathways against all other pathways under "
              "its attribution profile (0.5 = no preference). The null shuffles which drug carries which target "
              "annotation, so pathways that score high for every drug do not count as concordance.");
  std::vector<std::vector<std::string>> rows;
  BarChartSvg bars;
  bars.title = "Target concordance: mean AUROC above the shuffled-label null";
  bars.subtitle = "all annotated drugs; class = GDSC target_pathway mapped to KEGG, genes = KEGG sets holding a target gene";
  bars.value_label = "mean AUROC - null mean";
  for (const ConcordanceRow& c : r.concordance) {
    if (c.target_class != "all") continue;
    rows.push_back({c.definition, c.method, std::to_string(c.drugs), num(c.mean_auroc), num(c.null_mean) + " ± " + num(c.null_sd),
                    pval(c.p)});
    bars.labels.push_back(c.definition + " / " + c.method);
    bars.values.push_back(float(c.mean_auroc - c.null_mean));
  }
  h.table({"targets by", "method", "drugs", "mean AUROC", "null (shuffled labels)", "p"}, rows, "All annotated drugs");
  if (!bars.labels.empty()) h.figure(bar_chart_svg(bars), "Excess AUROC over the null per target definition and method.");
  // Per class, target definition "class": one column per method.
  std::map<std::string, std::map<std::string, std::string>> cell;
  std::map<std::string, int> drugs;
  std::vector<std::string> methods;
  for (const ConcordanceRow& c : r.concordance) {
    if (c.definition != "class" || c.target_class == "all") continue;
    cell[c.target_class][c.method] = fmt::format("{} (p {})", num(c.mean_auroc), pval(c.p));
    drugs[c.target_class] = c.drugs;
    if (std::find(methods.begin(), methods.end(), c.method) == methods.end()) methods.push_back(c.method);
  }
  std::vector<std::vector<std::string>> class_rows;
  for (const auto& [klass, by_method] : cell) {
    std::vector<std::string> row = {klass, std::to_string(drugs[klass])};
    for (const std::string& m : methods) row.push_back(by_method.count(m) ? by_method.at(m) : "");
    class_rows.push_back(row);
  }
  std::vector<std::string> header = {"target_pathway", "drugs"};
  header.insert(header.end(), methods.begin(), methods.end());
  if (!class_rows.empty()) h.table(header, class_rows, "Mean AUROC per target class (targets by class), with p");
  std::vector<std::vector<std::string>> map_rows;
  for (const auto& row : r.target_map) map_rows.push_back({row[0], row[1], row[2], row[3]});
  h.table({"GDSC target_pathway", "KEGG id", "KEGG pathway", "in model"}, map_rows, "The target map (target_map.tsv)");
}

void modes_section(HtmlReport& h, const AnalyzeResults& r) {
  h.heading("2. Structure-driven vs context-dependent compounds");
  h.paragraph("context_sd = sd over the drug's test cells of its predicted ln IC50 (how much the cell moves the "
              "prediction); structure_rms = root mean square over cells and fragments of the change when one "
              "fragment is masked (how much single fragments move it); context_share = context_sd² / (context_sd² + "
              "structure_rms²): near 1 the cell decides, near 0 the structure does.");
  const GroupComparison& g = r.groups;
  if (g.cytotoxic > 0 && g.targeted > 0)
    h.paragraph(fmt::format("Cytotoxic / DNA-damage classes ({} drugs) have mean context_share {}; targeted kinase-"
                            "inhibitor classes ({} drugs) {}; AUROC(cytotoxic > targeted) = {}, two-sided permutation p = {}.",
                            g.cytotoxic, num(g.cytotoxic_mean), g.targeted, num(g.targeted_mean), num(g.auroc), pval(g.p)));
  std::vector<const AnalyzedDrug*> ranked;
  for (const AnalyzedDrug& d : r.drugs) ranked.push_back(&d);
  std::stable_sort(ranked.begin(), ranked.end(), [](auto* a, auto* b) { return a->context_share > b->context_share; });
  ScatterSvg s;
  s.title = "Context vs structure per drug";
  s.subtitle = "each point a drug; dashed: context_share = 0.5; labelled: the 6 largest of each axis";
  s.x_label = "structure_rms (fragment occlusion, ln IC50)";
  s.y_label = "context_sd (sd of prediction over cells, ln IC50)";
  s.group_names = {"cytotoxic / DNA damage", "targeted kinase inhibitors", "other"};
  for (size_t i = 0; i < ranked.size(); ++i) {
    const AnalyzedDrug& d = *ranked[i];
    s.x.push_back(d.structure_rms);
    s.y.push_back(d.context_sd);
    s.labels.push_back(d.name + " (" + d.target_pathway + ")");
    s.group.push_back(d.group == "cytotoxic" ? 0 : d.group == "targeted" ? 1 : 2);
  }
  s.diagonal = true;
  // Label the drugs that stand out on either axis (the crowd near the origin stays unlabelled).
  s.labelled.assign(s.x.size(), false);
  for (const std::vector<double>* axis : {&s.x, &s.y}) {
    std::vector<size_t> idx(axis->size());
    std::iota(idx.begin(), idx.end(), size_t{0});
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return (*axis)[a] > (*axis)[b]; });
    for (size_t i = 0; i < std::min<size_t>(6, idx.size()); ++i) s.labelled[idx[i]] = true;
  }
  if (!s.x.empty()) h.figure(scatter_svg(s), "Drugs above the dashed diagonal are context-dependent, below it structure-driven.");
  BarChartSvg bars;
  bars.title = "context_share, ranked: the 15 highest and the 15 lowest";
  bars.value_label = "context_share";
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (i < 15 || i + 15 >= ranked.size()) {
      bars.labels.push_back(ranked[i]->name + " (" + ranked[i]->target_pathway + ")");
      bars.values.push_back(float(ranked[i]->context_share));
    } else if (i == 15) {
      bars.labels.push_back(fmt::format("... {} drugs between ...", ranked.size() - 30));
      bars.values.push_back(NAN);
    }
  }
  if (!bars.labels.empty()) h.figure(bar_chart_svg(bars), "Full ranked list: drug_modes.tsv.");
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < ranked.size(); ++i)
    if (i < 10 || i + 10 >= ranked.size())
      rows.push_back({std::to_string(i + 1), ranked[i]->name, ranked[i]->target_pathway, ranked[i]->group,
                      num(ranked[i]->context_share), num(ranked[i]->context_sd), num(ranked[i]->structure_rms),
                      num(ranked[i]->observed_sd)});
  h.table({"rank", "drug", "target_pathway", "group", "context_share", "context_sd", "structure_rms", "observed sd"},
          rows, "Top and bottom 10 (observed sd: measured ln IC50 over the same cells)");
}

void organisation_section(HtmlReport& h, const AnalyzeResults& r) {
  h.heading("3. Pathway organisation");
  h.paragraph("Drugs of target classes with at least 3 members, clustered by k-means (k = number of classes) on "
              "their pathway profiles z-scored per pathway across drugs; adjusted Rand index (ARI) against the "
              "classes, and against the classes shuffled among the drugs.");
  std::vector<std::vector<std::string>> rows;
  for (const ClusteringRow& c : r.clustering)
    rows.push_back({c.method, std::to_string(c.drugs), std::to_string(c.k), num(c.ari), num(c.null_mean) + " ± " + num(c.null_sd),
                    pval(c.p)});
  h.table({"method", "drugs", "k", "ARI", "null (shuffled classes)", "p"}, rows);
  // Class-mean z-scored profiles (integrated gradients) over the 25 most class-dependent pathways.
  const size_t m = size_t(Method::integrated_gradients), P = r.pathway_ids.size();
  std::map<std::string, std::vector<const AnalyzedDrug*>> by_class;
  for (const AnalyzedDrug& d : r.drugs)
    if (d.target_pathway != "NA" && d.target_pathway != "Other" && d.target_pathway != "Unclassified")
      by_class[d.target_pathway].push_back(&d);
  for (auto it = by_class.begin(); it != by_class.end();) it = it->second.size() < 3 ? by_class.erase(it) : std::next(it);
  if (by_class.size() < 2 || P == 0) return;
  std::vector<double> mu(P, 0.0), sd(P, 0.0);
  for (size_t p = 0; p < P; ++p) {
    std::vector<double> col;
    for (const AnalyzedDrug& d : r.drugs) col.push_back(d.profile[m][p]);
    std::tie(mu[p], sd[p]) = mean_sd(col);
  }
  std::vector<std::vector<double>> class_mean;
  for (const auto& [klass, drugs] : by_class) {
    std::vector<double> v(P, 0.0);
    for (const AnalyzedDrug* d : drugs)
      for (size_t p = 0; p < P; ++p) v[p] += (sd[p] > 0 ? (d->profile[m][p] - mu[p]) / sd[p] : 0.0) / double(drugs.size());
    class_mean.push_back(v);
  }
  std::vector<size_t> order(P);
  std::vector<double> spread(P);
  for (size_t p = 0; p < P; ++p) {
    std::vector<double> col;
    for (const auto& v : class_mean) col.push_back(v[p]);
    spread[p] = mean_sd(col).second;
    order[p] = p;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return spread[a] > spread[b]; });
  order.resize(std::min<size_t>(25, P));
  HeatmapSvg heat;
  heat.title = "Class-mean pathway profiles (integrated gradients, z-scored per pathway)";
  heat.subtitle = "the 25 pathways whose class means differ most";
  heat.row_axis = "target class";
  heat.column_axis = "KEGG pathway";
  heat.value_label = "z";
  for (const auto& [klass, drugs] : by_class) heat.row_labels.push_back(fmt::format("{} ({})", klass, drugs.size()));
  for (size_t p : order) heat.column_labels.push_back(r.pathway_names[p].empty() ? r.pathway_ids[p] : r.pathway_names[p]);
  for (const auto& v : class_mean)
    for (size_t p : order) heat.values.push_back(float(v[p]));
  h.figure(heatmap_svg(heat), "Red: the class's drugs attribute more to the pathway than drugs on average.");
}

}  // namespace

std::string analyze_report_html(const AnalyzeResults& r) {
  HtmlReport h("DiSPA mechanisms: " + r.run);
  overview(h, r);
  concordance_section(h, r);
  modes_section(h, r);
  organisation_section(h, r);
  h.heading("Files");
  h.paragraph("target_map.tsv, drug_pathway_<method>.tsv, concordance.tsv, concordance_drugs.tsv, drug_modes.tsv, "
              "clustering.tsv and summary.json hold every number on this page (docs/commands.md, dispa analyze).");
  return h.str();
}

}  // namespace dispa::analysis
