// The numbers `dispa analyze` computes (analyze.cpp) and reports (analyze_report.cpp), as plain
// tables. Method columns follow kMethods; every drug-level vector follows `drugs`.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/attribution.h"

namespace dispa::analysis {

struct AnalyzedDrug {
  std::string name, target_pathway, targets, group;  // group: cytotoxic, targeted, other
  int cells = 0;                                     // test cells attributed
  double mean_prediction = 0, observed_sd = 0;       // observed_sd: measured ln IC50 over those cells
  double context_sd = 0, structure_rms = 0, context_share = 0, drug2path_entropy = 0;
  std::vector<std::vector<double>> profile;          // [method][P]: per-pathway summary over cells
};

// Concordance of one target definition ("class" or "genes") and method, for one class or "all".
struct ConcordanceRow {
  std::string definition, method, target_class;
  int drugs = 0;
  double mean_auroc = 0, null_mean = 0, null_sd = 0, p = 1;
};
struct DrugConcordance {
  std::string drug, definition, method;
  int targets = 0, best_rank = 0;
  double auroc = 0;
};

struct ClusteringRow {
  std::string method;
  int k = 0, drugs = 0;
  double ari = 0, null_mean = 0, null_sd = 0, p = 1;
};

struct GroupComparison {  // context_share of cytotoxic vs targeted drugs
  int cytotoxic = 0, targeted = 0;
  double cytotoxic_mean = 0, targeted_mean = 0, auroc = 0, p = 1;  // auroc: P(cytotoxic > targeted)
};

struct AnalyzeResults {
  std::string run, command;
  int fold = 0, permutations = 0, cells_per_drug = 0, ig_steps = 0;
  nlohmann::json test_metrics;                    // the fold's metrics.json, if present
  std::vector<std::string> pathway_ids, pathway_names;
  std::vector<AnalyzedDrug> drugs;
  std::vector<std::vector<std::string>> target_map;  // rows: target_pathway, kegg_id, kegg_name, in_model, reason
  std::vector<ConcordanceRow> concordance;
  std::vector<DrugConcordance> drug_concordance;
  std::vector<ClusteringRow> clustering;
  GroupComparison groups;
  double seconds = 0;
};

// The self-contained report.html.
std::string analyze_report_html(const AnalyzeResults& results);

}  // namespace dispa::analysis
