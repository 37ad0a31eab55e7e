// `dispa smoke`: trains a 2-layer MLP (linear -> relu -> linear, PyTorch default init, Adam, full
// batch) on a synthetic regression for a few seconds, logging the loss, so a fresh build (CPU or
// CUDA) can be checked end to end: ops, autograd, optimizer. The target is a fixed random teacher
// MLP, so the loss should fall by orders of magnitude. Exit code 1 when the loss did not fall.
// Needs engine/ops/matmul.cpp and loss.cpp (tools/CMakeLists.txt leaves this file out until then).
// Progress goes to stderr with fmt, not engine/log.h: namespace dispa::log clashes with the
// function dispa::log(const Tensor&) from engine/ops/elementwise.h, so one file cannot include both.
#include <chrono>
#include <cmath>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "engine/autograd.h"
#include "engine/nn/init.h"
#include "engine/nn/module.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/matmul.h"
#include "engine/optim/optimizer.h"
#include "tools/command.h"

namespace dispa::tools {
namespace {

struct SmokeOptions {
  double seconds = 3.0;
  int64_t samples = 1024, inputs = 16, hidden = 64;
  double lr = 1e-2;
  uint64_t seed = 0;
  std::string device = "cpu";
};

struct SmokeResult {
  int64_t steps = 0;
  double initial_loss = 0, final_loss = 0, seconds = 0;
};

struct Dense : Module {
  Tensor weight, bias;
  Dense(int64_t in, int64_t out, Generator& gen) {
    weight = register_parameter("weight", Tensor::empty({out, in}));
    bias = register_parameter("bias", Tensor::empty({out}));
    init::linear_default_(weight, bias, gen);
  }
  Tensor forward(const Tensor& x) const { return linear(x, weight, bias); }
};

struct Mlp : Module {
  Dense fc1, fc2;
  Mlp(int64_t in, int64_t hidden, Generator& gen) : fc1(in, hidden, gen), fc2(hidden, 1, gen) {
    register_module("fc1", fc1);
    register_module("fc2", fc2);
  }
  Tensor forward(const Tensor& x) const { return fc2.forward(relu(fc1.forward(x))); }  // [N, in] -> [N, 1]
};

SmokeResult run_smoke(const SmokeOptions& o) {
  DISPA_CHECK(o.seconds > 0 && o.samples > 0 && o.inputs > 0 && o.hidden > 0,
              "smoke: seconds, samples, inputs and hidden must be positive");
  const Device device = parse_device(o.device);
  Generator data_gen(o.seed + 1);
  const Tensor x = Tensor::uniform({o.samples, o.inputs}, -1.0, 1.0, data_gen.seed(),
                                   data_gen.reserve(o.samples * o.inputs))
                       .to(device);
  Tensor target;
  {
    NoGrad no_grad;
    Mlp teacher(o.inputs, o.hidden / 2 > 0 ? o.hidden / 2 : 1, data_gen);
    teacher.to(device);
    target = teacher.forward(x).detach();
  }
  Generator gen(o.seed);
  Mlp model(o.inputs, o.hidden, gen);
  model.to(device);
  Adam opt(model.named_parameters(), o.lr);
  fmt::print(stderr, "smoke: MLP {} -> {} -> 1 ({} parameters) on {}, {} samples, Adam lr {}, {} s\n", o.inputs,
             o.hidden, model.parameter_count(), device, o.samples, o.lr, o.seconds);

  SmokeResult r;
  const auto start = std::chrono::steady_clock::now();
  auto last_log = start;
  for (;;) {
    opt.zero_grad();
    Tensor loss = mse_loss(model.forward(x), target);
    const double value = loss.item();
    DISPA_CHECK(std::isfinite(value), "smoke: loss is {} at step {}", value, r.steps);
    if (r.steps == 0) r.initial_loss = value;
    r.final_loss = value;
    loss.backward();
    opt.step();
    ++r.steps;
    const auto now = std::chrono::steady_clock::now();
    r.seconds = std::chrono::duration<double>(now - start).count();
    if (std::chrono::duration<double>(now - last_log).count() >= 0.5 || r.steps == 1) {
      fmt::print(stderr, "step {:6d}  loss {:.6e}  {:.1f} s\n", r.steps, value, r.seconds);
      last_log = now;
    }
    if (r.seconds >= o.seconds) break;
  }
  return r;
}

const CommandRegistration registration("smoke", [](CLI::App& app, int& exit_code) {
  auto options = std::make_shared<SmokeOptions>();
  CLI::App* cmd = app.add_subcommand("smoke", "Train a small MLP on synthetic data for a few seconds (build check)");
  cmd->add_option("--seconds", options->seconds, "How long to train")->capture_default_str();
  cmd->add_option("--samples", options->samples, "Synthetic samples (one full batch)")->capture_default_str();
  cmd->add_option("--inputs", options->inputs, "Input features")->capture_default_str();
  cmd->add_option("--hidden", options->hidden, "Hidden width")->capture_default_str();
  cmd->add_option("--lr", options->lr, "Adam learning rate")->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed for data and initialisation")->capture_default_str();
  cmd->add_option("--device", options->device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->callback([options, &exit_code] {
    const SmokeResult r = run_smoke(*options);
    // The result line goes to stdout (machine-readable); progress went to stderr.
    fmt::print("steps {} seconds {:.2f} initial_loss {:.6e} final_loss {:.6e}\n", r.steps, r.seconds, r.initial_loss,
               r.final_loss);
    exit_code = r.final_loss < 0.1 * r.initial_loss ? 0 : 1;
  });
});

}  // namespace
}  // namespace dispa::tools
