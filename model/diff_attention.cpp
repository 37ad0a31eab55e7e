// Fused differential cross-attention: argument checks, tape recording, and the choice of the CPU
// loops' level (diff_attention_cpu.h). Math and layout: diff_attention_math.h; CUDA kernels:
// diff_attention.cu.
#include "model/diff_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "engine/ops/dispatch.h"
#include "model/diff_attention_cpu.h"
#include "model/diff_attention_math.h"

namespace dispa {
namespace {

constexpr const char* kOp = "diff_attention";

DiffAttentionDims check_arguments(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                  const Tensor& lambda, const Tensor& subln_weight, int heads, double rms_eps) {
  DISPA_CHECK(q.defined() && k.defined() && v.defined(), "{}: q, k and v must be defined", kOp);
  DISPA_CHECK(lambda.defined(), "{}: lambda must be defined", kOp);
  DISPA_CHECK(subln_weight.defined(), "{}: subln_weight must be defined", kOp);
  detail::check_floating(kOp, q);
  for (const Tensor* t : {&k, &v, &lambda, &subln_weight}) {
    detail::check_same_dtype(kOp, q, *t);
    detail::check_same_device(kOp, q, *t);
  }
  DISPA_CHECK(q.ndim() == 3, "{}: q must be [B, Lq, H·2D], got {}", kOp, q.describe());
  DISPA_CHECK(k.ndim() == 3, "{}: k must be [B, Lk, H·2D], got {}", kOp, k.describe());
  DISPA_CHECK(v.shape() == k.shape(), "{}: v must have k's shape: k is {}, v is {}", kOp, k.describe(), v.describe());
  DISPA_CHECK(q.dim(0) == k.dim(0), "{}: batch sizes differ: q is {}, k is {}", kOp, q.describe(), k.describe());
  DISPA_CHECK(q.dim(2) == k.dim(2), "{}: query and key widths differ: q is {}, k is {}", kOp, q.describe(),
              k.describe());
  DISPA_CHECK(q.numel() > 0 && k.numel() > 0, "{}: empty input: q is {}, k is {}", kOp, q.describe(), k.describe());
  DISPA_CHECK(heads >= 1, "{}: heads must be >= 1, got {}", kOp, heads);
  const int64_t width = q.dim(2);
  DISPA_CHECK(width % (2 * int64_t(heads)) == 0,
              "{}: width {} of q {} is not divisible by 2·heads = {} (Q/K halves per head)", kOp, width,
              q.describe(), 2 * heads);
  DiffAttentionDims dims;
  dims.batch = q.dim(0);
  dims.lq = q.dim(1);
  dims.lk = k.dim(1);
  dims.heads = heads;
  dims.head_dim = static_cast<int>(width / (2 * heads));
  DISPA_CHECK(subln_weight.shape() == Shape{dims.cols()}, "{}: subln_weight must be [2D] = [{}], got {}", kOp,
              dims.cols(), subln_weight.describe());
  DISPA_CHECK(lambda.numel() == 1 && lambda.ndim() <= 1, "{}: lambda must have shape [] or [1], got {}", kOp,
              lambda.describe());
  if (key_mask.defined()) {
    DISPA_CHECK(key_mask.shape() == Shape({dims.batch, dims.lk}), "{}: key_mask must be [B, Lk] = [{}, {}], got {}",
                kOp, dims.batch, dims.lk, key_mask.describe());
    detail::check_same_device(kOp, q, key_mask);
  }
  DISPA_CHECK(rms_eps >= 0, "{}: rms_eps must be >= 0, got {}", kOp, rms_eps);
  if (q.is_cuda()) {
    detail::check_cuda_f32(kOp, q);
    DISPA_CHECK(dims.cols() <= cuda::kDiffAttentionMaxCols, "{}: CUDA kernels take 2D <= {}, got 2D = {} (q is {})",
                kOp, cuda::kDiffAttentionMaxCols, dims.cols(), q.describe());
  }
  return dims;
}

using diff_cpu::CpuArgs;
using diff_cpu::CpuGrads;

// The CPU loops at cpu_level() (f32) or portable (f64, gradient checks only).
template <typename T>
void forward_cpu(const CpuArgs<T>& x, T* a1, T* a2, T* attn, T* y, T* s1, T* s2) {
  if constexpr (std::is_same_v<T, float>) {
    switch (cpu_level()) {
#if defined(DISPA_CPU_KERNELS_X86)
      case CpuLevel::avx512: return diff_cpu::forward_avx512(x, a1, a2, attn, y, s1, s2);
      case CpuLevel::avx2: return diff_cpu::forward_avx2(x, a1, a2, attn, y, s1, s2);
#endif
      default: break;
    }
  }
  diff_cpu::forward_portable(x, a1, a2, attn, y, s1, s2);
}

template <typename T>
void backward_cpu(const CpuArgs<T>& x, const T* a1, const T* a2, const T* dy, const CpuGrads<T>& g) {
  if constexpr (std::is_same_v<T, float>) {
    switch (cpu_level()) {
#if defined(DISPA_CPU_KERNELS_X86)
      case CpuLevel::avx512: return diff_cpu::backward_avx512(x, a1, a2, dy, g);
      case CpuLevel::avx2: return diff_cpu::backward_avx2(x, a1, a2, dy, g);
#endif
      default: break;
    }
  }
  diff_cpu::backward_portable(x, a1, a2, dy, g);
}

template <typename T>
CpuArgs<T> cpu_args(const DiffAttentionDims& dims, const Tensor& q, const Tensor& k, const Tensor& v,
                    const Tensor& mask, const Tensor& weight, double lambda, double lambda_init, double eps) {
  return {dims,
          q.data<T>(),
          k.data<T>(),
          v.data<T>(),
          mask.defined() ? mask.data<T>() : nullptr,
          weight.data<T>(),
          static_cast<T>(lambda),
          static_cast<T>(1.0 - lambda_init),
          static_cast<T>(eps)};
}

// Sums the per-(b, h) partials [dλ, dweight] in a fixed order.
template <typename T>
void reduce_partials(const std::vector<T>& partial, int64_t pairs, int n, T* dlambda, T* dweight) {
  T dl = 0;
  std::vector<T> dw(size_t(n), T(0));
  for (int64_t p = 0; p < pairs; ++p) {
    const T* part = partial.data() + p * (1 + n);
    dl += part[0];
    for (int c = 0; c < n; ++c) dw[size_t(c)] += part[1 + c];
  }
  *dlambda = dl;
  std::copy(dw.begin(), dw.end(), dweight);
}

}  // namespace

DiffAttentionResult diff_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                   const Tensor& lambda, double lambda_init, const Tensor& subln_weight,
                                   int heads, double rms_eps, bool keep_scores) {
  const DiffAttentionDims dims = check_arguments(q, k, v, key_mask, lambda, subln_weight, heads, rms_eps);
  DISPA_CHECK(!keep_scores || !q.is_cuda(), "{}: keep_scores needs the CPU (the CUDA kernels do not write scores); "
              "run the pair on the CPU", kOp);
  const Shape map_shape{dims.batch, dims.heads, dims.lq, dims.lk};
  Tensor y = Tensor::empty(q.shape(), q.dtype(), q.device());
  Tensor attention = Tensor::empty(map_shape, q.dtype(), q.device());
  Tensor a1 = Tensor::empty(map_shape, q.dtype(), q.device());
  Tensor a2 = Tensor::empty(map_shape, q.dtype(), q.device());
  Tensor s1 = keep_scores ? Tensor::empty(map_shape, q.dtype(), q.device()) : Tensor();
  Tensor s2 = keep_scores ? Tensor::empty(map_shape, q.dtype(), q.device()) : Tensor();
  // The mask in q's dtype, so the kernels read one element type (nonzero stays nonzero).
  const Tensor mask = key_mask.defined() ? key_mask.detach().to(q.dtype()) : Tensor();
  double lambda_value = 0;  // CPU only: the CUDA kernels read λ on the device (no host sync)
  if (q.is_cuda()) {
    DISPA_ON_CUDA(cuda::diff_attention_forward(
        dims, q.data<float>(), k.data<float>(), v.data<float>(), mask.defined() ? mask.data<float>() : nullptr,
        lambda.data<float>(), subln_weight.data<float>(), static_cast<float>(1.0 - lambda_init),
        static_cast<float>(rms_eps), a1.data<float>(), a2.data<float>(), attention.data<float>(), y.data<float>()));
  } else {
    lambda_value = lambda.item();
    dispatch_floating(q.dtype(), kOp, [&](auto tag) {
      using T = typename decltype(tag)::type;
      forward_cpu(cpu_args<T>(dims, q, k, v, mask, subln_weight, lambda_value, lambda_init, rms_eps), a1.data<T>(),
                  a2.data<T>(), attention.data<T>(), y.data<T>(), keep_scores ? s1.data<T>() : nullptr,
                  keep_scores ? s2.data<T>() : nullptr);
    });
  }

  // Keeps q, k, v, λ (value on the CPU, tensor on the GPU), the weight and the two softmax maps;
  // o, r and A are recomputed from them (cheaper than storing [B, Lq, H·2D] and a third map).
  record(kOp, {q, k, v, lambda, subln_weight}, y,
         [dims, q, k, v, lambda, subln_weight, a1, a2, lambda_value, lambda_init, rms_eps](const Tensor& dy) {
           Tensor dq = Tensor::empty(q.shape(), q.dtype(), q.device());
           Tensor dk = Tensor::empty(k.shape(), k.dtype(), k.device());  // fully written where needed
           Tensor dv = Tensor::empty(v.shape(), v.dtype(), v.device());
           Tensor dlambda = Tensor::zeros(lambda.shape(), lambda.dtype(), lambda.device());
           Tensor dweight = Tensor::zeros(subln_weight.shape(), subln_weight.dtype(), subln_weight.device());
           if (q.is_cuda()) {
             Tensor d_o = Tensor::empty(q.shape(), q.dtype(), q.device());
             Tensor ds1 = Tensor::empty(a1.shape(), a1.dtype(), a1.device());
             Tensor ds2 = Tensor::empty(a1.shape(), a1.dtype(), a1.device());
             DISPA_ON_CUDA(cuda::diff_attention_backward(
                 dims, q.data<float>(), k.data<float>(), v.data<float>(), lambda.data<float>(),
                 subln_weight.data<float>(), static_cast<float>(1.0 - lambda_init), static_cast<float>(rms_eps),
                 a1.data<float>(), a2.data<float>(), dy.data<float>(), dq.data<float>(), dk.data<float>(),
                 dv.data<float>(), dlambda.data<float>(), dweight.data<float>(), d_o.data<float>(),
                 ds1.data<float>(), ds2.data<float>(), k.requires_grad() || v.requires_grad()));
           } else {
             dispatch_floating(q.dtype(), "diff_attention backward", [&](auto tag) {
               using T = typename decltype(tag)::type;
               const CpuArgs<T> x = cpu_args<T>(dims, q, k, v, Tensor(), subln_weight, lambda_value, lambda_init,
                                                rms_eps);
               const int64_t pairs = dims.batch * dims.heads;
               std::vector<T> partial(size_t(pairs * (1 + dims.cols())), T(0));
               backward_cpu(x, a1.data<T>(), a2.data<T>(), dy.data<T>(),
                            CpuGrads<T>{dq.data<T>(), dk.data<T>(), dv.data<T>(), partial.data()});
               reduce_partials(partial, pairs, dims.cols(), dlambda.data<T>(), dweight.data<T>());
             });
           }
           q.accumulate_grad(std::move(dq));
           k.accumulate_grad(std::move(dk));
           v.accumulate_grad(std::move(dv));
           lambda.accumulate_grad(std::move(dlambda));
           subln_weight.accumulate_grad(std::move(dweight));
         });
  return {y, attention, a1, a2, s1, s2};
}

}  // namespace dispa
