// dispa demo: the built-in default job (no data files needed): a synthetic pharmacogenomic dataset
// with planted fragment -> pathway effects, DiSPA trained on it beside the baselines, and a check
// of whether raw attention and the attribution methods recover the planted pairs (train/demo.h,
// analysis/demo_check.h). With --attribution-benchmark:
// the planted-mechanism benchmark over seeds and both attention kinds (analysis/mechanism_benchmark.h).
#include <cstdio>

#include "analysis/demo_check.h"
#include "analysis/mechanism_benchmark.h"

#include "engine/log.h"
#include "tools/command.h"

namespace {
dispa::tools::CommandRegistration registration("demo", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::train::DemoOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto quiet = std::make_shared<bool>(false);
  auto benchmark = std::make_shared<bool>(false);
  auto seeds = std::make_shared<int>(5);
  CLI::App* cmd = app.add_subcommand("demo", "Train DiSPA on built-in synthetic data with planted effects (no files needed)");
  cmd->add_option("--seed", o->seed, "seed for the data, split and training (the benchmark's first seed)")
      ->capture_default_str();
  cmd->add_option("--cells", o->cells, "number of synthetic cell lines")->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "maximum epochs")->capture_default_str();
  cmd->add_option("--effect", o->effect, "planted effect size (ln IC50 per SD of pathway activity)")
      ->capture_default_str();
  cmd->add_flag("--quick", o->quick, "fewer cells and epochs (seconds; used by the tests)");
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--out", o->out_dir,
                  "also write the synthetic data folder and metrics.json here (benchmark: benchmark.tsv/.json/.txt)");
  cmd->add_flag("--attribution-benchmark", *benchmark,
                "planted-mechanism benchmark: every attribution method, both attention kinds, --seeds seeds");
  cmd->add_option("--seeds", *seeds, "benchmark: number of seeds (--seed, --seed + 1, ...)")->capture_default_str();
  cmd->add_flag("--quiet", *quiet, "no progress output");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    o->device = dispa::parse_device(*device);
    if (*benchmark) {
      dispa::analysis::BenchmarkOptions b;
      b.demo = *o;
      b.demo.out_dir.clear();
      b.seeds = *seeds;
      b.out_dir = o->out_dir;
      std::fputs(dispa::analysis::run_attribution_benchmark(b).report.c_str(), stdout);
      exit_code = 0;
      return;
    }
    std::fputs(dispa::analysis::run_demo_check(*o).report.c_str(), stdout);
    exit_code = 0;
  });
});
}  // namespace
