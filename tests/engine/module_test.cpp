// Module registry: PyTorch state_dict names and order, train/eval, zero_grad, moves, strict loads.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/nn/module.h"
#include "engine/ops/fill.h"

using namespace dispa;

namespace {

struct TinyLinear : Module {
  Tensor weight, bias;
  TinyLinear(int64_t in, int64_t out) {
    weight = register_parameter("weight", Tensor::zeros({out, in}));
    bias = register_parameter("bias", Tensor::zeros({out}));
  }
};

struct TinyNorm : Module {
  Tensor weight, running_mean, num_batches_tracked;
  explicit TinyNorm(int64_t c) {
    weight = register_parameter("weight", Tensor::ones({c}));
    running_mean = register_buffer("running_mean", Tensor::zeros({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
  }
};

struct Block : Module {
  TinyLinear linear;
  TinyNorm bn;
  Block(int64_t in, int64_t out) : linear(in, out), bn(out) {
    register_module("linear", linear);
    register_module("bn", bn);
  }
};

// A ModuleList: children named "0", "1", ...
struct Blocks : Module {
  std::vector<std::unique_ptr<Block>> items;
  void add(int64_t in, int64_t out) {
    items.push_back(std::make_unique<Block>(in, out));
    register_module(std::to_string(items.size() - 1), *items.back());
  }
};

struct Head : Module {
  Blocks blocks;
  TinyLinear out{2, 1};
  Head() {
    blocks.add(4, 3);
    blocks.add(3, 2);
    register_module("blocks", blocks);
    register_module("out", out);
  }
};

// The child is registered before the module's own parameter: PyTorch still lists own tensors first.
struct Model : Module {
  Head head;
  Tensor scale;
  Model() {
    register_module("head", head);
    scale = register_parameter("scale", Tensor::ones({1}));
  }
};

std::vector<std::string> names_of(const std::vector<std::pair<std::string, Tensor>>& named) {
  std::vector<std::string> out;
  for (const auto& [name, _] : named) out.push_back(name);
  return out;
}

struct Tied : Module {
  Tensor shared;
  Tied() {
    shared = register_parameter("a", Tensor::zeros({3}));
    register_parameter("b", shared);  // the same tensor under a second name (weight tying)
  }
};

struct Registrar : Module {
  using Module::register_buffer;
  using Module::register_module;
  using Module::register_parameter;
};

}  // namespace

TEST_CASE("module: hierarchical names follow PyTorch's named_parameters order") {
  Model m;
  CHECK(names_of(m.named_parameters()) ==
        std::vector<std::string>{"scale", "head.blocks.0.linear.weight", "head.blocks.0.linear.bias",
                                 "head.blocks.0.bn.weight", "head.blocks.1.linear.weight", "head.blocks.1.linear.bias",
                                 "head.blocks.1.bn.weight", "head.out.weight", "head.out.bias"});
  CHECK(names_of(m.named_buffers()) ==
        std::vector<std::string>{"head.blocks.0.bn.running_mean", "head.blocks.0.bn.num_batches_tracked",
                                 "head.blocks.1.bn.running_mean", "head.blocks.1.bn.num_batches_tracked"});
  const auto sd = m.state_dict();
  CHECK(sd.size() == 13);
  CHECK(sd.count("head.blocks.1.bn.num_batches_tracked") == 1);
  CHECK(sd.at("head.blocks.0.linear.weight").shape() == Shape{3, 4});
  // Handles share the module's tensors: a write through the state dict is visible in the module.
  Tensor w = sd.at("head.out.weight");
  fill_(w, 7.0);
  CHECK(m.head.out.weight.to_f64_vector() == std::vector<double>{7, 7});
  CHECK(m.parameter_count() == 1 + (12 + 3 + 3) + (6 + 2 + 2) + (2 + 1));
  CHECK(m.parameters().size() == 9);
  for (const Tensor& p : m.parameters()) CHECK(p.requires_grad());
  CHECK(!m.head.blocks.items[0]->bn.running_mean.requires_grad());
  CHECK(m.named_children().size() == 1);
}

TEST_CASE("module: tied weights are listed once but saved under both names") {
  Tied t;
  CHECK(names_of(t.named_parameters()) == std::vector<std::string>{"a"});
  CHECK(t.parameter_count() == 3);
  CHECK(t.state_dict().size() == 2);
}

TEST_CASE("module: train/eval are recursive; zero_grad drops every gradient") {
  Model m;
  CHECK(m.is_training());
  m.eval();
  CHECK(!m.is_training());
  CHECK(!m.head.blocks.items[1]->bn.is_training());
  CHECK(!m.head.out.is_training());
  m.train();
  CHECK(m.head.blocks.items[0]->linear.is_training());

  for (Tensor& p : m.parameters()) p.accumulate_grad(Tensor::ones(p.shape()));
  CHECK(m.scale.has_grad());
  CHECK(m.head.blocks.items[1]->linear.weight.has_grad());
  m.zero_grad();
  for (const Tensor& p : m.parameters()) CHECK(!p.has_grad());
}

TEST_CASE("module: load_state_dict copies values and converts dtypes") {
  Model a, b;
  int k = 0;
  for (Tensor& p : a.parameters()) fill_(p, 0.5 + k++);
  fill_(a.head.blocks.items[0]->bn.num_batches_tracked, 3);
  std::map<std::string, Tensor> state;
  for (auto& [name, t] : a.state_dict()) state[name] = t.clone();
  // An f64 checkpoint loads into the f32 model.
  state["scale"] = Tensor::full({1}, 2.25, DType::f64);
  b.load_state_dict(state);
  CHECK(b.scale.dtype() == DType::f32);
  CHECK(b.scale.item() == 2.25);
  CHECK(b.head.out.bias.to_f64_vector() == a.head.out.bias.to_f64_vector());
  CHECK(b.head.blocks.items[0]->bn.num_batches_tracked.item() == 3);
  // The module's tensors were written in place: old handles see the new values.
  CHECK(b.head.blocks.items[1]->linear.weight.same(b.state_dict().at("head.blocks.1.linear.weight")));
}

TEST_CASE("module: strict load names missing, unexpected and mismatched keys and changes nothing") {
  Model m;
  std::map<std::string, Tensor> state;
  for (auto& [name, t] : m.state_dict()) state[name] = Tensor::full(t.shape(), 9.0, t.dtype());
  state.erase("head.out.bias");
  state["head.extra"] = Tensor::zeros({1});
  CHECK_THROWS_WITH_AS(m.load_state_dict(state), doctest::Contains("missing key(s): head.out.bias"), Error);
  CHECK_THROWS_WITH_AS(m.load_state_dict(state), doctest::Contains("unexpected key(s): head.extra"), Error);
  CHECK(m.scale.item() == 1.0);  // validation happens before any copy

  // Non-strict ignores missing and unexpected names and loads the rest.
  m.load_state_dict(state, /*strict=*/false);
  CHECK(m.scale.item() == 9.0);
  CHECK(m.head.out.bias.item() == 0.0);

  // Shape mismatches are errors even when not strict (as PyTorch), naming both shapes.
  state["head.out.weight"] = Tensor::zeros({2, 1});
  CHECK_THROWS_WITH_AS(m.load_state_dict(state, false),
                       doctest::Contains("size mismatch for 'head.out.weight': copying a tensor of shape [2, 1]"), Error);
  CHECK_THROWS_WITH_AS(m.load_state_dict(state, false), doctest::Contains("the shape in the module is [1, 2]"), Error);
}

TEST_CASE("module: registration errors name the offending entry") {
  Registrar r;
  r.register_parameter("w", Tensor::zeros({2}));
  CHECK_THROWS_WITH_AS(r.register_parameter("w", Tensor::zeros({2})), doctest::Contains("'w' is already a parameter"),
                       Error);
  CHECK_THROWS_WITH_AS(r.register_buffer("w", Tensor::zeros({2})), doctest::Contains("'w' is already a parameter"), Error);
  CHECK_THROWS_WITH_AS(r.register_parameter("a.b", Tensor::zeros({2})), doctest::Contains("contains '.'"), Error);
  CHECK_THROWS_WITH_AS(r.register_parameter("idx", Tensor::zeros({2}, DType::i64)), doctest::Contains("f32 or f64"),
                       Error);
  TinyLinear child(1, 1);
  CHECK_THROWS_WITH_AS(r.register_module("w", child), doctest::Contains("'w' is already a parameter"), Error);
  CHECK_THROWS_WITH_AS(r.register_module("self", r), doctest::Contains("module itself"), Error);
}

TEST_CASE("module: to(device) keeps handles valid") {
  Model m;
  Tensor w = m.head.out.weight;
  m.to(Device::cpu());  // already there: nothing moves
  CHECK(w.same(m.head.out.weight));
  CHECK(w.is_cpu());
  if (!cuda_available()) {
    CHECK_THROWS_AS(m.to(Device::cuda()), Error);
  } else {
    fill_(w, 3.0);
    m.to(Device::cuda());
    CHECK(w.is_cuda());  // the caller's handle moved with the module
    CHECK(m.head.blocks.items[0]->bn.running_mean.is_cuda());
    m.to(Device::cpu());
    CHECK(w.to_f64_vector() == std::vector<double>{3, 3});
  }
}
