// LayerNorm, RMSNorm and BatchNorm1d: argument checks, tape records with fused backward, and the
// CPU loops (OpenMP over rows, or over column tiles for BatchNorm statistics). The math is
// norm_math.h's, shared with norm.cu. LayerNorm and RMSNorm are one "row norm" with a centred flag.
// CPU statistics accumulate in double (f32 inputs too); the stored mean/rstd are in the input
// dtype, and backward reads exactly what forward used.
#include "engine/ops/norm.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/norm_math.h"

namespace dispa {
namespace {

// ---- row norms: x [rows, D] -----------------------------------------------------------------------

// Row statistics are sums in double. Without -ffast-math the compiler must keep a single sum's
// additions in source order, so one accumulator is a chain of dependent additions (latency-bound,
// scalar). kLanes partial sums, combined pairwise in a fixed order, are independent chains that
// the compiler vectorises at the baseline ISA; every row is summed by one thread in this order, so
// results do not depend on the thread count, and the accuracy is that of double accumulation.
constexpr int64_t kLanes = 8;

inline double combine_lanes(double* acc) {
  for (int64_t width = kLanes / 2; width > 0; width /= 2)
    for (int64_t l = 0; l < width; ++l) acc[l] += acc[l + width];
  return acc[0];
}

// sum over d < D of term(d) (a double), in kLanes partial sums.
template <typename Term>
inline double lane_sum(int64_t D, Term term) {
  double acc[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= D; d += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) acc[l] += term(d + l);
  for (int64_t l = 0; d + l < D; ++l) acc[l] += term(d + l);
  return combine_lanes(acc);
}

// The two sums of a row's backward, sum term_a(d) and sum term_b(d), in one pass.
template <typename TermA, typename TermB>
inline void lane_sum2(int64_t D, TermA term_a, TermB term_b, double& sum_a, double& sum_b) {
  double a[kLanes] = {}, b[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= D; d += kLanes)
    for (int64_t l = 0; l < kLanes; ++l) {
      a[l] += term_a(d + l);
      b[l] += term_b(d + l);
    }
  for (int64_t l = 0; d + l < D; ++l) {
    a[l] += term_a(d + l);
    b[l] += term_b(d + l);
  }
  sum_a = combine_lanes(a);
  sum_b = combine_lanes(b);
}

// Asks for the next row while this one is computed: a row is read from memory by its first pass
// only (the later passes find it in L1), so without this the memory system idles during those
// passes; the hardware prefetcher does not run a whole row ahead. Short rows only (<= 8 KiB):
// longer ones keep the stream going by themselves.
template <typename T>
inline void prefetch_row(const T* row, int64_t D) {
  constexpr int64_t kLine = 64 / int64_t(sizeof(T));
  if (D * int64_t(sizeof(T)) > 8192) return;
  for (int64_t d = 0; d < D; d += kLine) __builtin_prefetch(row + d);
}

// p[d], or `absent` when the affine parameter is not there (a compile-time choice).
template <bool kPresent, typename T>
inline T param_or(const T* p, int64_t d, T absent) {
  if constexpr (kPresent) return p[d];
  else return absent;
}

// Calls body(std::bool_constant<w != nullptr>, std::bool_constant<b != nullptr>), so the loops
// inside are compiled once per affine form, with no pointer test per element.
template <typename T, typename Body>
void with_affine(const T* w, const T* b, Body&& body) {
  if (w && b) body(std::true_type{}, std::true_type{});
  else if (w) body(std::true_type{}, std::false_type{});
  else if (b) body(std::false_type{}, std::true_type{});
  else body(std::false_type{}, std::false_type{});
}

// One row of the forward: both statistics and the apply (relu_after: y = relu(norm(x)) while the
// row is in L1; relu(NaN) = NaN, as the relu op). Always inlined, so each ISA's row loop below
// compiles it with its own vector width.
template <typename T, bool kW, bool kB>
__attribute__((always_inline)) inline void norm_row_forward(const T* xr, const T* w, const T* b, T* yr, T* mean_out,
                                                            T* rstd_out, int64_t D, double eps, bool centered,
                                                            bool relu_after) {
  double mean = 0;
  if (centered) {
    const double shift = xr[0];
    mean = shift + lane_sum(D, [&](int64_t d) { return double(xr[d]) - shift; }) / static_cast<double>(D);
  }
  const double ss = lane_sum(D, [&](int64_t d) {
    const double c = double(xr[d]) - mean;
    return c * c;
  });
  const T m = static_cast<T>(mean);
  const T rstd = static_cast<T>(norm_rstd(ss / static_cast<double>(D), eps));
  if (mean_out) *mean_out = m;
  *rstd_out = rstd;
  for (int64_t d = 0; d < D; ++d) yr[d] = norm_apply(xr[d], m, rstd, param_or<kW>(w, d, T(1)), param_or<kB>(b, d, T(0)));
  if (relu_after)
    for (int64_t d = 0; d < D; ++d) yr[d] = (yr[d] > T(0) || yr[d] != yr[d]) ? yr[d] : T(0);
}

#if DISPA_CPU_KERNELS_X86
// The f32 row at the AVX-512 level (cpu_level() decides; the build's baseline is SSE2): the double
// lane sums and the apply then run 8 doubles / 16 floats per instruction. Same sums in the same
// order as the portable row; the apply may fuse a multiply-add (differences of an ulp).
template <bool kW, bool kB>
__attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq"))) void norm_row_forward_avx512(
    const float* xr, const float* w, const float* b, float* yr, float* mean_out, float* rstd_out, int64_t D,
    double eps, bool centered, bool relu_after) {
  norm_row_forward<float, kW, kB>(xr, w, b, yr, mean_out, rstd_out, D, eps, centered, relu_after);
}
#endif

template <typename T>
void row_norm_forward_cpu(const T* x, const T* w, const T* b, T* y, T* mean_out, T* rstd_out, int64_t rows,
                          int64_t D, double eps, bool centered, bool relu_after = false) {
  [[maybe_unused]] const bool wide = std::is_same_v<T, float> && cpu_level() >= CpuLevel::avx512;
  with_affine(w, b, [&](auto has_w, auto has_b) {
#pragma omp parallel for schedule(static) if (rows * D > 16384)
    for (int64_t r = 0; r < rows; ++r) {
      const T* xr = x + r * D;
      if (r + 1 < rows) prefetch_row(xr + D, D);
      T* m = mean_out ? mean_out + r : nullptr;
#if DISPA_CPU_KERNELS_X86
      if constexpr (std::is_same_v<T, float>) {
        if (wide) {
          norm_row_forward_avx512<has_w.value, has_b.value>(xr, w, b, y + r * D, m, rstd_out + r, D, eps, centered,
                                                             relu_after);
          continue;
        }
      }
#endif
      norm_row_forward<T, has_w.value, has_b.value>(xr, w, b, y + r * D, m, rstd_out + r, D, eps, centered,
                                                    relu_after);
    }
  });
}

// dx per row; dw/db (when non-null) summed over a fixed number of row chunks, then over chunks in
// order, so the result does not depend on the thread count.
template <typename T>
void row_norm_backward_cpu(const T* x, const T* w, const T* mean, const T* rstd, const T* dy, T* dx, T* dw,
                           T* db, int64_t rows, int64_t D, bool centered) {
  const bool params = dw != nullptr || db != nullptr;
  int64_t chunks = params ? std::clamp<int64_t>((int64_t(1) << 21) / D, 1, 16) : 256;
  chunks = std::max<int64_t>(1, std::min(chunks, rows));
  std::vector<double> dw_part(params ? size_t(chunks * D) : 0, 0.0), db_part(dw_part.size(), 0.0);
  auto run = [&](auto has_w, auto with_params) {
    const T* weight = w;  // a local of this lambda: clang 14 rejects the nested lambda naming w itself
#pragma omp parallel for schedule(static) if (rows * D > 16384)
    for (int64_t c = 0; c < chunks; ++c) {
      double* dw_c = with_params ? dw_part.data() + c * D : nullptr;
      double* db_c = with_params ? db_part.data() + c * D : nullptr;
      for (int64_t r = rows * c / chunks; r < rows * (c + 1) / chunks; ++r) {
        const T* xr = x + r * D;
        const T* gr = dy + r * D;
        T* dxr = dx + r * D;
        if (r + 1 < rows) {
          prefetch_row(xr + D, D);
          prefetch_row(gr + D, D);
        }
        const T m = centered ? mean[r] : T(0), rs = rstd[r];
        auto xhat = [&](int64_t d) -> T { return (xr[d] - m) * rs; };
        auto g = [&](int64_t d) -> T { return gr[d] * param_or<has_w.value>(weight, d, T(1)); };
        double sum_g, sum_g_xhat;
        lane_sum2(
            D, [&](int64_t d) { return double(g(d)); }, [&](int64_t d) { return double(g(d) * xhat(d)); }, sum_g,
            sum_g_xhat);
        const T mean_g = centered ? static_cast<T>(sum_g / D) : T(0);
        const T mean_g_xhat = static_cast<T>(sum_g_xhat / D);
        for (int64_t d = 0; d < D; ++d) dxr[d] = norm_input_grad(g(d), xhat(d), mean_g, mean_g_xhat, rs);
        if constexpr (with_params) {
          for (int64_t d = 0; d < D; ++d) {
            dw_c[d] += double(gr[d] * xhat(d));
            db_c[d] += double(gr[d]);
          }
        }
      }
    }
  };
  const bool has_w = w != nullptr;
  if (has_w && params) run(std::true_type{}, std::true_type{});
  else if (has_w) run(std::true_type{}, std::false_type{});
  else if (params) run(std::false_type{}, std::true_type{});
  else run(std::false_type{}, std::false_type{});
  if (!params) return;
#pragma omp parallel for schedule(static) if (chunks * D > 16384)
  for (int64_t d = 0; d < D; ++d) {
    double sw = 0, sb = 0;
    for (int64_t c = 0; c < chunks; ++c) {
      sw += dw_part[c * D + d];
      sb += db_part[c * D + d];
    }
    if (dw) dw[d] = static_cast<T>(sw);
    if (db) db[d] = static_cast<T>(sb);
  }
}

void check_param(const char* op, const char* what, const Tensor& p, const Tensor& x, const Shape& want) {
  if (!p.defined()) return;
  DISPA_CHECK(p.shape() == want, "{}: {} has shape {}, expected {} for x {}", op, what, shape_str(p.shape()),
              shape_str(want), x.describe());
  DISPA_CHECK(p.dtype() == x.dtype() && p.device() == x.device(), "{}: {} is {} but x is {}", op, what,
              p.describe(), x.describe());
}

template <typename T>
const T* ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }
template <typename T>
T* mut_ptr_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

