#include "model/run_forward.h"

#include <fstream>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"

namespace dispa {

DispaConfig load_dispa_config(const std::string& path) {
  std::ifstream in(path);
  DISPA_CHECK(in.good(), "cannot open config file '{}'", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", path, e.what());
  }
  try {
    return DispaConfig::from_json(j);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
}

std::unique_ptr<Dispa> load_dispa(const DispaConfig& config, const std::string& weights_path) {
  auto model = std::make_unique<Dispa>(config);
  SafetensorsFile file = load_safetensors(weights_path);
  try {
    model->load_state_dict(file.tensors, true);
  } catch (const Error& e) {
    fail("{}: {}", weights_path, e.what());
  }
  return model;
}

DispaInputs load_dispa_inputs(const std::string& path, Device device) {
  SafetensorsFile file = load_safetensors(path);
  auto take = [&](const char* name) {
    auto it = file.tensors.find(name);
    DISPA_CHECK(it != file.tensors.end(), "{}: missing input tensor '{}'", path, name);
    return it->second.to(device);
  };
  DispaInputs in;
  in.expression = take("expression");
  in.pathway_gene_indices = take("pathway_gene_indices");
  in.drug = take("drug");
  in.substructures = take("substructures");
  in.mask = take("mask");
  return in;
}

std::map<std::string, Tensor> run_forward(const ForwardOptions& options) {
  const DispaConfig config = load_dispa_config(options.config_path);
  std::unique_ptr<Dispa> model = load_dispa(config, options.weights_path);
  model->to(options.device);
  model->eval();
  model->set_fused_attention(options.fused_attention);
  const DispaInputs inputs = load_dispa_inputs(options.inputs_path, options.device);
  NoGrad no_grad;
  const DispaOutputs out = model->forward(inputs);
  std::map<std::string, Tensor> tensors = {{"prediction", out.prediction.to(Device::cpu())},
                                           {"path2sub_attention", out.path2sub_attention.to(Device::cpu())},
                                           {"drug2path_attention", out.drug2path_attention.to(Device::cpu())},
                                           {"pathway_tokens", out.pathway_tokens.to(Device::cpu())}};
  if (!options.output_path.empty())
    save_safetensors(options.output_path, tensors, {{"producer", "dispa forward"}, {"config", config.to_json().dump()}});
  return tensors;
}

}  // namespace dispa
