// dispa demo: the built-in default job (no data files needed): a synthetic pharmacogenomic dataset
// with planted fragment -> pathway effects, DiSPA trained on it beside the baselines, and a check
// of whether the attention recovers the planted pairs (train/demo.h).
#include <cstdio>

#include "engine/log.h"
#include "tools/command.h"
#include "train/demo.h"

namespace {
dispa::tools::CommandRegistration registration("demo", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::train::DemoOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("demo", "Train DiSPA on built-in synthetic data with planted effects (no files needed)");
  cmd->add_option("--seed", o->seed, "seed for the data, split and training")->capture_default_str();
  cmd->add_option("--cells", o->cells, "number of synthetic cell lines")->capture_default_str();
  cmd->add_option("--epochs", o->epochs, "maximum epochs")->capture_default_str();
  cmd->add_option("--effect", o->effect, "planted effect size (ln IC50 per SD of pathway activity)")
      ->capture_default_str();
  cmd->add_flag("--quick", o->quick, "fewer cells and epochs (seconds; used by the tests)");
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--out", o->out_dir, "also write the synthetic data folder and metrics.json here");
  cmd->add_flag("--quiet", *quiet, "no progress output");
  cmd->callback([=, &exit_code] {
    dispa::logging::set_quiet(*quiet);
    o->device = dispa::parse_device(*device);
    const dispa::train::DemoResult result = dispa::train::run_demo(*o);
    std::fputs(result.report.c_str(), stdout);
    exit_code = 0;
  });
});
}  // namespace
