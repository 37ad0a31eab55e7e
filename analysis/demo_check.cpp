// `dispa demo`'s mechanism check (see demo_check.h).
#include "analysis/demo_check.h"

#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/statistics.h"
#include "engine/log.h"
#include "train/metrics.h"

namespace dispa::analysis {

DemoCheck run_demo_check(const train::DemoOptions& options) {
  DemoCheck c;
  c.demo = train::run_demo(options);
  const train::DemoData& demo = *c.demo.data;
  AttributionOptions ao;
  std::vector<int64_t> pairs = demo.test;
  if (demo.options.quick) {  // seconds, for the test suite: a fixed sample and fewer IG steps
    ao.ig_steps = 8;
    pairs = shuffled(pairs, demo.options.seed);
    pairs.resize(std::min<size_t>(pairs.size(), 96));
  }
  std::vector<int32_t> cells(demo.data.cell_ids.size());
  std::iota(cells.begin(), cells.end(), 0);
  const Tensor baseline = mean_pathway_tokens(*c.demo.model, demo.data, cells);
  c.run = score_run(demo, attribute_pairs(*c.demo.model, demo.data, pairs, baseline, ao), demo.options.seed);
  c.run.seed = demo.options.seed;
  c.run.kind = demo.options.attention;

  const int K = int(demo.planted.size()), P = int(demo.pathways.size());
  std::string r = fmt::format(
      "\nDoes the model's mechanism match the planted one? For each planted pair, the rank of its pathway among {} in "
      "the\nfragment's row ({} test pairs; top 3 = recovered). attention = raw Path2Sub attention (mean over cells), "
      "attention_sd =\nits spread across cells, drug2path = the drug's attention on pathways; the other methods "
      "attribute the prediction\n(analysis/attribution.h); random = random scores:\n",
      P, pairs.size());
  r += fmt::format("  {:<22} {:>9}  {:>6}  ranks of the {} planted pathways\n", "method", "recovered", "auroc", K);
  nlohmann::json recovery;
  size_t best = 0;
  for (size_t m = 0; m < c.run.methods.size(); ++m) {
    r += fmt::format("  {:<22} {:>4} of {}  {:>6.3f}  {}\n", c.run.methods[m], c.run.recovered[m], K, c.run.auroc[m],
                     fmt::join(c.run.ranks[m], ", "));
    recovery[c.run.methods[m]] = {{"recovered", c.run.recovered[m]}, {"auroc", c.run.auroc[m]}, {"ranks", c.run.ranks[m]}};
    if (c.run.methods[m] != "random" && c.run.recovered[m] > c.run.recovered[best]) best = m;
  }
  r += fmt::format("Raw attention recovers {} of {} planted pairs; {} recovers {} of {} (docs/INTERPRETABILITY.md explains "
                   "the difference;\n`dispa demo --attribution-benchmark` measures it over seeds and both attention kinds).\n",
                   c.run.recovered[0], K, c.run.methods[best], c.run.recovered[best], K);
  c.report = c.demo.report + r;
  c.demo.metrics["recovery"] = recovery;
  if (!options.out_dir.empty()) train::write_json_file(options.out_dir / "metrics.json", c.demo.metrics);
  return c;
}

}  // namespace dispa::analysis