Tensor grad_buffer_for(const Tensor& p) {
  return p.defined() && p.requires_grad() ? Tensor::empty_like(p) : Tensor();
}

Tensor row_norm(const char* op, const Tensor& x, int64_t D, const Tensor& weight, const Tensor& bias, double eps,
                bool centered) {
  const int64_t rows = x.numel() / D;
  Tensor y = Tensor::empty_like(x);
  Tensor mean = centered ? Tensor::empty({rows}, x.dtype(), x.device()) : Tensor();
  Tensor rstd = Tensor::empty({rows}, x.dtype(), x.device());
  if (rows > 0) {
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::row_norm_forward(x.data<float>(), ptr_or_null<float>(weight), ptr_or_null<float>(bias),
                                           y.data<float>(), mut_ptr_or_null<float>(mean), rstd.data<float>(), rows,
                                           D, static_cast<float>(eps), centered));
    } else {
      dispatch_floating(x.dtype(), op, [&](auto tag) {
        using T = typename decltype(tag)::type;
        row_norm_forward_cpu<T>(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), y.data<T>(),
                                mut_ptr_or_null<T>(mean), rstd.data<T>(), rows, D, eps, centered);
      });
    }
  }
  // Keeps x, the weight and the per-row mean/rstd: xhat is recomputed instead of stored.
  record(op, {x, weight, bias}, y, [x, weight, bias, mean, rstd, D, centered](const Tensor& dy) {
    const int64_t rows = x.numel() / D;
    Tensor dx = Tensor::empty_like(x);
    Tensor dw = grad_buffer_for(weight), db = grad_buffer_for(bias);
    if (rows == 0) {
      if (dw.defined()) fill_(dw, 0.0);
      if (db.defined()) fill_(db, 0.0);
    } else if (x.is_cuda()) {
      const bool params = dw.defined() || db.defined();
      Tensor ws = params ? Tensor::empty({row_norm_workspace_size(rows, D)}, DType::f32, x.device()) : Tensor();
      DISPA_ON_CUDA(cuda::row_norm_backward(x.data<float>(), ptr_or_null<float>(weight), ptr_or_null<float>(mean),
                                            rstd.data<float>(), dy.data<float>(), dx.data<float>(),
                                            mut_ptr_or_null<float>(dw), mut_ptr_or_null<float>(db), rows, D,
                                            centered, params ? ws.data<float>() : nullptr));
    } else {
      dispatch_floating(x.dtype(), "norm backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        row_norm_backward_cpu<T>(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(mean), rstd.data<T>(),
                                 dy.data<T>(), dx.data<T>(), mut_ptr_or_null<T>(dw), mut_ptr_or_null<T>(db), rows,
                                 D, centered);
      });
    }
    x.accumulate_grad(std::move(dx));
    if (dw.defined()) weight.accumulate_grad(std::move(dw));
    if (db.defined()) bias.accumulate_grad(std::move(db));
  });
  return y;
}

