// Baselines over the folds of a split (see baseline_run.h).
#include "train/baseline_run.h"

#include <cmath>
#include <map>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/log.h"
#include "train/tsv_reader.h"

namespace dispa::train {

namespace {

// drug_name -> scaffold from a two-column TSV (drug_name, scaffold); an empty scaffold (acyclic
// molecule) is allowed.
std::unordered_map<std::string, std::string> read_scaffolds(const std::filesystem::path& file) {
  TsvReader in(file);
  const int c_drug = in.column("drug_name"), c_scaffold = in.column("scaffold");
  std::unordered_map<std::string, std::string> m;
  while (in.next()) {
    const auto [it, inserted] = m.emplace(in.field(c_drug), in.field(c_scaffold));
    DISPA_CHECK(inserted, "{}: duplicate drug '{}'", in.where(), in.field(c_drug));
  }
  return m;
}

Split make_split(const ResponseTable& table, const BaselineRunOptions& o) {
  if (!o.split_file.empty()) return read_split(o.split_file, table);
  const SplitScheme scheme = parse_scheme(o.split);
  switch (scheme) {
    case SplitScheme::tgsa_mixed: return tgsa_mixed_split(table, o.seed);
    case SplitScheme::tgsa_cell_blind:
      return tgsa_cell_blind_split(table, read_cell_annotations(o.data_dir / "cells.tsv").lineage_map(), o.seed);
    case SplitScheme::tgsa_drug_blind:
      DISPA_CHECK(!o.scaffolds.empty(), "split tgsa-drug-blind needs --scaffolds (a TSV of drug_name, scaffold)");
      return tgsa_drug_blind_split(table, read_scaffolds(o.scaffolds), o.seed);
    default: return kfold_split(table, {scheme, o.folds, o.seed, o.val_fraction});
  }
}

// Mean and sample sd (n - 1) of one metric over folds; NaN values are skipped.
std::pair<double, double> mean_sd(const std::vector<double>& v) {
  double s = 0, n = 0;
  for (const double x : v)
    if (std::isfinite(x)) s += x, n += 1;
  if (n == 0) return {NAN, NAN};
  const double m = s / n;
  double ss = 0;
  for (const double x : v)
    if (std::isfinite(x)) ss += (x - m) * (x - m);
  return {m, n > 1 ? std::sqrt(ss / (n - 1)) : NAN};
}

}  // namespace

BaselineRunResult run_baseline_evaluation(const BaselineRunOptions& o) {
  if (!o.out_dir.empty()) io::check_output_folder(o.out_dir, "--out");
  const ResponseData data = read_response_folder(o.data_dir);
  if (data.excluded.total > 0) logging::warn("{}", data.excluded.summary());
  const ResponseTable& table = data.table;
  logging::info("{}: {} pairs, {} cell lines, {} drugs", o.data_dir.string(), table.size(), table.num_cells(),
            table.num_drugs());
  const Split split = make_split(table, o);
  DISPA_CHECK(o.fold < split.folds(), "--fold {} but the split has {} folds", o.fold, split.folds());
  if (!o.out_dir.empty()) {
    std::filesystem::create_directories(o.out_dir);
    write_split(o.out_dir / "split.tsv", table, split);
  }

  BaselineRunResult out;
  out.json["data"] = o.data_dir.string();
  out.json["split"] = {{"scheme", scheme_name(split.scheme)}, {"seed", split.seed}, {"folds", split.folds()}};
  out.json["excluded"] = {{"total", data.excluded.total}, {"summary", data.excluded.summary()}};
  out.json["folds"] = nlohmann::json::array();
  std::vector<std::pair<std::string, Metrics>> rows;
  std::map<std::string, std::vector<Metrics>> per_baseline;
  std::vector<std::string> order;
  for (int f = 0; f < split.folds(); ++f) {
    if (o.fold >= 0 && f != o.fold) continue;
    logging::info("{}", split.describe(f));
    BaselineOptions bo;
    bo.additive = o.additive;
    const std::vector<BaselineResult> results = run_baselines(table, split, f, bo);
    nlohmann::json fold = {{"fold", f},
                           {"train", split.count(f, Role::train)},
                           {"val", split.count(f, Role::val)},
                           {"test", split.count(f, Role::test)},
                           {"baselines", baselines_to_json(results, Role::test)},
                           {"val_baselines", baselines_to_json(results, Role::val)}};
    for (const BaselineResult& r : results) {
      fold["baselines"][r.name]["info"] = r.info;
      rows.emplace_back(fmt::format("fold {} {}", f, r.name), r.test);
      if (!per_baseline.count(r.name)) order.push_back(r.name);
      per_baseline[r.name].push_back(r.test);
    }
    out.json["folds"].push_back(std::move(fold));
  }

  // Mean and sd over folds, per metric.
  std::vector<std::pair<std::string, Metrics>> mean_rows, sd_rows;
  for (const std::string& name : order) {
    const std::vector<Metrics>& ms = per_baseline[name];
    Metrics mean, sd;
    nlohmann::json jm, js;
    auto field = [&](const char* key, double Metrics::*member) {
      std::vector<double> v;
      for (const Metrics& m : ms) v.push_back(m.*member);
      const auto [mu, s] = mean_sd(v);
      mean.*member = mu;
      sd.*member = s;
      jm[key] = std::isfinite(mu) ? nlohmann::json(mu) : nlohmann::json(nullptr);
      js[key] = std::isfinite(s) ? nlohmann::json(s) : nlohmann::json(nullptr);
    };
    field("rmse", &Metrics::rmse);
    field("mae", &Metrics::mae);
    field("pearson", &Metrics::pearson);
    field("spearman", &Metrics::spearman);
    field("r2", &Metrics::r2);
    field("per_drug_pearson_mean", &Metrics::per_drug_pearson_mean);
    field("per_drug_pearson_median", &Metrics::per_drug_pearson_median);
    for (const Metrics& m : ms) mean.n += m.n;
    out.json["mean"][name] = jm;
    out.json["sd"][name] = js;
    mean_rows.emplace_back("mean " + name, mean);
    sd_rows.emplace_back("sd " + name, sd);
  }
  if (order.size() > 0 && per_baseline[order[0]].size() > 1) {
    rows.insert(rows.end(), mean_rows.begin(), mean_rows.end());
    rows.insert(rows.end(), sd_rows.begin(), sd_rows.end());
  }
  out.table = fmt::format("test metrics, split {} (seed {}), {}\n{}", scheme_name(split.scheme), split.seed,
                          o.data_dir.string(), metrics_table(rows));
  if (!o.out_dir.empty()) write_json_file(o.out_dir / "baselines.json", out.json);
  return out;
}

}  // namespace dispa::train
