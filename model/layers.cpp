#include "model/layers.h"

#include "engine/dist/collective_ops.h"
#include "engine/nn/init.h"
#include "engine/ops/dropout.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/gathered_linear.h"
#include "engine/ops/matmul.h"
#include "engine/ops/norm.h"

namespace dispa {

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator& init_rng) {
  weight = register_parameter("weight", Tensor::empty({out, in}));
  if (with_bias) {
    bias = register_parameter("bias", Tensor::empty({out}));
    init::linear_default_(weight, bias, init_rng);
  } else {
    init::kaiming_uniform_(weight, std::sqrt(5.0), init_rng);
  }
}

Tensor Linear::forward(const Tensor& x) const { return linear(x, weight, bias); }

LayerNorm::LayerNorm(const Shape& normalized_shape, double eps_) : eps(eps_) {
  weight = register_parameter("weight", Tensor::ones(normalized_shape));
  bias = register_parameter("bias", Tensor::zeros(normalized_shape));
}

Tensor LayerNorm::forward(const Tensor& x) const {
  return layer_norm(x, static_cast<int>(weight.ndim()), weight, bias, eps);
}

RMSNorm::RMSNorm(int64_t dim, double eps_) : eps(eps_) { weight = register_parameter("weight", Tensor::ones({dim})); }

Tensor RMSNorm::forward(const Tensor& x) const { return rms_norm(x, weight, eps); }

BatchNorm1d::BatchNorm1d(int64_t channels, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
  weight = register_parameter("weight", Tensor::ones({channels}));
  bias = register_parameter("bias", Tensor::zeros({channels}));
  running_mean = register_buffer("running_mean", Tensor::zeros({channels}));
  running_var = register_buffer("running_var", Tensor::ones({channels}));
  num_batches_tracked = register_buffer("num_batches_tracked", Tensor::zeros({}, DType::i64));
}

Tensor BatchNorm1d::forward(const Tensor& x) const {
  if (is_training()) {
    // Counted on the host: a 0-d i64 buffer, kept for state-dict compatibility with PyTorch.
    Tensor host = num_batches_tracked.to(Device::cpu());
    const int64_t count = host.data<int64_t>()[0] + 1;
    Tensor counter = num_batches_tracked;  // shares storage with the registered buffer
    counter.copy_from(Tensor::full({}, double(count), DType::i64, counter.device()));
    if (sync_stats)
      return dist::sync_batch_norm1d(x, weight, bias, running_mean, running_var, momentum, eps, *sync_stats);
  }
  return batch_norm1d(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

FeedForward::FeedForward(int64_t in, int64_t hidden, int64_t out, double dropout_p, double eps,
                         Generator& init_rng, Generator& dropout_rng)
    : fc1(in, hidden, true, init_rng), norm({hidden}, eps), fc2(hidden, out, true, init_rng), dropout(dropout_p),
      dropout_rng_(dropout_rng) {
  register_module("fc1", fc1);
  register_module("norm", norm);
  register_module("fc2", fc2);
}

Tensor FeedForward::forward(const Tensor& x) const { return after_fc1(fc1.forward(x)); }

Tensor FeedForward::forward_gathered(const Tensor& x, const Tensor& index) const {
  return after_fc1(gathered_linear(x, index, fc1.weight, fc1.bias));
}

Tensor FeedForward::after_fc1(const Tensor& fc1_out) const {
  Tensor h = layer_norm_relu(fc1_out, static_cast<int>(norm.weight.ndim()), norm.weight, norm.bias, norm.eps);
  h = dropout_from(h, dropout, is_training(), dropout_rng_);
  return fc2.forward(h);
}

Tensor dropout_from(const Tensor& x, double p, bool training, Generator& rng) {
  if (!training || p <= 0.0) return x;
  const uint64_t offset = rng.reserve(x.numel());
  return dispa::dropout(x, p, training, rng.seed(), offset);
}

}  // namespace dispa