// ---- batch norm: x [N, C], statistics per column ---------------------------------------------------

constexpr int64_t kColumnTile = 32;

template <typename T>
void batch_norm_forward_cpu(const T* x, const T* w, const T* b, T* y, T* mean, T* rstd, T* running_mean,
                            T* running_var, int64_t N, int64_t C, bool training, double momentum, double eps) {
  if (training) {
    const int64_t tiles = (C + kColumnTile - 1) / kColumnTile;
#pragma omp parallel for schedule(static) if (N * C > 16384)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t c0 = t * kColumnTile, c1 = std::min(C, c0 + kColumnTile);
      double s[kColumnTile] = {}, ss[kColumnTile] = {}, m[kColumnTile];
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c0; c < c1; ++c) s[c - c0] += double(x[n * C + c]) - double(x[c]);  // shift: row 0
      for (int64_t c = c0; c < c1; ++c) m[c - c0] = double(x[c]) + s[c - c0] / double(N);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const double d = x[n * C + c] - m[c - c0];
          ss[c - c0] += d * d;
        }
      for (int64_t c = c0; c < c1; ++c) {
        const double var = ss[c - c0] / double(N);
        mean[c] = static_cast<T>(m[c - c0]);
        rstd[c] = static_cast<T>(norm_rstd(var, eps));
        if (running_mean) running_mean[c] = running_update(running_mean[c], mean[c], T(momentum));
        if (running_var) running_var[c] = running_update(running_var[c], static_cast<T>(unbiased_var(var, N)), T(momentum));
      }
    }
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = running_mean[c];
      rstd[c] = norm_rstd(running_var[c], static_cast<T>(eps));
    }
  }
