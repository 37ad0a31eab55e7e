// Initialisers with PyTorch's definitions (torch/nn/init.py): fans from
// _calculate_fan_in_and_fan_out (fan_in = size(1) * receptive field, fan_out = size(0) * receptive
// field), kaiming_uniform bound = gain * sqrt(3 / fan_in) with gain = sqrt(2 / (1 + a²)),
// xavier_uniform bound = gain * sqrt(6 / (fan_in + fan_out)). Draws come from Philox streams
// reserved on the Generator, so the values depend only on (seed, offset), not on the device.
#include "engine/nn/init.h"

#include <cmath>

#include "engine/ops/fill.h"

namespace dispa::init {
namespace {

struct Fans {
  int64_t in = 0, out = 0;
};

Fans compute_fans(const Tensor& w, const char* op) {
  DISPA_CHECK(w.ndim() >= 2, "{}: fan in and fan out need at least 2 dimensions, got {}", op, w.describe());
  int64_t receptive = 1;
  for (int d = 2; d < w.ndim(); ++d) receptive *= w.dim(d);
  return {w.dim(1) * receptive, w.dim(0) * receptive};
}

void check_float(const Tensor& t, const char* op) {
  DISPA_CHECK(t.defined(), "{}: undefined tensor", op);
  DISPA_CHECK(is_floating(t.dtype()), "{}: needs f32 or f64, got {}", op, t.describe());
}

}  // namespace

void uniform_(Tensor& t, double lo, double hi, Generator& gen) {
  check_float(t, "init::uniform_");
  DISPA_CHECK(lo <= hi, "init::uniform_: lower bound {} exceeds upper bound {}", lo, hi);
  const uint64_t offset = gen.reserve(t.numel());
  fill_uniform_(t, lo, hi, gen.seed(), offset);
}

void normal_(Tensor& t, double mean, double stddev, Generator& gen) {
  check_float(t, "init::normal_");
  DISPA_CHECK(stddev >= 0, "init::normal_: negative standard deviation {}", stddev);
  const uint64_t offset = gen.reserve(t.numel());
  fill_normal_(t, mean, stddev, gen.seed(), offset);
}

void zeros_(Tensor& t) { fill_(t, 0.0); }
void ones_(Tensor& t) { fill_(t, 1.0); }

void kaiming_uniform_(Tensor& weight, double a, Generator& gen) {
  check_float(weight, "init::kaiming_uniform_");
  const Fans fans = compute_fans(weight, "init::kaiming_uniform_");
  if (weight.numel() == 0) return;  // PyTorch warns and does nothing for zero-element tensors
  const double gain = std::sqrt(2.0 / (1.0 + a * a));  // calculate_gain("leaky_relu", a)
  const double bound = gain * std::sqrt(3.0 / static_cast<double>(fans.in));
  uniform_(weight, -bound, bound, gen);
}

void xavier_uniform_(Tensor& weight, Generator& gen, double gain) {
  check_float(weight, "init::xavier_uniform_");
  const Fans fans = compute_fans(weight, "init::xavier_uniform_");
  if (weight.numel() == 0) return;
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fans.in + fans.out));
  uniform_(weight, -bound, bound, gen);
}

// nn.Linear.reset_parameters: kaiming_uniform_(weight, a=sqrt(5)), which reduces to
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias from the same bound. Weight drawn first, then bias.
void linear_default_(Tensor& weight, Tensor& bias, Generator& gen) {
  kaiming_uniform_(weight, std::sqrt(5.0), gen);
  if (!bias.defined()) return;
  check_float(bias, "init::linear_default_");
  DISPA_CHECK(bias.ndim() == 1 && bias.dim(0) == weight.dim(0),
              "init::linear_default_: bias {} does not match weight {} (expected [{}])", bias.describe(),
              weight.describe(), weight.dim(0));
  const int64_t fan_in = compute_fans(weight, "init::linear_default_").in;
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  uniform_(bias, -bound, bound, gen);
}

}  // namespace dispa::init
