// The PyTorch-fixture parity checks (shared/fixtures/dispa_ref), parameterised by device: the CPU
// suite (dispa_fixture_test.cpp) and the CUDA suite (dispa_fixture_parity.cpp, label gpu) run the
// same comparisons, so a CUDA model is held to the PyTorch numbers directly, not only to our CPU.
// Eval outputs within 1e-4 relative (1e-5 absolute near zero); one training step's loss,
// prediction and parameter gradients within 1e-3 relative.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/ops/loss.h"
#include "model/run_forward.h"
#include "tests/support/close.h"

namespace dispa::test {

inline void check_eval_outputs(const std::filesystem::path& dir, bool fused, Device device = Device::cpu()) {
  ForwardOptions options;
  options.config_path = (dir / "config.json").string();
  options.weights_path = (dir / "weights.safetensors").string();
  options.inputs_path = (dir / "inputs.safetensors").string();
  options.fused_attention = fused;
  options.device = device;
  const auto got = run_forward(options);
  const SafetensorsFile want = load_safetensors((dir / "outputs_eval.safetensors").string());
  for (const char* name : {"prediction", "path2sub_attention", "drug2path_attention", "pathway_tokens"}) {
    CAPTURE(name);
    CHECK_CLOSE_TENSOR(got.at(name), want.tensors.at(name), 1e-5, 1e-4);
  }
}

inline void check_training_gradients(const std::filesystem::path& dir, bool fused, Device device = Device::cpu()) {
  DispaConfig config = load_dispa_config((dir / "config.json").string());
  config.ffn_dropout = 0.0;  // the fixture's training step runs with every dropout at 0
  config.head_dropout = 0.0;
  std::unique_ptr<Dispa> model = load_dispa(config, (dir / "weights.safetensors").string());
  model->to(device);
  model->train();
  model->set_fused_attention(fused);
  const DispaInputs inputs = load_dispa_inputs((dir / "inputs.safetensors").string(), device);
  const SafetensorsFile in_file = load_safetensors((dir / "inputs.safetensors").string());
  const SafetensorsFile want = load_safetensors((dir / "grads_train.safetensors").string());

  const DispaOutputs out = model->forward(inputs);
  const Tensor loss = mse_loss(out.prediction, in_file.tensors.at("target").to(device));
  CHECK_CLOSE_TENSOR(out.prediction, want.tensors.at("prediction"), 1e-5, 1e-3);
  CHECK_CLOSE_TENSOR(loss.reshape({1}), want.tensors.at("loss"), 1e-6, 1e-3);
  loss.backward();
  int compared = 0;
  for (const auto& [name, param] : model->named_parameters()) {
    CAPTURE(name);
    auto it = want.tensors.find("grad." + name);
    REQUIRE_MESSAGE(it != want.tensors.end(), "fixture has no gradient for " << name);
    REQUIRE_MESSAGE(param.has_grad(), "no gradient reached " << name);
    // A Linear bias that feeds a training-mode BatchNorm has an exact zero gradient (the batch
    // mean cancels it); both sides then hold float32 rounding noise (~1e-6), so such
    // analytically-zero gradients are checked against an absolute bound instead.
    double reference_scale = 0, ours_scale = 0;
    for (double g : it->second.to_f64_vector()) reference_scale = std::max(reference_scale, std::abs(g));
    for (double g : param.grad().to_f64_vector()) ours_scale = std::max(ours_scale, std::abs(g));
    if (reference_scale < 1e-5) {
      CHECK_MESSAGE(ours_scale < 1e-5, "gradient should be ~0 (max |ref| " << reference_scale << "), ours max " << ours_scale);
    } else {
      CHECK_CLOSE_TENSOR(param.grad(), it->second, 1e-6, 1e-3);
    }
    ++compared;
  }
  int fixture_grads = 0;
  for (const auto& [name, t] : want.tensors) fixture_grads += name.rfind("grad.", 0) == 0;
  CHECK(compared == fixture_grads);
}

}  // namespace dispa::test
