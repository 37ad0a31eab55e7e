// Optimizers over a list of named parameters. Each step reads param.grad(); parameters without a
// gradient are skipped (as PyTorch). On CUDA the update is one fused kernel over all parameters.
// State (moments, step counts) is exposed as named tensors for checkpoints.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/optim/optim_math.h"
#include "engine/tensor.h"

namespace dispa {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  void zero_grad();
  double learning_rate() const { return lr_; }
  void set_learning_rate(double lr) { lr_ = lr; }
  // Named state tensors ("<param>.exp_avg", ...) plus "step" for checkpoints; load restores them.
  // state() returns copies (a snapshot); load_state checks every key and shape before copying.
  virtual std::map<std::string, Tensor> state() const = 0;
  virtual void load_state(const std::map<std::string, Tensor>& state) = 0;
  const NamedTensors& params() const { return params_; }

 protected:
  Optimizer(NamedTensors params, double lr);
  // Indices of the parameters that have a gradient (checked against the parameter's shape,
  // dtype and device), split by device: CPU ones, and CUDA ones (all on one device).
  void active_params(std::vector<size_t>& cpu, std::vector<size_t>& cuda) const;
  // Copies the rows to a device buffer reused across steps; returns its device pointer.
  const OptimTensorEntry* upload_table(const std::vector<OptimTensorEntry>& rows, Device device);
  // Zero-filled state tensors shaped like each parameter (or moved to the parameter's device
  // when the module was moved after the optimizer was built).
  void ensure_state(std::vector<Tensor>& state) const;
  // Strict restore: every named tensor and counter must be in `state` (tensors with matching
  // shapes, counters as one-element integer tensors) and `state` must hold nothing else; only
  // then are values copied. Throws naming every problem at once.
  void restore(const std::map<std::string, Tensor>& state, const std::vector<std::pair<std::string, Tensor*>>& tensors,
               const std::vector<std::pair<std::string, int64_t*>>& counters, const char* who);
  NamedTensors params_;
  double lr_;
  Tensor table_;  // device copy of the fused kernels' table (i64 words)
};

// torch.optim.SGD: v = momentum * v + g (+ weight_decay * p in g); p -= lr * v.
// State keys: "<param>.momentum_buffer" (only with momentum) and "step".
class SGD : public Optimizer {
 public:
  SGD(NamedTensors params, double lr, double momentum = 0.0, double weight_decay = 0.0);
  void step() override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state) override;

 private:
  double momentum_, weight_decay_;
  int64_t step_ = 0;
  std::vector<Tensor> velocity_;  // empty when momentum is 0 (no state, as PyTorch)
};

// torch.optim.Adam (L2: g += weight_decay * p before the moments) and torch.optim.AdamW
// (decoupled: p *= 1 - lr * weight_decay before the update), eps added after the bias-corrected
// sqrt as PyTorch does: p -= lr * m̂ / (sqrt(v̂) + eps). State keys: "<param>.exp_avg",
// "<param>.exp_avg_sq", "<param>.step" (PyTorch's per-parameter step) and "step" (step() calls).
class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0.0, bool decoupled_weight_decay = false);
  void step() override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state) override;
  int64_t step_count() const { return step_; }

 private:
  double beta1_, beta2_, eps_, weight_decay_;
  bool decoupled_;
  int64_t step_ = 0;                  // step() calls
  std::vector<int64_t> param_steps_;  // per parameter: PyTorch's state["step"] (skipped without grad)
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

class AdamW : public Adam {
 public:
  AdamW(NamedTensors params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 1e-2)
      : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, true) {}
};

// Global L2 norm of all gradients, and in-place clipping to max_norm (returns the norm before),
// as torch.nn.utils.clip_grad_norm_: coef = max_norm / (norm + 1e-6), grads *= coef when coef < 1.
// A non-finite norm is returned (and, as in PyTorch, makes the gradients non-finite): callers check it.
double clip_grad_norm(const NamedTensors& params, double max_norm);

}  // namespace dispa