#pragma omp parallel for schedule(static) if (N * C > 16384)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      y[n * C + c] = norm_apply(x[n * C + c], mean[c], rstd[c], w ? w[c] : T(1), b ? b[c] : T(0));
}

template <typename T>
void batch_norm_backward_cpu(const T* x, const T* w, const T* mean, const T* rstd, const T* dy, T* dx, T* dw,
                             T* db, int64_t N, int64_t C, bool training) {
  std::vector<double> sum_dy(size_t(C), 0.0), sum_dy_xhat(size_t(C), 0.0);
  const int64_t tiles = (C + kColumnTile - 1) / kColumnTile;
#pragma omp parallel for schedule(static) if (N * C > 16384)
  for (int64_t t = 0; t < tiles; ++t) {
    const int64_t c0 = t * kColumnTile, c1 = std::min(C, c0 + kColumnTile);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = c0; c < c1; ++c) {
        sum_dy[c] += dy[n * C + c];
        sum_dy_xhat[c] += dy[n * C + c] * ((x[n * C + c] - mean[c]) * rstd[c]);
      }
  }
  for (int64_t c = 0; c < C; ++c) {
    if (dw) dw[c] = static_cast<T>(sum_dy_xhat[c]);
    if (db) db[c] = static_cast<T>(sum_dy[c]);
  }
