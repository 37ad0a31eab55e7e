// Module / Parameter registry. A Module owns named parameters (tensors with requires_grad),
// named buffers (running statistics: saved in checkpoints, never optimised) and child modules;
// names compose hierarchically ("head.blocks.0.linear.weight") exactly as PyTorch's state_dict,
// which is what optimizers iterate and checkpoints (safetensors) store.
#pragma once
#include <deque>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace dispa {

class Module {
 public:
  virtual ~Module() = default;
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // Parameters and buffers in registration order, children depth-first, prefixed by path.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<Tensor> parameters() const;
  // Parameters and buffers together, as one state dict (for checkpoints).
  std::map<std::string, Tensor> state_dict() const;
  // Copies values from `state` into the registered tensors (same shapes); every registered name
  // must be present unless strict is false; unknown names in `state` are an error when strict.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  void train(bool training = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Moves every parameter and buffer to `device` in place (the Tensor handles stay valid).
  void to(Device device);
  int64_t parameter_count() const;
  // Direct children in registration order (for printing a model summary, or walking it).
  std::vector<std::pair<std::string, Module*>> named_children() const { return children_; }

 protected:
  // Registers and returns t (requires_grad is set). Names must be unique within the module.
  Tensor& register_parameter(const std::string& name, Tensor t);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <typename M> M& register_module(const std::string& name, M& child) {
    add_child(name, &child);
    return child;
  }
  void add_child(const std::string& name, Module* child);

 private:
  void collect(const std::string& prefix, bool buffers, std::vector<std::pair<std::string, Tensor>>& out) const;
  // std::map would reorder; deques keep registration order and, unlike vectors, keep the
  // references register_parameter returns valid while more are added. Tensors are stored by
  // value: the handle shares the TensorImpl, so callers' copies see in-place updates.
  std::deque<std::pair<std::string, Tensor>> parameters_;
  std::deque<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

}  // namespace dispa
