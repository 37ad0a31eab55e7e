// SGD, Adam/AdamW and gradient clipping (update rules in optim_math.h, as torch.optim). CPU
// parameters are updated tensor by tensor with OpenMP loops (f32 or f64); CUDA parameters (f32,
// one device) with one fused kernel launch over a device table of pointers (optim.cu), so a
// step costs one launch however many tensors the model has. Scalars that depend on the step
// (bias corrections, 1 - lr*wd) are computed here in double and passed in the tensor's precision.
#include "engine/optim/optimizer.h"

#include <cmath>
#include <set>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"

namespace dispa {
namespace {

static_assert(sizeof(OptimTensorEntry) % sizeof(int64_t) == 0, "table rows must be whole 8-byte words");

// Copies rows into `buffer` on `device` (reallocated only when too small or elsewhere).
const OptimTensorEntry* upload_rows(const std::vector<OptimTensorEntry>& rows, Device device, Tensor& buffer) {
  const int64_t words = static_cast<int64_t>(rows.size() * sizeof(OptimTensorEntry) / sizeof(int64_t));
  if (!buffer.defined() || buffer.numel() < words || buffer.device() != device)
    buffer = Tensor::empty({words}, DType::i64, device);
  copy_bytes(buffer.raw_data(), device, rows.data(), Device::cpu(), rows.size() * sizeof(OptimTensorEntry));
  return static_cast<const OptimTensorEntry*>(buffer.raw_data());
}

// Rows for tensors that are non-empty; start is the running element count.
OptimTensorEntry make_row(const Tensor& p, const Tensor& g, const Tensor* s1, const Tensor* s2, int64_t start) {
  OptimTensorEntry e{};
  e.param = p.raw_data();
  e.grad = g.raw_data();
  e.state1 = s1 ? s1->raw_data() : nullptr;
  e.state2 = s2 ? s2->raw_data() : nullptr;
  e.numel = p.numel();
  e.start = start;
  return e;
}

template <typename T>
AdamScalars<T> cast_scalars(const AdamScalars<double>& s) {
  return {T(s.beta1), T(s.beta2), T(s.eps), T(s.weight_decay), T(s.decay_factor), s.decoupled};
}
template <typename T>
SgdScalars<T> cast_scalars(const SgdScalars<double>& s) {
  return {T(s.lr), T(s.momentum), T(s.weight_decay)};
}

}  // namespace

// ---- Optimizer ---------------------------------------------------------------------------------

Optimizer::Optimizer(NamedTensors params, double lr) : params_(std::move(params)), lr_(lr) {
  DISPA_CHECK(lr >= 0 && std::isfinite(lr), "optimizer: learning rate must be finite and >= 0, got {}", lr);
  std::set<std::string> names;
  for (const auto& [name, p] : params_) {
    DISPA_CHECK(p.defined(), "optimizer: parameter '{}' is undefined", name);
    DISPA_CHECK(is_floating(p.dtype()), "optimizer: parameter '{}' must be f32 or f64, got {}", name, p.describe());
    DISPA_CHECK(names.insert(name).second, "optimizer: parameter name '{}' appears twice", name);
  }
}

void Optimizer::zero_grad() {
  for (auto& [_, p] : params_) p.zero_grad();
}

void Optimizer::active_params(std::vector<size_t>& cpu, std::vector<size_t>& cuda) const {
  cpu.clear();
  cuda.clear();
  for (size_t i = 0; i < params_.size(); ++i) {
    const auto& [name, p] = params_[i];
    if (!p.has_grad()) continue;
    const Tensor g = p.grad();
    DISPA_CHECK(g.shape() == p.shape() && g.dtype() == p.dtype() && g.device() == p.device(),
                "optimizer: gradient {} does not match parameter '{}' {}", g.describe(), name, p.describe());
    if (p.is_cuda()) {
      DISPA_CHECK(p.dtype() == DType::f32, "optimizer: CUDA parameters must be f32, '{}' is {}", name, p.describe());
      if (!cuda.empty())
        DISPA_CHECK(p.device() == params_[cuda.front()].second.device(),
                    "optimizer: parameters on several CUDA devices ('{}' on {}, '{}' on {})", params_[cuda.front()].first,
                    params_[cuda.front()].second.device(), name, p.device());
      cuda.push_back(i);
    } else {
      cpu.push_back(i);
    }
  }
}

const OptimTensorEntry* Optimizer::upload_table(const std::vector<OptimTensorEntry>& rows, Device device) {
  return upload_rows(rows, device, table_);
}

void Optimizer::ensure_state(std::vector<Tensor>& state) const {
  state.resize(params_.size());
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i].second;
    Tensor& s = state[i];
    if (!s.defined() || s.shape() != p.shape() || s.dtype() != p.dtype()) {
      s = Tensor::zeros_like(p);
    } else if (s.device() != p.device()) {
      s = s.to(p.device());
    }
  }
}

