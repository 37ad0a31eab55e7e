#include "model/run_forward.h"


#include <cmath>
#include <vector>

#include "engine/autograd.h"
#include "engine/log.h"
#include "engine/io/safetensors.h"
#include "engine/io/text.h"

namespace dispa {

DispaConfig load_dispa_config(const std::string& path) { return parse_dispa_config(io::read_text_file(path), path); }

DispaConfig parse_dispa_config(std::string_view text, const std::string& source) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", source, io::shorten(e.what(), 300));
  }
  try {
    return DispaConfig::from_json(j);
  } catch (const Error& e) {
    fail("{}: {}", source, e.what());
  }
}

namespace {

// One weight whose shape the config determines, each axis with the config key that sets it.
struct ExpectedWeight {
  std::string name;
  std::vector<std::pair<int64_t, std::string>> axes;
};

std::vector<ExpectedWeight> expected_weights(const DispaConfig& c) {
  const int64_t E = c.embed_dim, h = c.ffn_hidden, A = c.attn_dim;
  const std::string df_key = c.substructure_dim > 0 ? "substructure_dim" : "drug_dim";
  std::vector<ExpectedWeight> out = {
      {"gene_ffn.fc1.weight", {{h, "ffn_hidden"}, {c.max_genes_per_pathway, "max_genes_per_pathway"}}},
      {"gene_ffn.fc2.weight", {{E, "embed_dim"}, {h, "ffn_hidden"}}},
      {"slab_norm.weight", {{c.pathways, "pathways"}, {E, "embed_dim"}}},
      {"sub_ffn.fc1.weight", {{h, "ffn_hidden"}, {c.fragment_dim(), df_key}}},
      {"drug_ffn.fc1.weight", {{h, "ffn_hidden"}, {c.drug_dim, "drug_dim"}}},
      {"path2sub.q_proj.weight", {{A, "attn_dim"}, {E, "embed_dim"}}},
      {"drug2path.q_proj.weight", {{A, "attn_dim"}, {E, "embed_dim"}}},
      {"path2sub.subln.weight", {{A / c.heads, "heads"}}},
  };
  if (c.attention == "differential") out.push_back({"path2sub.lambda_q1", {{A / (2 * c.heads), "heads"}}});
  int64_t width = 3 * E;
  for (size_t i = 0; i < c.head_dims.size(); ++i) {
    out.push_back({fmt::format("head.blocks.{}.linear.weight", i),
                   {{c.head_dims[i], "head_dims"}, {width, i == 0 ? "embed_dim" : "head_dims"}}});
    width = c.head_dims[i];
  }
  out.push_back({"head.out.weight", {{1, "head_dims"}, {width, "head_dims"}}});
  return out;
}

}  // namespace

void check_weights_match_config(const DispaConfig& config, const std::string& weights_path) {
  const SafetensorsHeader header = read_safetensors_header(weights_path);
  for (const ExpectedWeight& w : expected_weights(config)) {
    Shape want;
    for (const auto& axis : w.axes) want.push_back(axis.first);
    const auto it = header.entries.find(w.name);
    if (it == header.entries.end()) {
      const bool lambda = w.name.find("lambda") != std::string::npos;
      fail("{}: no tensor '{}', which the config's {} needs{}", weights_path, w.name,
           lambda ? "'attention' = differential" : fmt::format("'{}'", w.axes.front().second),
           lambda ? " (are these vanilla-attention weights?)" : "");
    }
    const Shape& got = it->second.shape;
    for (size_t a = 0; a < w.axes.size(); ++a)
      DISPA_CHECK(got.size() == want.size() && got[a] == want[a],
                  "{}: '{}' is {} but the config asks for {}: config key '{}' does not match these weights", weights_path,
                  w.name, shape_str(got), shape_str(want), w.axes[a].second);
  }
  // No extra head block: the config's head_dims lists every one.
  const std::string extra = fmt::format("head.blocks.{}.linear.weight", config.head_dims.size());
  DISPA_CHECK(!header.entries.count(extra), "{}: has '{}' but the config's head_dims lists only {} blocks",
              weights_path, extra, config.head_dims.size());
}

std::unique_ptr<Dispa> load_dispa(const DispaConfig& config, const std::string& weights_path) {
  // Header first: a config that disagrees with the weights fails before the model is allocated.
  check_weights_match_config(config, weights_path);
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
  if (const std::string report = non_finite_report(tensors); !report.empty())
    logging::warn("forward: {} (NaN or inf in the inputs or weights propagates, as in PyTorch)", report);
  return tensors;
}

std::string non_finite_report(const std::map<std::string, Tensor>& outputs) {
  std::vector<std::string> parts;
  for (const auto& [name, t] : outputs) {
    if (!t.defined()) continue;
    const std::vector<double> v = t.to(Device::cpu()).to_f64_vector();
    std::vector<int64_t> rows;
    int64_t bad = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      if (std::isfinite(v[i])) continue;
      ++bad;
      if (rows.size() < 5) rows.push_back(int64_t(i));
    }
    if (bad == 0) continue;
    if (name == "prediction")
      parts.insert(parts.begin(), fmt::format("{} of {} predictions are not finite (batch rows {}{})", bad, v.size(),
                                              fmt::join(rows, ", "), bad > 5 ? ", ..." : ""));
    else
      parts.push_back(fmt::format("{} has {} non-finite values", name, bad));
  }
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace dispa
