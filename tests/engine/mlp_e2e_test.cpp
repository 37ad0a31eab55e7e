// End to end: a 2-layer MLP (linear -> relu -> linear, PyTorch default init) learns a fixed
// synthetic regression with Adam, full batch, and its weights survive a safetensors round trip.
// The target is a random "teacher" MLP of the same form, so a low loss is reachable. Built as the
// engine_e2e executable only when engine/ops/matmul.cpp and engine/ops/loss.cpp exist.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "engine/autograd.h"
#include "engine/io/safetensors.h"
#include "engine/nn/init.h"
#include "engine/nn/module.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/matmul.h"
#include "engine/optim/optimizer.h"

using namespace dispa;

namespace {

struct Dense : Module {
  Tensor weight, bias;
  Dense(int64_t in, int64_t out, Generator& gen) {
    weight = register_parameter("weight", Tensor::empty({out, in}));
    bias = register_parameter("bias", Tensor::empty({out}));
    init::linear_default_(weight, bias, gen);
  }
  Tensor forward(const Tensor& x) const { return linear(x, weight, bias); }  // [N, in] -> [N, out]
};

struct Mlp : Module {
  Dense fc1, fc2;
  Mlp(int64_t in, int64_t hidden, Generator& gen) : fc1(in, hidden, gen), fc2(hidden, 1, gen) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) const { return fc2.forward(relu(fc1.forward(x))); }
};

constexpr int64_t kN = 256, kIn = 8, kHidden = 32;

}  // namespace

TEST_CASE("e2e: a 2-layer MLP learns a synthetic regression with Adam") {
  Generator data_gen(2024);
  const Tensor x = Tensor::uniform({kN, kIn}, -1.0, 1.0, data_gen.seed(), data_gen.reserve(kN * kIn));
  Tensor target;
  {
    NoGrad no_grad;
    Mlp teacher(kIn, 16, data_gen);
    target = teacher.forward(x).detach();  // [N, 1]
  }

  Generator gen(7);
  Mlp model(kIn, kHidden, gen);
  CHECK(model.parameter_count() == kIn * kHidden + kHidden + kHidden + 1);
  Adam opt(model.named_parameters(), 1e-2);

  double first = 0, last = 0;
  for (int step = 0; step < 600; ++step) {
    opt.zero_grad();
    Tensor loss = mse_loss(model.forward(x), target);
    if (step == 0) first = loss.item();
    last = loss.item();
    REQUIRE(std::isfinite(last));
    loss.backward();
    opt.step();
  }
  MESSAGE("mse: first step " << first << ", last step " << last);
  CHECK(tape_size() == 0);
  CHECK(last < 0.02 * first);

  // Save, load into a fresh model with different initial weights: identical predictions.
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("dispa_mlp_e2e_" + std::to_string(::getpid()) + ".safetensors")).string();
  save_safetensors(path, model.state_dict(), {{"steps", "600"}});
  Generator other_gen(99);
  Mlp restored(kIn, kHidden, other_gen);
  const SafetensorsFile file = load_safetensors(path);
  std::filesystem::remove(path);
  CHECK(file.metadata.at("steps") == "600");
  restored.load_state_dict(file.tensors);
  NoGrad no_grad;
  CHECK(restored.forward(x).to_vector<float>() == model.forward(x).to_vector<float>());
}
