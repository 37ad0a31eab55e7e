// dispa forward: run DiSPA on raw tensors in eval mode and write its outputs (for debugging,
// teaching and parity checks against the PyTorch reference's file layout).
#include "engine/io/atomic_file.h"
#include "engine/log.h"
#include "model/run_forward.h"
#include "tools/command.h"

namespace {
dispa::tools::CommandRegistration registration("forward", [](CLI::App& app, int& exit_code) {
  auto options = std::make_shared<dispa::ForwardOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto unfused = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "forward", "Run DiSPA on raw tensors (safetensors in, safetensors out), eval mode");
  cmd->add_option("--weights", options->weights_path, "model weights (.safetensors, PyTorch state-dict names)")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--config", options->config_path, "model configuration (config.json keys as the fixture)")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--inputs", options->inputs_path,
                  "inputs: expression, pathway_gene_indices, drug, substructures, mask")
      ->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", options->output_path,
                  "output file: prediction, path2sub_attention, drug2path_attention, pathway_tokens")
      ->required();
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N");
  cmd->add_flag("--unfused", *unfused, "use the unfused differential attention (engine ops) instead of the fused op");
  cmd->callback([options, device, unfused, &exit_code] {
    options->device = dispa::parse_device(*device);
    options->fused_attention = !*unfused;
    dispa::io::check_output_file(options->output_path, "--out");  // before the model is loaded
    const auto outputs = dispa::run_forward(*options);
    dispa::logging::info("wrote {} ({} predictions)", options->output_path, outputs.at("prediction").numel());
    exit_code = 0;
  });
});
}  // namespace
