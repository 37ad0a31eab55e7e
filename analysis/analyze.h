// `dispa analyze`: what a trained GDSC2 run's attributions say about mechanism, on the run's own
// test pairs (one fold). Every drug's attributions are averaged over its test cells (at most
// cells_per_drug of them, a seeded sample), then:
//
//  1. Target concordance (target_map.h): each drug's annotated target pathways (GDSC
//     target_pathway -> KEGG, or the KEGG sets containing its target genes) against its
//     per-pathway attribution profile: per drug the AUROC of target vs other pathways; mean per
//     target class and overall, each with an empirical p-value against a null in which the drugs'
//     target annotations are shuffled among the annotated drugs.
//  2. Structure-driven vs context-dependent compounds: context_sd = sd over the drug's test cells
//     of the predicted ln IC50; structure_rms = root mean square over cells and fragments of the
//     fragment-occlusion effect; context_share = context_sd² / (context_sd² + structure_rms²)
//     (1 = the cell decides, 0 = the fragments decide). Ranked, plotted, and compared between
//     cytotoxic / DNA-damage classes and targeted kinase-inhibitor classes (AUROC, permutation p).
//  3. Pathway organisation: drugs clustered (k-means, k = number of classes) on their z-scored
//     pathway profiles; adjusted Rand index against target_pathway vs shuffled labels.
//
// Files (DIR): report.html (self-contained, SVG inline), summary.json, target_map.tsv,
// drug_pathway_<method>.tsv, concordance_drugs.tsv, concordance.tsv, drug_modes.tsv,
// clustering.tsv (docs/commands.md lists the columns).
#pragma once
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/dtype.h"

namespace dispa::analysis {

struct AnalyzeOptions {
  std::filesystem::path run_dir;   // run folder (holds split.tsv and fold_<k>/) or one fold_<k>/ folder
  int fold = -1;                   // default: the first fold present
  std::filesystem::path data_dir;  // default: the run's recorded data folder
  std::filesystem::path target_map;  // TSV target_pathway -> KEGG id; default: the built-in table
  std::filesystem::path out_dir;
  int cells_per_drug = 32;         // test cells attributed per drug (0 = all)
  int ig_steps = 8;
  int permutations = 1000;
  uint64_t seed = 0;
  Device device = Device::cpu();
};

// Runs everything and writes DIR; returns summary.json's content.
nlohmann::json run_analyze(const AnalyzeOptions& options);

}  // namespace dispa::analysis