#pragma omp parallel for schedule(static) if (N * C > 16384)
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      const T wc = w ? w[c] : T(1);
      const T xhat = (x[n * C + c] - mean[c]) * rstd[c];
      // Eval mode: the statistics are constants, so only the rstd * g term remains.
      const T mean_g = training ? static_cast<T>(wc * sum_dy[c] / double(N)) : T(0);
      const T mean_g_xhat = training ? static_cast<T>(wc * sum_dy_xhat[c] / double(N)) : T(0);
      dx[n * C + c] = norm_input_grad(dy[n * C + c] * wc, xhat, mean_g, mean_g_xhat, rstd[c]);
    }
}

}  // namespace

namespace {
// The width D of layer_norm's rows, after checking every argument.
int64_t checked_layer_norm_width(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias,
                                 double eps) {
  const char* op = "layer_norm";
  detail::check_floating(op, x);
  detail::check_cuda_f32(op, x);
  DISPA_CHECK(normalized_ndim >= 1 && normalized_ndim <= x.ndim(),
              "layer_norm: normalized_ndim {} must be in [1, {}] for x {}", normalized_ndim, x.ndim(), x.describe());
  DISPA_CHECK(eps >= 0, "layer_norm: eps must be >= 0, got {}", eps);
  const Shape normalized(x.shape().end() - normalized_ndim, x.shape().end());
  check_param(op, "weight", weight, x, normalized);
  check_param(op, "bias", bias, x, normalized);
  const int64_t D = shape_numel(normalized);
  DISPA_CHECK(D > 0, "layer_norm: cannot normalise over an empty {} of x {}", shape_str(normalized), x.describe());
  return D;
}
}  // namespace

Tensor layer_norm(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias, double eps) {
  return row_norm("layer_norm", x, checked_layer_norm_width(x, normalized_ndim, weight, bias, eps), weight, bias, eps,
                  true);
}

Tensor layer_norm_relu(const Tensor& x, int normalized_ndim, const Tensor& weight, const Tensor& bias, double eps) {
  const bool wants_grad = grad_enabled() && (x.requires_grad() || (weight.defined() && weight.requires_grad()) ||
                                             (bias.defined() && bias.requires_grad()));
  if (wants_grad || !x.is_cpu()) return relu(layer_norm(x, normalized_ndim, weight, bias, eps));
  const int64_t D = checked_layer_norm_width(x, normalized_ndim, weight, bias, eps);
  const int64_t rows = x.numel() / D;
  Tensor y = Tensor::empty_like(x);
  Tensor mean = Tensor::empty({rows}, x.dtype()), rstd = Tensor::empty({rows}, x.dtype());  // not kept
  if (rows > 0)
    dispatch_floating(x.dtype(), "layer_norm_relu", [&](auto tag) {
      using T = typename decltype(tag)::type;
      row_norm_forward_cpu<T>(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), y.data<T>(), mean.data<T>(),
                              rstd.data<T>(), rows, D, eps, true, /*relu_after=*/true);
    });
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  const char* op = "rms_norm";
  detail::check_floating(op, x);
  detail::check_cuda_f32(op, x);
  DISPA_CHECK(x.ndim() >= 1, "rms_norm: needs at least one axis, got x {}", x.describe());
  DISPA_CHECK(eps >= 0, "rms_norm: eps must be >= 0, got {}", eps);
  const int64_t D = x.dim(-1);
  check_param(op, "weight", weight, x, Shape{D});
  DISPA_CHECK(D > 0, "rms_norm: cannot normalise over an empty last axis of x {}", x.describe());
  return row_norm(op, x, D, weight, Tensor(), eps, false);
}