void Optimizer::restore(const std::map<std::string, Tensor>& state,
                        const std::vector<std::pair<std::string, Tensor*>>& tensors,
                        const std::vector<std::pair<std::string, int64_t*>>& counters, const char* who) {
  std::vector<std::string> missing, unexpected, bad;
  std::set<std::string> expected;
  for (const auto& [key, dst] : tensors) {
    expected.insert(key);
    auto it = state.find(key);
    if (it == state.end()) {
      missing.push_back(key);
    } else if (!it->second.defined() || it->second.shape() != dst->shape() || !is_floating(it->second.dtype())) {
      bad.push_back(fmt::format("'{}' is {}, expected {}", key, it->second.describe(), dst->describe()));
    }
  }
  for (const auto& [key, dst] : counters) {
    expected.insert(key);
    auto it = state.find(key);
    if (it == state.end()) {
      missing.push_back(key);
    } else if (!it->second.defined() || it->second.numel() != 1 || is_floating(it->second.dtype()) ||
               it->second.item() < 0) {
      bad.push_back(fmt::format("'{}' must be one non-negative integer, got {}", key, it->second.describe()));
    }
  }
  for (const auto& [key, _] : state)
    if (!expected.count(key)) unexpected.push_back(key);
  if (!missing.empty()) bad.push_back(fmt::format("missing key(s): {}", fmt::join(missing, ", ")));
  if (!unexpected.empty()) bad.push_back(fmt::format("unexpected key(s): {}", fmt::join(unexpected, ", ")));
  DISPA_CHECK(bad.empty(), "{}: {} error(s): {}", who, bad.size(), fmt::join(bad, "; "));

  for (const auto& [key, dst] : tensors) dst->copy_from(state.at(key).to(dst->dtype()));
  for (const auto& [key, dst] : counters) *dst = static_cast<int64_t>(state.at(key).item());
}

// ---- SGD -------------------------------------------------------------------------------------

SGD::SGD(NamedTensors params, double lr, double momentum, double weight_decay)
    : Optimizer(std::move(params), lr), momentum_(momentum), weight_decay_(weight_decay) {
  DISPA_CHECK(momentum >= 0, "SGD: momentum must be >= 0, got {}", momentum);
  DISPA_CHECK(weight_decay >= 0, "SGD: weight_decay must be >= 0, got {}", weight_decay);
  if (momentum_ != 0) ensure_state(velocity_);
}

void SGD::step() {
  NoGrad no_grad;
  std::vector<size_t> cpu, gpu;
  active_params(cpu, gpu);
  if (momentum_ != 0) ensure_state(velocity_);
  ++step_;
  const SgdScalars<double> scalars{lr_, momentum_, weight_decay_};

  for (size_t i : cpu) {
    Tensor& p = params_[i].second;
    const Tensor g = p.grad();
    dispatch_floating(p.dtype(), "SGD", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const SgdScalars<T> s = cast_scalars<T>(scalars);
      T* pp = p.data<T>();
      const T* gp = g.data<T>();
      T* buf = momentum_ != 0 ? velocity_[i].data<T>() : nullptr;
      const int64_t n = p.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t j = 0; j < n; ++j) sgd_update<T>(pp[j], gp[j], buf ? buf + j : nullptr, s);
    });
  }
  if (gpu.empty()) return;
  std::vector<OptimTensorEntry> rows;
  int64_t total = 0;
  for (size_t i : gpu) {
    const Tensor& p = params_[i].second;
    if (p.numel() == 0) continue;
    rows.push_back(make_row(p, p.grad(), momentum_ != 0 ? &velocity_[i] : nullptr, nullptr, total));
    total += p.numel();
  }
  if (rows.empty()) return;
  DISPA_ON_CUDA(cuda::sgd_step_fused(upload_table(rows, params_[gpu.front()].second.device()), static_cast<int>(rows.size()), total,
                                     cast_scalars<float>(scalars)));
}

