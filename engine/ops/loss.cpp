// mse_loss: checks, tape record and the CPU loops. The CPU sum is deterministic: fixed chunks of
// kChunk elements are summed in parallel, then the chunk sums in order, so the loss does not
// depend on the thread count. Gradient only to the prediction (the target is data).
#include "engine/ops/loss.h"

#include <algorithm>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/loss_math.h"

namespace dispa {
namespace {

constexpr int64_t kChunk = 4096;

template <typename T>
double squared_error_sum_cpu(const T* p, const T* t, int64_t n) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(size_t(chunks), 0.0);
#pragma omp parallel for if (chunks > 4)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t end = std::min(n, (c + 1) * kChunk);
    double s = 0.0;
    for (int64_t i = c * kChunk; i < end; ++i) s += squared_error(p[i], t[i]);
    partial[size_t(c)] = s;
  }
  double total = 0.0;
  for (double s : partial) total += s;
  return total;
}

}  // namespace

Tensor mse_loss(const Tensor& prediction, const Tensor& target) {
  detail::check_same_device("mse_loss", prediction, target);
  detail::check_same_dtype("mse_loss", prediction, target);
  detail::check_floating("mse_loss", prediction);
  DISPA_CHECK(prediction.shape() == target.shape(), "mse_loss: prediction shape {} and target shape {} differ",
              shape_str(prediction.shape()), shape_str(target.shape()));
  const int64_t n = prediction.numel();
  DISPA_CHECK(n > 0, "mse_loss: empty prediction {} (the mean of no elements is undefined)", prediction.describe());
  Tensor out = Tensor::empty({}, prediction.dtype(), prediction.device());
  dispatch_floating(prediction.dtype(), "mse_loss", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (prediction.is_cuda()) {
      Tensor partials = Tensor::empty({kMseBlocks}, DType::f64, prediction.device());
      DISPA_ON_CUDA(cuda::mse_forward<T>(prediction.data<T>(), target.data<T>(), n, partials.data<double>(),
                                         out.data<T>()));
    } else {
      out.data<T>()[0] = static_cast<T>(squared_error_sum_cpu(prediction.data<T>(), target.data<T>(), n) / double(n));
    }
  });
  // Keeps both inputs: the gradient 2 (p - t) / n reads their values. Only prediction is an
  // input of the record, so a target that requires a gradient gets none.
  record("mse_loss", {prediction}, out, [prediction, target](const Tensor& dy) {
    Tensor dp = Tensor::empty_like(prediction);
    const int64_t n = prediction.numel();
    dispatch_floating(prediction.dtype(), "mse_loss backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* p = prediction.data<T>();
      const T* t = target.data<T>();
      T* d = dp.data<T>();
      if (prediction.is_cuda()) {
        DISPA_ON_CUDA(cuda::mse_backward<T>(p, t, dy.data<T>(), d, n));
      } else {
        const double scale = 2.0 * static_cast<double>(dy.data<T>()[0]) / double(n);
#pragma omp parallel for if (n > 65536)
        for (int64_t i = 0; i < n; ++i) d[i] = mse_grad(p[i], t[i], scale);
      }
    });
    prediction.accumulate_grad(std::move(dp));
  });
  return out;
}

}  // namespace dispa