Tensor batch_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                    Tensor running_var, bool training, double momentum, double eps) {
  const char* op = "batch_norm1d";
  detail::check_floating(op, x);
  detail::check_cuda_f32(op, x);
  DISPA_CHECK(x.ndim() == 2, "batch_norm1d: x must be [N, C], got {}", x.describe());
  const int64_t N = x.dim(0), C = x.dim(1);
  check_param(op, "weight", weight, x, Shape{C});
  check_param(op, "bias", bias, x, Shape{C});
  check_param(op, "running_mean", running_mean, x, Shape{C});
  check_param(op, "running_var", running_var, x, Shape{C});
  DISPA_CHECK(running_mean.defined() == running_var.defined(),
              "batch_norm1d: running_mean and running_var must both be given or both be undefined");
  DISPA_CHECK(training || running_mean.defined(), "batch_norm1d: eval mode needs running statistics (x {})",
              x.describe());
  // As PyTorch: one value per channel has no variance to normalise by.
  DISPA_CHECK(!training || N > 1, "batch_norm1d: training needs more than one row per channel, got x {}",
              x.describe());
  DISPA_CHECK(eps >= 0, "batch_norm1d: eps must be >= 0, got {}", eps);

  Tensor y = Tensor::empty_like(x);
  Tensor mean = Tensor::empty({C}, x.dtype(), x.device());
  Tensor rstd = Tensor::empty({C}, x.dtype(), x.device());
  if (x.is_cuda()) {
    DISPA_ON_CUDA(cuda::batch_norm_forward(x.data<float>(), ptr_or_null<float>(weight), ptr_or_null<float>(bias),
                                           y.data<float>(), mean.data<float>(), rstd.data<float>(),
                                           mut_ptr_or_null<float>(running_mean), mut_ptr_or_null<float>(running_var),
                                           N, C, training, static_cast<float>(momentum), static_cast<float>(eps)));
  } else {
    dispatch_floating(x.dtype(), op, [&](auto tag) {
      using T = typename decltype(tag)::type;
      batch_norm_forward_cpu<T>(x.data<T>(), ptr_or_null<T>(weight), ptr_or_null<T>(bias), y.data<T>(),
                                mean.data<T>(), rstd.data<T>(), mut_ptr_or_null<T>(running_mean),
                                mut_ptr_or_null<T>(running_var), N, C, training, momentum, eps);
    });
  }
  // Keeps x, the weight and the statistics this forward used (batch or running, as of now: later
  // running-stat updates do not change this step's gradient).
  record(op, {x, weight, bias}, y, [x, weight, bias, mean, rstd, training](const Tensor& dy) {
    const int64_t N = x.dim(0), C = x.dim(1);
    Tensor dx = Tensor::empty_like(x);
    Tensor dw = grad_buffer_for(weight), db = grad_buffer_for(bias);
    if (x.is_cuda()) {
      DISPA_ON_CUDA(cuda::batch_norm_backward(x.data<float>(), ptr_or_null<float>(weight), mean.data<float>(),
                                              rstd.data<float>(), dy.data<float>(), dx.data<float>(),
                                              mut_ptr_or_null<float>(dw), mut_ptr_or_null<float>(db), N, C,
                                              training));
    } else {
      dispatch_floating(x.dtype(), "batch_norm1d backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        batch_norm_backward_cpu<T>(x.data<T>(), ptr_or_null<T>(weight), mean.data<T>(), rstd.data<T>(),
                                   dy.data<T>(), dx.data<T>(), mut_ptr_or_null<T>(dw), mut_ptr_or_null<T>(db), N, C,
                                   training);
      });
    }
    x.accumulate_grad(std::move(dx));
    if (dw.defined()) weight.accumulate_grad(std::move(dw));
    if (db.defined()) bias.accumulate_grad(std::move(db));
  });
  return y;
}

}  // namespace dispa