std::map<std::string, Tensor> SGD::state() const {
  std::map<std::string, Tensor> out;
  out["step"] = Tensor::scalar(static_cast<double>(step_), DType::i64);
  for (size_t i = 0; i < velocity_.size(); ++i) out[params_[i].first + ".momentum_buffer"] = velocity_[i].clone();
  return out;
}

void SGD::load_state(const std::map<std::string, Tensor>& state) {
  std::vector<std::pair<std::string, Tensor*>> tensors;
  if (momentum_ != 0) {
    ensure_state(velocity_);
    for (size_t i = 0; i < params_.size(); ++i) tensors.emplace_back(params_[i].first + ".momentum_buffer", &velocity_[i]);
  }
  restore(state, tensors, {{"step", &step_}}, "SGD::load_state");
}

// ---- Adam / AdamW ------------------------------------------------------------------------------

Adam::Adam(NamedTensors params, double lr, double beta1, double beta2, double eps, double weight_decay,
           bool decoupled_weight_decay)
    : Optimizer(std::move(params), lr), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay),
      decoupled_(decoupled_weight_decay) {
  const char* who = decoupled_ ? "AdamW" : "Adam";
  DISPA_CHECK(beta1 >= 0 && beta1 < 1, "{}: beta1 must be in [0, 1), got {}", who, beta1);
  DISPA_CHECK(beta2 >= 0 && beta2 < 1, "{}: beta2 must be in [0, 1), got {}", who, beta2);
  DISPA_CHECK(eps >= 0, "{}: eps must be >= 0, got {}", who, eps);
  DISPA_CHECK(weight_decay >= 0, "{}: weight_decay must be >= 0, got {}", who, weight_decay);
  param_steps_.assign(params_.size(), 0);
  ensure_state(exp_avg_);
  ensure_state(exp_avg_sq_);
}

void Adam::step() {
  NoGrad no_grad;
  std::vector<size_t> cpu, gpu;
  active_params(cpu, gpu);
  ensure_state(exp_avg_);
  ensure_state(exp_avg_sq_);
  ++step_;
  const AdamScalars<double> scalars{beta1_, beta2_, eps_, weight_decay_, 1.0 - lr_ * weight_decay_, decoupled_ ? 1 : 0};
  // PyTorch: step_size = lr / (1 - beta1^t), bias_correction2_sqrt = sqrt(1 - beta2^t), per parameter.
  auto advance = [&](size_t i, double& step_size, double& bias_c2_sqrt) {
    const double t = static_cast<double>(++param_steps_[i]);
    step_size = lr_ / (1.0 - std::pow(beta1_, t));
    bias_c2_sqrt = std::sqrt(1.0 - std::pow(beta2_, t));
  };

  for (size_t i : cpu) {
    Tensor& p = params_[i].second;
    const Tensor g = p.grad();
    double step_size, bias_c2_sqrt;
    advance(i, step_size, bias_c2_sqrt);
    dispatch_floating(p.dtype(), decoupled_ ? "AdamW" : "Adam", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const AdamScalars<T> s = cast_scalars<T>(scalars);
      const T ss = static_cast<T>(step_size), bc2 = static_cast<T>(bias_c2_sqrt);
      T* pp = p.data<T>();
      const T* gp = g.data<T>();
      T* mp = exp_avg_[i].data<T>();
      T* vp = exp_avg_sq_[i].data<T>();
      const int64_t n = p.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t j = 0; j < n; ++j) adam_update<T>(pp[j], gp[j], mp[j], vp[j], s, ss, bc2);
    });
  }
  if (gpu.empty()) return;
  std::vector<OptimTensorEntry> rows;
  int64_t total = 0;
  for (size_t i : gpu) {
    const Tensor& p = params_[i].second;
    double step_size, bias_c2_sqrt;
    advance(i, step_size, bias_c2_sqrt);
    if (p.numel() == 0) continue;
    OptimTensorEntry row = make_row(p, p.grad(), &exp_avg_[i], &exp_avg_sq_[i], total);
    row.step_size = step_size;
    row.bias_c2_sqrt = bias_c2_sqrt;
    rows.push_back(row);
    total += p.numel();
  }
  if (rows.empty()) return;
  DISPA_ON_CUDA(cuda::adam_step_fused(upload_table(rows, params_[gpu.front()].second.device()), static_cast<int>(rows.size()), total,
                                      cast_scalars<float>(scalars)));
}

