// Attribution tables as files (dispa explain --attributions; docs/commands.md lists the columns):
//
//   DIR/pathways.tsv      pathway_id, pathway_name, one column per method (per-pathway attribution)
//   DIR/fragments.tsv     fragment_index, fragment, one column per method (per-fragment attribution)
//   DIR/<method>.tsv      the fragment x pathway map: pathway_id, pathway_name, one column per
//                         fragment SMILES (only methods with a map)
//   DIR/summary.json      pair(s), prediction(s), the statistic each column holds, IG steps and baselines
//
// For one pair the values are the pair's; aggregated over cells, pathways.tsv and fragments.tsv
// have two columns per method, <method>_mean and <method>_mean_abs, and each map holds the
// method's summary statistic (signed mean for the attention methods, mean |.| otherwise).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "analysis/attribution.h"

namespace dispa::analysis {

struct AttributionLabels {
  std::vector<std::string> pathway_ids, pathway_names;
  std::vector<std::string> fragments;  // the drug's F real fragments
  std::string drug_name;
  std::vector<std::string> cell_ids;   // the cell of each pair
};

void write_pair_attributions(const std::filesystem::path& dir, const PairAttribution& pair,
                             const AttributionLabels& labels, const AttributionOptions& options);
void write_aggregated_attributions(const std::filesystem::path& dir, const AggregatedAttribution& agg,
                                   const AttributionLabels& labels, const AttributionOptions& options);

// Fragment column headers: the SMILES, made unique when one fragment occurs twice ("#2").
std::vector<std::string> fragment_headers(const std::vector<std::string>& fragments);

}  // namespace dispa::analysis
