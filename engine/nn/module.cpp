// Module registry: hierarchical names, state dicts and in-place moves, following PyTorch's
// nn.Module (named_parameters yields a module's own tensors first, then each child's, depth first;
// a tensor registered under two names, i.e. tied weights, is yielded once; state_dict keeps both
// names; load_state_dict reports every missing/unexpected key and shape mismatch at once).
#include "engine/nn/module.h"

#include <set>
#include <unordered_set>

#include "engine/autograd.h"

namespace dispa {
namespace {

void check_local_name(const char* what, const std::string& name) {
  DISPA_CHECK(!name.empty(), "Module::{}: empty name", what);
  DISPA_CHECK(name.find('.') == std::string::npos,
              "Module::{}: name '{}' contains '.', which separates path components", what, name);
}

std::string join_path(const std::string& prefix, const std::string& name) {
  return prefix.empty() ? name : prefix + "." + name;
}

// Keeps the first occurrence of each TensorImpl (PyTorch's remove_duplicate=True).
std::vector<std::pair<std::string, Tensor>> unique_tensors(std::vector<std::pair<std::string, Tensor>> all) {
  std::unordered_set<const TensorImpl*> seen;
  std::vector<std::pair<std::string, Tensor>> out;
  out.reserve(all.size());
  for (auto& entry : all)
    if (seen.insert(entry.second.impl_ptr().get()).second) out.push_back(std::move(entry));
  return out;
}

// Rebinds t's shared TensorImpl to storage on `device`; every handle of t sees the move.
void move_impl(const Tensor& t, Device device) {
  if (!t.defined() || t.device() == device) return;
  Tensor moved = t.to(device);
  TensorImpl& impl = t.impl();
  impl.storage = moved.impl().storage;
  impl.offset = moved.impl().offset;
  if (impl.grad) {
    Tensor grad(impl.grad);
    impl.grad = grad.to(device).impl_ptr();
  }
}

}  // namespace

Tensor& Module::register_parameter(const std::string& name, Tensor t) {
  check_local_name("register_parameter", name);
  DISPA_CHECK(t.defined(), "Module::register_parameter: '{}' is an undefined tensor", name);
  DISPA_CHECK(is_floating(t.dtype()), "Module::register_parameter: '{}' must be f32 or f64, got {}", name,
              t.describe());
  for (const auto& [existing, _] : parameters_)
    DISPA_CHECK(existing != name, "Module::register_parameter: '{}' is already a parameter", name);
  for (const auto& [existing, _] : buffers_)
    DISPA_CHECK(existing != name, "Module::register_parameter: '{}' is already a buffer", name);
  for (const auto& [existing, _] : children_)
    DISPA_CHECK(existing != name, "Module::register_parameter: '{}' is already a child module", name);
  t.set_requires_grad(true);
  if (t.name().empty()) t.set_name(name);
  parameters_.emplace_back(name, std::move(t));
  return parameters_.back().second;
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  check_local_name("register_buffer", name);
  DISPA_CHECK(t.defined(), "Module::register_buffer: '{}' is an undefined tensor", name);
  for (const auto& [existing, _] : parameters_)
    DISPA_CHECK(existing != name, "Module::register_buffer: '{}' is already a parameter", name);
  for (const auto& [existing, _] : buffers_)
    DISPA_CHECK(existing != name, "Module::register_buffer: '{}' is already a buffer", name);
  for (const auto& [existing, _] : children_)
    DISPA_CHECK(existing != name, "Module::register_buffer: '{}' is already a child module", name);
  if (t.name().empty()) t.set_name(name);
  buffers_.emplace_back(name, std::move(t));
  return buffers_.back().second;
}

void Module::add_child(const std::string& name, Module* child) {
  check_local_name("register_module", name);
  DISPA_CHECK(child != nullptr, "Module::register_module: '{}' is null", name);
  DISPA_CHECK(child != this, "Module::register_module: '{}' is the module itself", name);
  for (const auto& [existing, _] : parameters_)
    DISPA_CHECK(existing != name, "Module::register_module: '{}' is already a parameter", name);
  for (const auto& [existing, _] : buffers_)
    DISPA_CHECK(existing != name, "Module::register_module: '{}' is already a buffer", name);
  for (const auto& [existing, _] : children_)
    DISPA_CHECK(existing != name, "Module::register_module: '{}' is already a child module", name);
  children_.emplace_back(name, child);
}

void Module::collect(const std::string& prefix, bool buffers,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [name, t] : buffers ? buffers_ : parameters_) out.emplace_back(join_path(prefix, name), t);
  for (const auto& [name, child] : children_) child->collect(join_path(prefix, name), buffers, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", false, all);
  return unique_tensors(std::move(all));
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", true, all);
  return unique_tensors(std::move(all));
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [_, t] : named_parameters()) out.push_back(t);
  return out;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::vector<std::pair<std::string, Tensor>> all;
  collect("", false, all);
  collect("", true, all);
  std::map<std::string, Tensor> out;
  for (auto& [name, t] : all) out.emplace(name, t);
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::vector<std::pair<std::string, Tensor>> targets;
  collect("", false, targets);
  collect("", true, targets);

  // Validate everything before copying anything, so a failed load leaves the module unchanged.
  std::vector<std::string> missing, unexpected, mismatched;
  std::set<std::string> known;
  for (const auto& [name, dst] : targets) {
    known.insert(name);
    auto it = state.find(name);
    if (it == state.end()) {
      missing.push_back(name);
      continue;
    }
    const Tensor& src = it->second;
    if (!src.defined()) {
      mismatched.push_back(fmt::format("'{}' is an undefined tensor in the state dict", name));
    } else if (src.shape() != dst.shape()) {
      mismatched.push_back(fmt::format("size mismatch for '{}': copying a tensor of shape {} from the state "
                                       "dict, the shape in the module is {}",
                                       name, shape_str(src.shape()), shape_str(dst.shape())));
    } else if (is_floating(src.dtype()) != is_floating(dst.dtype())) {
      mismatched.push_back(fmt::format("dtype mismatch for '{}': state dict holds {}, the module holds {}", name,
                                       src.dtype(), dst.dtype()));
    }
  }
  for (const auto& [name, _] : state)
    if (!known.count(name)) unexpected.push_back(name);

  std::vector<std::string> problems = mismatched;  // shape errors count even when not strict, as PyTorch
  if (strict && !missing.empty())
    problems.push_back(fmt::format("missing key(s): {}", fmt::join(missing, ", ")));
  if (strict && !unexpected.empty())
    problems.push_back(fmt::format("unexpected key(s): {}", fmt::join(unexpected, ", ")));
  DISPA_CHECK(problems.empty(), "load_state_dict: {} error(s): {}", problems.size(), fmt::join(problems, "; "));

  NoGrad no_grad;
  for (auto& [name, dst] : targets) {
    auto it = state.find(name);
    if (it == state.end()) continue;
    // Values are converted to the module's dtype (f64 checkpoint into an f32 model), as copy_ does.
    const Tensor src = it->second.to(dst.dtype());
    dst.copy_from(src);
  }
}

void Module::train(bool training) {
  training_ = training;
  for (auto& [_, child] : children_) child->train(training);
}

void Module::zero_grad() {
  for (auto& [_, t] : named_parameters()) t.zero_grad();
}

void Module::to(Device device) {
  for (auto& [_, t] : named_parameters()) move_impl(t, device);
  for (auto& [_, t] : named_buffers()) move_impl(t, device);
}

int64_t Module::parameter_count() const {
  int64_t n = 0;
  for (const auto& [_, t] : named_parameters()) n += t.numel();
  return n;
}

}  // namespace dispa
