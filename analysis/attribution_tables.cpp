// Attribution tables as files (see attribution_tables.h).
#include "analysis/attribution_tables.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "train/svg_text.h"

namespace dispa::analysis {
namespace fs = std::filesystem;

std::vector<std::string> fragment_headers(const std::vector<std::string>& fragments) {
  std::vector<std::string> out;
  for (size_t f = 0; f < fragments.size(); ++f) {
    const auto n = std::count(fragments.begin(), fragments.begin() + ptrdiff_t(f), fragments[f]);
    out.push_back(n == 0 ? fragments[f] : fmt::format("{}#{}", fragments[f], n + 1));
  }
  return out;
}

namespace {

// One value column of pathways.tsv / fragments.tsv.
struct Column {
  std::string name;
  const std::vector<double>* values;
};

void write_rows(const fs::path& file, const std::string& id_header, const std::string& name_header,
                const std::vector<std::string>& ids, const std::vector<std::string>& names,
                const std::vector<Column>& columns) {
  std::string text = id_header + "\t" + name_header;
  for (const Column& c : columns) text += "\t" + c.name;
  text += "\n";
  for (size_t i = 0; i < ids.size(); ++i) {
    text += ids[i] + "\t" + names[i];
    for (const Column& c : columns) text += fmt::format("\t{:.6g}", c.values->at(i));
    text += "\n";
  }
  train::svg::write_file(file, text);
}

void write_map(const fs::path& file, const std::vector<double>& map, const AttributionLabels& labels) {
  const size_t P = labels.pathway_ids.size(), F = labels.fragments.size();
  std::string text = "pathway_id\tpathway_name";
  for (const std::string& h : fragment_headers(labels.fragments)) text += "\t" + h;
  text += "\n";
  for (size_t p = 0; p < P; ++p) {
    text += labels.pathway_ids[p] + "\t" + labels.pathway_names[p];
    for (size_t f = 0; f < F; ++f) text += fmt::format("\t{:.6g}", map.at(p * F + f));
    text += "\n";
  }
  train::svg::write_file(file, text);
}

std::vector<std::string> fragment_indices(size_t F) {
  std::vector<std::string> out;
  for (size_t f = 0; f < F; ++f) out.push_back(std::to_string(f));
  return out;
}

nlohmann::json method_notes(const AttributionOptions& o) {
  return {{"attention", "Path2Sub map A[p,f] (head mean); per pathway: Drug2Path a[p]; per fragment: mean over pathways"},
          {"attention_rollout", "a[p]*A[p,f]; per pathway: sum over fragments; per fragment: sum over pathways"},
          {"grad_input", "sum over the embedding of token * d prediction / d token; map: pathway value minus the same "
                         "with the fragment masked"},
          {"integrated_gradients",
           fmt::format("midpoint rule, {} steps; baselines: pathway tokens -> mean pathway token of the reference "
                       "cells, fragment tokens -> 0; map as grad_input",
                       o.ig_steps)},
          {"occlusion", "prediction minus prediction with the pathway's genes set to 0 (re-encoded) / the fragment "
                        "masked; map: y - y_p - y_f + y_pf"}};
}

}  // namespace

void write_pair_attributions(const fs::path& dir, const PairAttribution& pair, const AttributionLabels& labels,
                             const AttributionOptions& options) {
  fs::create_directories(dir);
  std::vector<Column> pathway_columns, fragment_columns;
  for (Method m : kMethods) {
    pathway_columns.push_back({method_name(m), &pair[m].pathway});
    fragment_columns.push_back({method_name(m), &pair[m].fragment});
  }
  write_rows(dir / "pathways.tsv", "pathway_id", "pathway_name", labels.pathway_ids, labels.pathway_names,
             pathway_columns);
  write_rows(dir / "fragments.tsv", "fragment_index", "fragment", fragment_indices(labels.fragments.size()),
             labels.fragments, fragment_columns);
  for (Method m : kMethods)
    if (!pair[m].map.empty()) write_map(dir / (method_name(m) + ".tsv"), pair[m].map, labels);
  const nlohmann::json j = {{"drug_name", labels.drug_name},
                            {"cell_id", labels.cell_ids.empty() ? "" : labels.cell_ids.front()},
                            {"pairs", 1},
                            {"prediction", pair.prediction},
                            {"statistic", "the pair's values"},
                            {"methods", method_notes(options)}};
  train::svg::write_file(dir / "summary.json", j.dump(2) + "\n");
}

void write_aggregated_attributions(const fs::path& dir, const AggregatedAttribution& agg,
                                   const AttributionLabels& labels, const AttributionOptions& options) {
  fs::create_directories(dir);
  std::vector<Column> pathway_columns, fragment_columns;
  for (Method m : kMethods) {
    pathway_columns.push_back({method_name(m) + "_mean", &agg[m].pathway_mean});
    pathway_columns.push_back({method_name(m) + "_mean_abs", &agg[m].pathway_abs});
    fragment_columns.push_back({method_name(m) + "_mean", &agg[m].fragment_mean});
    fragment_columns.push_back({method_name(m) + "_mean_abs", &agg[m].fragment_abs});
  }
  write_rows(dir / "pathways.tsv", "pathway_id", "pathway_name", labels.pathway_ids, labels.pathway_names,
             pathway_columns);
  write_rows(dir / "fragments.tsv", "fragment_index", "fragment", fragment_indices(labels.fragments.size()),
             labels.fragments, fragment_columns);
  nlohmann::json statistic;
  for (Method m : kMethods) {
    if (agg[m].map_mean.empty()) continue;
    write_map(dir / (method_name(m) + ".tsv"), agg[m].map(m), labels);
    statistic[method_name(m)] = aggregates_signed(m) ? "mean over cells" : "mean |value| over cells";
  }
  double mean_prediction = 0;
  for (double y : agg.predictions) mean_prediction += y / double(std::max<size_t>(1, agg.predictions.size()));
  const nlohmann::json j = {{"drug_name", labels.drug_name},
                            {"cells", labels.cell_ids},
                            {"pairs", agg.pairs},
                            {"mean_prediction", mean_prediction},
                            {"map_statistic", statistic},
                            {"methods", method_notes(options)}};
  train::svg::write_file(dir / "summary.json", j.dump(2) + "\n");
}

}  // namespace dispa::analysis
