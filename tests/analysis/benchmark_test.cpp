// Scoring of the planted-mechanism benchmark (analysis/mechanism_benchmark.h) on the demo's real
// synthetic design with made-up attributions whose answer is known: an oracle map recovers every
// planted pair with AUROC 1 and puts no attention off the planted cells; a constant map recovers
// nothing (ties count against) with AUROC 0.5. The full benchmark (training) runs in the e2e test.
#include <algorithm>

#include <doctest/doctest.h>

#include "analysis/mechanism_benchmark.h"
#include "engine/log.h"

using namespace dispa;
using namespace dispa::analysis;

namespace {

std::vector<PairAttribution> made_up(const train::DemoData& demo, bool oracle) {
  const int P = int(demo.pathways.size());
  std::vector<PairAttribution> out;
  for (int64_t k : demo.test) {
    PairAttribution a;
    a.pair_index = k;
    a.cell = demo.data.pairs[size_t(k)].cell;
    a.drug = demo.data.pairs[size_t(k)].drug;
    const std::vector<std::string>& frags = demo.data.drug_fragments[size_t(a.drug)];
    a.fragments = int(frags.size());
    for (MethodTables& t : a.methods) {
      t.pathway.assign(size_t(P), 0.0);
      t.fragment.assign(frags.size(), 0.0);
      t.map.assign(size_t(P) * frags.size(), 0.0);
      if (!oracle) continue;
      for (const train::PlantedEffect& e : demo.planted) {
        const auto it = std::find(frags.begin(), frags.end(), e.fragment);
        // Varies with the cell, so attention_sd (the spread across cells) sees it too.
        if (it == frags.end()) continue;
        t.map[size_t(e.pathway) * frags.size() + size_t(it - frags.begin())] = 1.0 + 0.1 * (a.cell % 3);
        t.pathway[size_t(e.pathway)] = 1.0;  // what drug2path reads
      }
    }
    out.push_back(a);
  }
  return out;
}

}  // namespace

TEST_CASE("benchmark scoring: an oracle map recovers every planted pair, a constant one none") {
  logging::set_quiet(true);
  train::DemoOptions o;
  o.quick = true;
  const train::DemoData demo = train::make_demo_data(o);
  const int K = int(demo.planted.size());
  REQUIRE(K == 4);
  const BenchmarkRun oracle = score_run(demo, made_up(demo, true), 1);
  REQUIRE(oracle.methods.back() == "random");
  for (size_t m = 0; m + 1 < oracle.methods.size(); ++m) {
    CAPTURE(oracle.methods[m]);
    CHECK(oracle.recovered[m] == K);
    if (oracle.methods[m] == "drug2path") {
      // Drug-level: every fragment of a drug with a planted effect shares its row, so unplanted
      // fragments of those drugs score as high as the planted one.
      CHECK(oracle.auroc[m] < 1.0);
      CHECK(oracle.auroc[m] > 0.9);
      continue;
    }
    CHECK(oracle.auroc[m] == 1.0);
  }
  for (int r : oracle.ranks[0]) CHECK(r == 1);
  CHECK(oracle.off_target_share == 0.0);
  CHECK(oracle.uniform_off_target_share > 0.9);
  const BenchmarkRun flat = score_run(demo, made_up(demo, false), 1);
  for (size_t m = 0; m + 1 < flat.methods.size(); ++m) {
    CHECK(flat.recovered[m] == 0);
    CHECK(flat.auroc[m] == 0.5);
  }
  // Random scores: the same seed gives the same draw; AUROC within its plausible range.
  CHECK(flat.recovered.back() == oracle.recovered.back());
  CHECK(flat.auroc.back() > 0.0);
  CHECK(flat.auroc.back() < 1.0);
  logging::set_quiet(false);
}
