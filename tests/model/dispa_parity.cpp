// Whole-model CPU<->CUDA parity (label gpu). Two kinds of check:
//  1. The PyTorch fixtures (shared/fixtures/dispa_ref) run on the GPU, held to PyTorch's numbers
//     with the same tolerances as the CPU suite (fused and unfused attention, both variants).
//  2. A randomly initialised DiSPA in training mode WITH dropout, on de-duplicated batches: the
//     Philox streams are device-independent, so CPU and CUDA draw identical masks and must agree on
//     predictions, loss and every gradient (1e-3 relative; GEMM summation order differs), and on
//     the parameters after three SGD-with-momentum steps (the fused CUDA optimizer against the CPU
//     loop). SGD, not Adam: Adam divides by sqrt(v), so a gradient that is rounding noise (a bias
//     feeding a training-mode BatchNorm, whose exact gradient is zero) still moves its parameter by
//     about lr, differently on each device; the optimizers themselves have their own parity test.
#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/loss.h"
#include "engine/optim/optimizer.h"
#include "model/dispa.h"
#include "tests/model/fixture_checks.h"
#include "tests/support/shared_data.h"

using namespace dispa;

namespace {

const Device kCuda = Device::cuda(0);

TEST_CASE("gpu parity: PyTorch fixture eval outputs on CUDA (differential fused/unfused, vanilla)") {
  const auto diff = test::shared_path_or_skip("fixtures/dispa_ref/differential");
  const auto vanilla = test::shared_path_or_skip("fixtures/dispa_ref/vanilla");
  if (diff.empty() || vanilla.empty()) return;
  test::check_eval_outputs(diff, true, kCuda);
  test::check_eval_outputs(diff, false, kCuda);
  test::check_eval_outputs(vanilla, true, kCuda);
}

TEST_CASE("gpu parity: PyTorch fixture training gradients on CUDA (differential fused/unfused, vanilla)") {
  const auto diff = test::shared_path_or_skip("fixtures/dispa_ref/differential");
  const auto vanilla = test::shared_path_or_skip("fixtures/dispa_ref/vanilla");
  if (diff.empty() || vanilla.empty()) return;
  test::check_training_gradients(diff, true, kCuda);
  test::check_training_gradients(diff, false, kCuda);
  test::check_training_gradients(vanilla, true, kCuda);
}

// A mid-sized configuration: big enough for multi-warp rows and several blocks per kernel, small
// enough that the CPU side takes well under a second.
DispaConfig mid_config(const std::string& attention) {
  DispaConfig c;
  c.embed_dim = 32;
  c.ffn_hidden = 48;
  c.attn_dim = 32;
  c.heads = 4;
  c.head_dims = {64, 32, 32};
  c.genes = 90;
  c.pathways = 23;
  c.max_genes_per_pathway = 19;
  c.drug_dim = 40;
  c.max_substructures = 9;
  c.ffn_dropout = 0.5;
  c.head_dropout = 0.1;
  c.attention = attention;
  return c;
}

struct Batch {
  DispaInputs inputs;
  Tensor target;
};

Batch mid_batch(const DispaConfig& c, Device device) {
  const int64_t cells = 7, drugs = 5, pairs = 24;
  std::vector<int32_t> idx(size_t(c.pathways * c.max_genes_per_pathway));
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = (i % 5 == 4) ? -1 : int32_t((i * 13) % size_t(c.genes));
  std::vector<float> mask(size_t(drugs * c.max_substructures), 0.f);
  for (int64_t d = 0; d < drugs; ++d)
    for (int64_t l = 0; l <= (d * 2) % c.max_substructures; ++l) mask[size_t(d * c.max_substructures + l)] = 1.f;
  std::vector<int32_t> cell_rows(pairs), drug_rows(pairs);
  for (int64_t i = 0; i < pairs; ++i) {
    cell_rows[size_t(i)] = int32_t((i * 3) % cells);
    drug_rows[size_t(i)] = int32_t((i * 7 + 1) % drugs);
  }
  Batch b;
  b.inputs.expression = Tensor::normal({cells, c.genes}, 0, 1, 21).to(device);
  b.inputs.pathway_gene_indices = Tensor::from_vector(idx, {c.pathways, c.max_genes_per_pathway}, device);
  b.inputs.drug = Tensor::normal({drugs, c.drug_dim}, 0, 1, 22).to(device);
  b.inputs.substructures = Tensor::normal({drugs, c.max_substructures, c.drug_dim}, 0, 1, 23).to(device);
  b.inputs.mask = Tensor::from_vector(mask, {drugs, c.max_substructures}, device);
  b.inputs.cell_rows = Tensor::from_vector(cell_rows, {pairs}, device);
  b.inputs.drug_rows = Tensor::from_vector(drug_rows, {pairs}, device);
  b.target = Tensor::normal({pairs}, 2, 1, 24).to(device);
  return b;
}

struct StepResult {
  Tensor first_prediction, first_loss;
  std::map<std::string, Tensor> first_grads, final_params;
};

// Three training steps (dropout on) with SGD + momentum; records the first step's outputs and gradients and
// the parameters at the end, all copied to the host.
// prediction_only: the forward the trainer runs (ForwardOutputs::prediction: Drug2Path may take its
// re-associated form), else forward() with the maps.
StepResult train_three_steps(const std::string& attention, Device device, bool prediction_only = false) {
  const DispaConfig c = mid_config(attention);
  Dispa model(c, 5);
  model.to(device);
  model.train();
  const Batch batch = mid_batch(c, device);
  SGD sgd(model.named_parameters(), 1e-2, 0.9, 1e-4);
  StepResult r;
  for (int step = 0; step < 3; ++step) {
    sgd.zero_grad();
    const DispaOutputs out = prediction_only
                                 ? model.forward_tokens(model.encode(batch.inputs), ForwardOutputs::prediction)
                                 : model.forward(batch.inputs);
    const Tensor loss = mse_loss(out.prediction, batch.target);
    loss.backward();
    if (step == 0) {
      r.first_prediction = out.prediction.to(Device::cpu());
      r.first_loss = loss.to(Device::cpu());
      for (const auto& [name, p] : model.named_parameters()) r.first_grads[name] = p.grad().to(Device::cpu());
    }
    sgd.step();
  }
  for (const auto& [name, p] : model.named_parameters()) r.final_params[name] = p.to(Device::cpu());
  for (const auto& [name, t] : model.named_buffers()) r.final_params[name] = t.to(Device::cpu());
  return r;
}

TEST_CASE("gpu parity: DiSPA training steps with dropout match the CPU (differential and vanilla)") {
  for (const std::string attention : {"differential", "vanilla"}) {
    CAPTURE(attention);
    const StepResult cpu = train_three_steps(attention, Device::cpu());
    const StepResult gpu = train_three_steps(attention, kCuda);
    CHECK_CLOSE_TENSOR(gpu.first_prediction, cpu.first_prediction, 1e-5, 1e-3);
    CHECK_CLOSE_TENSOR(gpu.first_loss, cpu.first_loss, 1e-6, 1e-4);
    REQUIRE(gpu.first_grads.size() == cpu.first_grads.size());
    for (const auto& [name, g] : cpu.first_grads) {
      CAPTURE(name);
      // Absolute floor 1e-6: biases feeding a training-mode BatchNorm have an exact zero gradient,
      // so both devices hold float32 rounding noise (~1e-7) there.
      double scale = 0;
      for (double v : g.to_f64_vector()) scale = std::max(scale, std::abs(v));
      CHECK_CLOSE_TENSOR(gpu.first_grads.at(name), g, 1e-4 * scale + 1e-6, 1e-3);
    }
    for (const auto& [name, p] : cpu.final_params) {
      CAPTURE(name);
      CHECK_CLOSE_TENSOR(gpu.final_params.at(name), p, 1e-5, 1e-4);
    }
  }
}

}  // namespace

TEST_CASE("gpu parity: prediction-only forwards (inference kernels, re-associated Drug2Path) match the CPU") {
  for (const std::string attention : {"differential", "vanilla"}) {
    CAPTURE(attention);
    const StepResult cpu = train_three_steps(attention, Device::cpu(), true);
    const StepResult gpu = train_three_steps(attention, Device::cuda(), true);
    CHECK_CLOSE_TENSOR(gpu.first_prediction, cpu.first_prediction, 1e-5, 1e-3);
    for (const auto& [name, p] : cpu.final_params) {
      CAPTURE(name);
      CHECK_CLOSE_TENSOR(gpu.final_params.at(name), p, 1e-5, 1e-4);
    }
    // Eval: Dispa::predict (CPU: the inference kernels; CUDA: the reference composition).
    const DispaConfig c = mid_config(attention);
    auto predict_on = [&](Device device) {
      Dispa model(c, 9);
      model.to(device);
      model.eval();
      NoGrad no_grad;
      return model.predict(mid_batch(c, device).inputs).to(Device::cpu());
    };
    CHECK_CLOSE_TENSOR(predict_on(Device::cuda()), predict_on(Device::cpu()), 1e-5, 1e-4);
  }
}
