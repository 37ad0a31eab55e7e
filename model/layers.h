// Building blocks with parameters: Linear (PyTorch layout and default init), LayerNorm,
// BatchNorm1d (with running statistics as buffers) and the DiSPA FFN
// fc2(dropout(relu(LayerNorm(fc1(x))))). Dropout draws from a Generator owned by the model, so a
// training run is reproducible from its seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/nn/module.h"
#include "engine/tensor.h"

namespace dispa {

namespace dist {
class Communicator;  // engine/dist/communicator.h
}

class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias, Generator& init_rng);
  Tensor forward(const Tensor& x) const;  // [..., in] -> [..., out]
  Tensor weight, bias;                    // [out, in], [out] (undefined without bias)
};

class LayerNorm : public Module {
 public:
  LayerNorm(const Shape& normalized_shape, double eps);
  Tensor forward(const Tensor& x) const;  // normalises the last normalized_shape.size() dims
  Tensor weight, bias;
  double eps;
};

// RMSNorm over the last dim with a weight (no bias): y = x · rsqrt(mean(x²) + eps) · weight.
class RMSNorm : public Module {
 public:
  RMSNorm(int64_t dim, double eps);
  Tensor forward(const Tensor& x) const;
  Tensor weight;
  double eps;
};

class BatchNorm1d : public Module {
 public:
  BatchNorm1d(int64_t channels, double eps, double momentum);
  Tensor forward(const Tensor& x) const;  // [N, C]; training mode updates the running stats
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;
  double eps, momentum;
  // Data-parallel training with --sync-batchnorm: in training mode the batch statistics are taken
  // over the rows of all ranks of `comm` (engine/dist/collective_ops.h); null = this rank's rows.
  dist::Communicator* sync_stats = nullptr;
};

// The DiSPA feed-forward block: Linear in->h, LayerNorm(h), ReLU, Dropout(p), Linear h->out.
class FeedForward : public Module {
 public:
  FeedForward(int64_t in, int64_t hidden, int64_t out, double dropout, double eps, Generator& init_rng,
              Generator& dropout_rng);
  Tensor forward(const Tensor& x) const;  // [..., in] -> [..., out]
  // forward(gather_columns(x, index)) with fc1 as gathered_linear (engine/ops/gathered_linear.h),
  // which skips the padded slots: x [C, G], index [P, S] (S = in, -1 = padding) -> [C, P, out].
  // Same parameters, same dropout draws, the same result to fp32 rounding.
  Tensor forward_gathered(const Tensor& x, const Tensor& index) const;
  Linear fc1;
  LayerNorm norm;
  Linear fc2;
  double dropout;

 private:
  Tensor after_fc1(const Tensor& h) const;  // LayerNorm, ReLU, dropout, fc2
  Generator& dropout_rng_;
};

// An ordered list of child modules named "0", "1", ... (PyTorch's nn.ModuleList naming).
class ModuleList : public Module {
 public:
  void append(Module& child) { add_child(std::to_string(size_++), &child); }
  size_t size() const { return size_; }

 private:
  size_t size_ = 0;
};

// Dropout with a draw from `rng` (identity unless training and p > 0).
Tensor dropout_from(const Tensor& x, double p, bool training, Generator& rng);

}  // namespace dispa
