// Optimizers over a list of named parameters. Each step reads param.grad(); parameters without a
// gradient are skipped (as PyTorch). On CUDA the update is one fused kernel over all parameters.
// State (moments, step counts) is exposed as named tensors for checkpoints.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

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
  virtual std::map<std::string, Tensor> state() const = 0;
  virtual void load_state(const std::map<std::string, Tensor>& state) = 0;

 protected:
  Optimizer(NamedTensors params, double lr) : params_(std::move(params)), lr_(lr) {}
  NamedTensors params_;
  double lr_;
};

// torch.optim.SGD: v = momentum * v + g (+ weight_decay * p in g); p -= lr * v.
class SGD : public Optimizer {
 public:
  SGD(NamedTensors params, double lr, double momentum = 0.0, double weight_decay = 0.0);
  void step() override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state) override;

 private:
  double momentum_, weight_decay_;
  std::vector<Tensor> velocity_;
};

// torch.optim.Adam (L2: g += weight_decay * p before the moments) and torch.optim.AdamW
// (decoupled: p *= 1 - lr * weight_decay before the update), eps added after the bias-corrected
// sqrt as PyTorch does: p -= lr * m̂ / (sqrt(v̂) + eps).
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
  int64_t step_ = 0;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

class AdamW : public Adam {
 public:
  AdamW(NamedTensors params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weight_decay = 1e-2)
      : Adam(std::move(params), lr, beta1, beta2, eps, weight_decay, true) {}
};

// Global L2 norm of all gradients, and in-place clipping to max_norm (returns the norm before).
double clip_grad_norm(const NamedTensors& params, double max_norm);

}  // namespace dispa
