// Loading a DiSPA from files and running it on raw tensors: the library side of `dispa forward`
// (and of the fixture parity tests). The file layout is the PyTorch reference's
// (shared/fixtures/dispa_ref): config.json, weights.safetensors, inputs.safetensors.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "engine/tensor.h"
#include "model/dispa.h"

namespace dispa {

DispaConfig load_dispa_config(const std::string& path);  // JSON file; errors name the file
DispaConfig parse_dispa_config(std::string_view text, const std::string& source);  // the same from memory
// Reads only the safetensors header of `weights_path` and checks that the tensors the config
// determines (FFN, slab norm, attention and head weights) have the shapes it implies; a mismatch
// names the tensor, both shapes and the config key.
void check_weights_match_config(const DispaConfig& config, const std::string& weights_path);
// check_weights_match_config, then builds the model for `config` and loads `weights_path`
// (strict: every name must match), so a wrong config fails before anything is allocated.
std::unique_ptr<Dispa> load_dispa(const DispaConfig& config, const std::string& weights_path);
// Reads expression, pathway_gene_indices, drug, substructures, mask from a safetensors file.
DispaInputs load_dispa_inputs(const std::string& path, Device device = Device::cpu());

struct ForwardOptions {
  std::string config_path, weights_path, inputs_path, output_path;
  Device device = Device::cpu();
  bool fused_attention = true;
};
// Eval-mode forward; writes prediction, path2sub_attention, drug2path_attention, pathway_tokens.
// Non-finite outputs (NaN inputs or weights propagate, as in PyTorch) are written as they are and
// reported by a warning (non_finite_report).
std::map<std::string, Tensor> run_forward(const ForwardOptions& options);

// "" when every output is finite; otherwise one line: how many predictions are NaN or inf, the
// first batch rows, and how many non-finite values each other output holds.
std::string non_finite_report(const std::map<std::string, Tensor>& outputs);

}  // namespace dispa
