// The planted-mechanism benchmark (see mechanism_benchmark.h).
#include "analysis/mechanism_benchmark.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "analysis/statistics.h"
#include "engine/log.h"
#include "train/metrics.h"
#include "train/svg_text.h"

namespace dispa::analysis {
namespace {

constexpr int kTop = 3;  // a planted pair is recovered when its pathway is in the top 3

// Where each fragment (SMILES) occurs among the attributed pairs: (pair, position in the drug).
std::map<std::string, std::vector<std::pair<size_t, int>>> occurrences(const train::DemoData& demo,
                                                                       const std::vector<PairAttribution>& pairs) {
  std::map<std::string, std::vector<std::pair<size_t, int>>> out;
  for (size_t i = 0; i < pairs.size(); ++i) {
    const std::vector<std::string>& frags = demo.data.drug_fragments.at(size_t(pairs[i].drug));
    for (size_t f = 0; f < frags.size(); ++f)
      if (std::find(frags.begin(), frags.begin() + ptrdiff_t(f), frags[f]) == frags.begin() + ptrdiff_t(f))
        out[frags[f]].emplace_back(i, int(f));
  }
  return out;
}

// The scores of one run's cells, planted or not, and the planted pathways' ranks.
struct Scored {
  int recovered = 0;
  double auroc = 0;
  std::vector<int> ranks;
};

Scored score(const std::map<std::string, std::vector<double>>& s, const std::vector<train::PlantedEffect>& planted,
             int P) {
  Scored out;
  std::vector<double> positives, negatives;
  for (const train::PlantedEffect& k : planted) {
    auto it = s.find(k.fragment);
    const int rank = it == s.end() ? P : rank_of(size_t(k.pathway), it->second);
    out.ranks.push_back(rank);
    out.recovered += rank <= kTop;
  }
  for (const auto& [fragment, row] : s)
    for (int p = 0; p < P; ++p) {
      const bool is_planted = std::any_of(planted.begin(), planted.end(), [&](const train::PlantedEffect& k) {
        return k.fragment == fragment && k.pathway == p;
      });
      (is_planted ? positives : negatives).push_back(row[size_t(p)]);
    }
  out.auroc = positives.empty() || negatives.empty() ? std::nan("") : auroc(positives, negatives);
  return out;
}

std::string fmt_mean_sd(const std::vector<double>& v, int digits = 2) {
  const auto [m, sd] = mean_sd(v);
  return fmt::format("{:.{}f} ± {:.{}f}", m, digits, sd, digits);
}

}  // namespace

BenchmarkRun score_run(const train::DemoData& demo, const std::vector<PairAttribution>& pairs, uint64_t random_seed) {
  const int P = int(demo.pathways.size());
  const auto where = occurrences(demo, pairs);
  BenchmarkRun run;
  auto add = [&](const std::string& name, const std::map<std::string, std::vector<double>>& s) {
    const Scored sc = score(s, demo.planted, P);
    run.methods.push_back(name);
    run.recovered.push_back(sc.recovered);
    run.auroc.push_back(sc.auroc);
    run.ranks.push_back(sc.ranks);
  };
  for (Method m : kMethods) {
    std::map<std::string, std::vector<double>> s;
    for (const auto& [fragment, at] : where) {
      std::vector<double> row(size_t(P), 0.0);
      for (const auto& [i, f] : at) {
        const MethodTables& t = pairs[i][m];
        DISPA_CHECK(!t.map.empty(), "benchmark: method {} has no fragment x pathway map (interactions off?)", method_name(m));
        for (int p = 0; p < P; ++p) {
          const double v = t.map[size_t(p * pairs[i].fragments + f)];
          row[size_t(p)] += (aggregates_signed(m) ? v : std::abs(v)) / double(at.size());
        }
      }
      s[fragment] = row;
    }
    add(method_name(m), s);
  }
  // Raw attention's spread across cells: per drug the sd over its test cells of A[p, f], averaged
  // over the drugs carrying f. Path2Sub is mean-pooled over pathways, so it is how a row moves with
  // the cell, not its level, that can carry a fragment x pathway interaction.
  {
    std::map<int32_t, std::vector<PairAttribution>> by_drug;
    for (const PairAttribution& a : pairs) by_drug[a.drug].push_back(a);
    std::map<std::string, std::vector<double>> s;
    std::map<std::string, int> drugs_with;
    for (const auto& [drug, group] : by_drug) {
      const AggregatedAttribution agg = aggregate(group);
      const std::vector<std::string>& frags = demo.data.drug_fragments.at(size_t(drug));
      const int F = agg.fragments;
      for (int f = 0; f < F; ++f) {
        std::vector<double>& row = s[frags[size_t(f)]];
        row.resize(size_t(P), 0.0);
        for (int p = 0; p < P; ++p) row[size_t(p)] += agg[Method::attention].map_sd[size_t(p * F + f)];
        ++drugs_with[frags[size_t(f)]];
      }
    }
    for (auto& [fragment, row] : s)
      for (double& x : row) x /= drugs_with[fragment];
    add("attention_sd", s);
  }
  // Drug2Path alone: the drug's attention on pathway p (head mean), averaged over the test pairs
  // whose drug carries f. It knows drugs, not fragments: what attention_rollout adds to Path2Sub.
  {
    std::map<std::string, std::vector<double>> s;
    for (const auto& [fragment, at] : where) {
      std::vector<double> row(static_cast<size_t>(P), 0.0);
      for (const auto& [i, f] : at)
        for (int p = 0; p < P; ++p) row[size_t(p)] += pairs[i][Method::attention].pathway[size_t(p)] / double(at.size());
      s[fragment] = row;
    }
    add("drug2path", s);
  }
  std::mt19937_64 rng(random_seed);
  std::map<std::string, std::vector<double>> random;
  for (const auto& [fragment, _] : where) {
    std::vector<double> row(static_cast<size_t>(P));
    for (double& x : row) x = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    random[fragment] = row;
  }
  add("random", random);

  // Off-target attention: |A| (head-mean Path2Sub map) on planted vs other cells of the pairs whose
  // drug carries a planted fragment.
  double planted_mass = 0, total_mass = 0, uniform = 0;
  int64_t planted_cells = 0, other_cells = 0, n_pairs = 0;
  for (const PairAttribution& a : pairs) {
    const std::vector<std::string>& frags = demo.data.drug_fragments.at(size_t(a.drug));
    std::vector<std::pair<int, int>> cells;  // (p, f)
    for (const train::PlantedEffect& k : demo.planted) {
      const auto it = std::find(frags.begin(), frags.end(), k.fragment);
      if (it != frags.end()) cells.emplace_back(k.pathway, int(it - frags.begin()));
    }
    if (cells.empty()) continue;
    const MethodTables& t = a[Method::attention];
    const int F = a.fragments;
    for (int p = 0; p < P; ++p)
      for (int f = 0; f < F; ++f) {
        const double v = std::abs(t.map[size_t(p * F + f)]);
        total_mass += v;
        const bool is_planted = std::find(cells.begin(), cells.end(), std::pair{p, f}) != cells.end();
        planted_mass += is_planted ? v : 0.0;
        ++(is_planted ? planted_cells : other_cells);
      }
    uniform += 1.0 - double(cells.size()) / double(P * F);
    ++n_pairs;
  }
  if (n_pairs > 0 && total_mass > 0) {
    run.off_target_share = 1.0 - planted_mass / total_mass;
    run.uniform_off_target_share = uniform / double(n_pairs);
    run.planted_lift = (planted_mass / double(planted_cells)) / ((total_mass - planted_mass) / double(other_cells));
  }
  return run;
}

BenchmarkResult run_attribution_benchmark(const BenchmarkOptions& o) {
  DISPA_CHECK(o.seeds >= 1, "benchmark: --seeds must be >= 1, got {}", o.seeds);
  DISPA_CHECK(!o.kinds.empty(), "benchmark: no attention kind to run");
  BenchmarkResult result;
  const int total = o.seeds * int(o.kinds.size());
  int done = 0;
  for (int i = 0; i < o.seeds; ++i)
    for (const std::string& kind : o.kinds) {
      train::DemoOptions d = o.demo;
      d.seed = o.demo.seed + uint64_t(i);
      d.attention = kind;
      train::DemoData demo = train::make_demo_data(d);
      logging::info("benchmark run {}/{}: seed {}, {} attention", ++done, total, d.seed, kind);
      train::DemoTraining trained = train::train_demo_model(demo);
      std::vector<int32_t> cells(demo.data.cell_ids.size());
      std::iota(cells.begin(), cells.end(), 0);
      const Tensor baseline = mean_pathway_tokens(*trained.model, demo.data, cells);
      AttributionOptions ao = o.attribution;
      ao.interactions = true;
      const std::vector<PairAttribution> pairs = attribute_pairs(*trained.model, demo.data, demo.test, baseline, ao);
      BenchmarkRun run = score_run(demo, pairs, d.seed * 7919 + (kind == "vanilla"));
      run.seed = d.seed;
      run.kind = kind;
      // Test RMSE beside a drug-mean predictor fitted on the training pairs.
      std::vector<double> drug_sum(demo.data.drug_names.size(), 0.0), drug_n(demo.data.drug_names.size(), 0.0);
      for (int64_t k : demo.train) {
        drug_sum[size_t(demo.data.pairs[size_t(k)].drug)] += demo.data.pairs[size_t(k)].ln_ic50;
        drug_n[size_t(demo.data.pairs[size_t(k)].drug)] += 1;
      }
      double se = 0, se_mean = 0;
      for (const PairAttribution& a : pairs) {
        const double y = demo.data.pairs[size_t(a.pair_index)].ln_ic50;
        se += std::pow(a.prediction - y, 2);
        se_mean += std::pow(drug_sum[size_t(a.drug)] / std::max(1.0, drug_n[size_t(a.drug)]) - y, 2);
      }
      run.rmse = std::sqrt(se / double(pairs.size()));
      run.drug_mean_rmse = std::sqrt(se_mean / double(pairs.size()));
      std::string line = fmt::format("benchmark seed {} {}: test RMSE {:.3f} (drug mean {:.3f}); recovered", run.seed,
                                     kind, run.rmse, run.drug_mean_rmse);
      for (size_t m = 0; m < run.methods.size(); ++m) line += fmt::format(" {} {}", run.methods[m], run.recovered[m]);
      logging::info("{}", line);
      result.planted = int(demo.planted.size());
      result.pathways = int(demo.pathways.size());
      result.cells = demo.options.cells;
      result.epochs = demo.options.epochs;
      result.runs.push_back(std::move(run));
    }

  // Summary: mean ± sd over seeds per (method, kind).
  const int K = result.planted;
  std::string report = fmt::format(
      "\nPlanted-mechanism benchmark: {} seeds ({}..{}) x {} attention, {} planted fragment->pathway pairs among {} "
      "pathways;\n{} cells, at most {} epochs per run. Recovered = pathway in the top {} of its fragment's row "
      "(test pairs);\nauroc = planted vs all other fragment x pathway cells. Mean over seeds:\n",
      o.seeds, o.demo.seed, o.demo.seed + uint64_t(o.seeds) - 1, fmt::join(o.kinds, " and "), K, result.pathways,
      result.cells, result.epochs, kTop);
  nlohmann::json summary = nlohmann::json::object();
  std::string tsv = "seed\tattention\tmethod\trecovered\tplanted\tauroc\tranks\ttest_rmse\tdrug_mean_rmse\n";
  for (const BenchmarkRun& r : result.runs)
    for (size_t m = 0; m < r.methods.size(); ++m)
      tsv += fmt::format("{}\t{}\t{}\t{}\t{}\t{:.4f}\t{}\t{:.4f}\t{:.4f}\n", r.seed, r.kind, r.methods[m], r.recovered[m],
                         K, r.auroc[m], fmt::join(r.ranks[m], ","), r.rmse, r.drug_mean_rmse);
  for (const std::string& kind : o.kinds) {
    std::vector<const BenchmarkRun*> runs;
    for (const BenchmarkRun& r : result.runs)
      if (r.kind == kind) runs.push_back(&r);
    std::vector<double> rmse, base;
    for (const BenchmarkRun* r : runs) rmse.push_back(r->rmse), base.push_back(r->drug_mean_rmse);
    report += fmt::format("model {}: test RMSE {} (drug-mean predictor {})\n", kind, fmt_mean_sd(rmse, 3), fmt_mean_sd(base, 3));
    for (size_t m = 0; m < runs.front()->methods.size(); ++m) {
      std::vector<double> rec, auc;
      for (const BenchmarkRun* r : runs) rec.push_back(r->recovered[m]), auc.push_back(r->auroc[m]);
      const auto [rm, rs] = mean_sd(rec);
      const auto [am, as] = mean_sd(auc);
      report += fmt::format("attribution {} {}: recovered {:.1f} of {} (sd {:.1f}), auroc {:.3f}\n", runs.front()->methods[m],
                            kind, rm, K, rs, am);
      summary[kind][runs.front()->methods[m]] = {{"recovered_mean", rm}, {"recovered_sd", rs}, {"auroc_mean", am},
                                                {"auroc_sd", as}, {"recovered", rec}, {"auroc", auc}};
    }
  }
  report += "\nPath2Sub attention off the planted cells (test pairs whose drug carries a planted fragment; "
            "|A| of the head-mean map):\n";
  for (const std::string& kind : o.kinds) {
    std::vector<double> share, uniform, lift;
    for (const BenchmarkRun& r : result.runs)
      if (r.kind == kind)
        share.push_back(r.off_target_share), uniform.push_back(r.uniform_off_target_share), lift.push_back(r.planted_lift);
    report += fmt::format("  {}: share of |A| mass on non-planted cells {} (uniform attention: {}); planted-cell lift {}\n",
                          kind, fmt_mean_sd(share, 4), fmt_mean_sd(uniform, 4), fmt_mean_sd(lift, 2));
    summary[kind]["off_target_share"] = mean_sd(share).first;
    summary[kind]["off_target_share_sd"] = mean_sd(share).second;
    summary[kind]["uniform_off_target_share"] = mean_sd(uniform).first;
    summary[kind]["planted_lift"] = mean_sd(lift).first;
    summary[kind]["planted_lift_sd"] = mean_sd(lift).second;
  }
  if (summary.contains("differential")) {
    const double raw = summary["differential"]["attention"]["recovered_mean"].get<double>();
    std::string best;
    double best_value = -1;
    for (Method m : kMethods) {
      const double v = summary["differential"][method_name(m)]["recovered_mean"].get<double>();
      if (v > best_value) best_value = v, best = method_name(m);
    }
    report += fmt::format("\nWith differential attention, raw attention recovers {:.1f} of {} on average: {}.\n", raw, K,
                          raw >= 3 ? "it does recover the planted mechanism (>= 3)" : "it does NOT recover the planted mechanism (< 3)");
    report += fmt::format("Best method with differential attention: {} ({:.1f} of {}).\n", best, best_value, K);
  }
  result.report = report;
  result.summary = summary;
  if (!o.out_dir.empty()) {
    std::filesystem::create_directories(o.out_dir);
    train::svg::write_file(o.out_dir / "benchmark.tsv", tsv);
    train::svg::write_file(o.out_dir / "benchmark.json", summary.dump(2) + "\n");
    train::svg::write_file(o.out_dir / "benchmark.txt", report);
  }
  return result;
}

}  // namespace dispa::analysis