std::map<std::string, Tensor> Adam::state() const {
  std::map<std::string, Tensor> out;
  out["step"] = Tensor::scalar(static_cast<double>(step_), DType::i64);
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    out[name + ".exp_avg"] = exp_avg_[i].clone();
    out[name + ".exp_avg_sq"] = exp_avg_sq_[i].clone();
    out[name + ".step"] = Tensor::scalar(static_cast<double>(param_steps_[i]), DType::i64);
  }
  return out;
}

void Adam::load_state(const std::map<std::string, Tensor>& state) {
  ensure_state(exp_avg_);
  ensure_state(exp_avg_sq_);
  std::vector<std::pair<std::string, Tensor*>> tensors;
  std::vector<std::pair<std::string, int64_t*>> counters{{"step", &step_}};
  for (size_t i = 0; i < params_.size(); ++i) {
    const std::string& name = params_[i].first;
    tensors.emplace_back(name + ".exp_avg", &exp_avg_[i]);
    tensors.emplace_back(name + ".exp_avg_sq", &exp_avg_sq_[i]);
    counters.emplace_back(name + ".step", &param_steps_[i]);
  }
  restore(state, tensors, counters, decoupled_ ? "AdamW::load_state" : "Adam::load_state");
}

// ---- gradient clipping ---------------------------------------------------------------------------

double clip_grad_norm(const NamedTensors& params, double max_norm) {
  DISPA_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got {}", max_norm);
  NoGrad no_grad;
  std::vector<Tensor> cpu_grads;
  std::vector<OptimTensorEntry> rows;
  int64_t total = 0;
  Device cuda_device = Device::cpu();
  for (const auto& [name, p] : params) {
    if (!p.defined() || !p.has_grad()) continue;
    Tensor g = p.grad();
    DISPA_CHECK(is_floating(g.dtype()), "clip_grad_norm: gradient of '{}' is {}", name, g.describe());
    if (g.is_cpu()) {
      cpu_grads.push_back(g);
      continue;
    }
    DISPA_CHECK(g.dtype() == DType::f32, "clip_grad_norm: CUDA gradients must be f32, '{}' is {}", name, g.describe());
    DISPA_CHECK(rows.empty() || g.device() == cuda_device, "clip_grad_norm: gradients on several CUDA devices ({}, {})",
                cuda_device, g.device());
    cuda_device = g.device();
    if (g.numel() == 0) continue;
    rows.push_back(make_row(g, g, nullptr, nullptr, total));
    total += g.numel();
  }

  double sum_sq = 0.0;  // fp64 accumulation on both devices
  for (const Tensor& g : cpu_grads) {
    dispatch_floating(g.dtype(), "clip_grad_norm", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* gp = g.data<T>();
      const int64_t n = g.numel();
      double acc = 0.0;
#pragma omp parallel for reduction(+ : acc) if (n > 65536)
      for (int64_t j = 0; j < n; ++j) acc += static_cast<double>(gp[j]) * static_cast<double>(gp[j]);
      sum_sq += acc;
    });
  }
  Tensor table;
  if (!rows.empty()) {
    Tensor acc = Tensor::zeros({1}, DType::f64, cuda_device);
    DISPA_ON_CUDA(cuda::grad_sq_norm_fused(upload_rows(rows, cuda_device, table), static_cast<int>(rows.size()),
                                           total, acc.data<double>()));
    sum_sq += acc.item();
  }
  const double norm = std::sqrt(sum_sq);
  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0) return norm;  // PyTorch multiplies by min(coef, 1); a factor of 1 changes nothing
  for (const Tensor& g : cpu_grads) {
    dispatch_floating(g.dtype(), "clip_grad_norm", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* gp = g.data<T>();
      const T c = static_cast<T>(coef);
      const int64_t n = g.numel();
#pragma omp parallel for if (n > 65536)
      for (int64_t j = 0; j < n; ++j) gp[j] *= c;
    });
  }
  if (!rows.empty())
    DISPA_ON_CUDA(cuda::grad_scale_fused(static_cast<const OptimTensorEntry*>(table.raw_data()),
                                         static_cast<int>(rows.size()), total, static_cast<float>(coef)));
  return norm;
}

}  // namespace dispa
