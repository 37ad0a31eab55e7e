// gathered_linear (gathered_linear.h): checks, the packing plan, the CPU loops and the tape record.
// CPU forward:
//   plan  from the index, on the host: pathway p's valid slots (in slot order) become the packed
//         columns offset[p] .. offset[p] + n_p - 1, followed by one bias column when there is a bias;
//         K = sum of the n_p (+ P with a bias);
//   Xg    [C, K]: Xg[c, k] = x[c, gene of k], or 1 in a bias column;
//   Wg    [K, h]: row k = weight[:, slot of k]ᵀ, or the bias in a bias row;
//   y[:, p, :] = Xg[:, block p] · Wg[block p, :]   one GEMM per pathway, written straight into y
//         (ldc = P*h); the bias comes in through its column, so there is no broadcast pass over y.
// Backward, with dy_p = dy[:, p, :] ([C, h], row stride P*h):
//   dWg[:, block p] = dy_pᵀ · Xg[:, block p]   [h, K]; a bias column gives sum over c of dy_p
//   dW[:, s] = sum of dWg[:, k] over the packed columns k of slot s;  db = sum over the bias columns
//   dXg[:, block p] = dy_p · Wg[block p, :]ᵀ   [C, K], gene columns only (only when x needs it)
//   dx[:, g] = sum of dXg[:, k] over the packed columns k that read gene g.
// Every GEMM writes its own block, and every sum runs over its packed columns in pathway order, in
// double, one output element per thread: results do not depend on the thread count.
#include "engine/ops/gathered_linear.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/gather.h"
#include "engine/ops/gather_math.h"
#include "engine/ops/gemm_cpu.h"
#include "engine/ops/matmul.h"

namespace dispa {
namespace {

// Packed columns grouped by a key (a weight slot, a gene), in CSR form: the members of group g
// are member[start[g] .. start[g + 1]), in increasing column order, which is pathway order.
struct Groups {
  std::vector<int64_t> start, member;

  // keys[k] in [0, n_groups) or -1 (in no group).
  static Groups by_key(const std::vector<int64_t>& keys, int64_t n_groups) {
    Groups g;
    g.start.assign(size_t(n_groups + 1), 0);
    for (int64_t key : keys)
      if (key >= 0) ++g.start[size_t(key + 1)];
    for (int64_t i = 0; i < n_groups; ++i) g.start[size_t(i + 1)] += g.start[size_t(i)];
    g.member.resize(size_t(g.start.back()));
    std::vector<int64_t> fill(g.start.begin(), g.start.end() - 1);
    for (int64_t k = 0; k < int64_t(keys.size()); ++k)
      if (keys[size_t(k)] >= 0) g.member[size_t(fill[size_t(keys[size_t(k)])]++)] = k;
    return g;
  }
};

struct Plan {
  int64_t C = 0, G = 0, P = 0, S = 0, h = 0, K = 0;
  std::vector<int64_t> offset;  // [P + 1]: pathway p's packed columns start here
  std::vector<int64_t> gene;    // [K]: the column of x a packed column reads; -1 for a bias column
  std::vector<int64_t> slot;    // [K]: the weight column (slot) it uses; -1 for a bias column
  Groups by_slot, by_gene, bias_columns;
  int64_t genes(int64_t p) const {  // valid slots of pathway p (its block without the bias column)
    const int64_t n = offset[size_t(p + 1)] - offset[size_t(p)];
    return n > 0 && gene[size_t(offset[size_t(p + 1)] - 1)] < 0 ? n - 1 : n;
  }
};

std::string position_str(int64_t flat, int64_t S) { return fmt::format("[{}, {}]", flat / S, flat % S); }

// Builds the plan and validates the index: anything but -1 or a column of x throws.
template <typename I>
Plan make_plan(const I* index, const Tensor& index_t, const Tensor& x, int64_t h, bool with_bias) {
  Plan plan;
  plan.C = x.dim(0), plan.G = x.dim(1), plan.P = index_t.dim(0), plan.S = index_t.dim(1), plan.h = h;
  const int64_t G = plan.G, S = plan.S;
  plan.offset.reserve(size_t(plan.P + 1));
  for (int64_t p = 0; p < plan.P; ++p) {
    plan.offset.push_back(int64_t(plan.gene.size()));
    for (int64_t s = 0; s < S; ++s) {
      const I v = index[p * S + s];
      if (v == I(kPaddingIndex)) continue;
      if (!index_in_range(v, G))
        fail("gathered_linear: index {} at position {} of index {} is out of range for the {} columns of x {} "
             "(valid: 0..{}, or -1 for padding)",
             int64_t(v), position_str(p * S + s, S), index_t.describe(), G, x.describe(), G - 1);
      plan.gene.push_back(int64_t(v));
      plan.slot.push_back(s);
    }
    if (with_bias) {
      plan.gene.push_back(-1);
      plan.slot.push_back(-1);
    }
  }
  plan.offset.push_back(int64_t(plan.gene.size()));
  plan.K = int64_t(plan.gene.size());
  plan.by_slot = Groups::by_key(plan.slot, S);
  plan.by_gene = Groups::by_key(plan.gene, G);
  std::vector<int64_t> is_bias(plan.gene.size());
  for (size_t k = 0; k < is_bias.size(); ++k) is_bias[k] = plan.gene[k] < 0 ? 0 : -1;
  plan.bias_columns = Groups::by_key(is_bias, 1);
  return plan;
}

inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                 int64_t ldb, float* c, int64_t ldc) {
  cpu::sgemm(ta, tb, m, n, k, 1.f, a, lda, b, ldb, 0.f, c, ldc);
}
inline void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
                 int64_t ldb, double* c, int64_t ldc) {
  cpu::dgemm(ta, tb, m, n, k, 1.0, a, lda, b, ldb, 0.0, c, ldc);
}

// body(p) for every pathway: in parallel over pathways (each GEMM then runs on one thread) when
// there are at least as many as threads, else in order with every GEMM using all threads.
template <typename Body>
void for_each_pathway(int64_t P, Body&& body) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) if (threads > 1 && P >= threads)
  for (int64_t p = 0; p < P; ++p) body(p);
}

// out[r * ld_out + g] = sum over the members k of group g of in[r * ld_in + k], in member order,
// accumulated in double; groups without members give 0.
template <typename T>
void sum_groups(const T* in, int64_t rows, int64_t ld_in, const Groups& groups, T* out, int64_t ld_out) {
  const int64_t n_groups = int64_t(groups.start.size()) - 1;
#pragma omp parallel for schedule(static) if (rows * int64_t(groups.member.size()) > 65536)
  for (int64_t r = 0; r < rows; ++r) {
    const T* row = in + r * ld_in;
    for (int64_t g = 0; g < n_groups; ++g) {
      double acc = 0;
      for (int64_t i = groups.start[size_t(g)]; i < groups.start[size_t(g + 1)]; ++i)
        acc += double(row[groups.member[size_t(i)]]);
      out[r * ld_out + g] = static_cast<T>(acc);
    }
  }
}

template <typename T>
void pack_input(const Plan& plan, const T* x, T* xg) {
  const int64_t K = plan.K, G = plan.G;
#pragma omp parallel for schedule(static) if (plan.C * K > 65536)
  for (int64_t c = 0; c < plan.C; ++c)
    for (int64_t k = 0; k < K; ++k) xg[c * K + k] = plan.gene[size_t(k)] >= 0 ? x[c * G + plan.gene[size_t(k)]] : T(1);
}

// Wg [K, h] from weight [h, S] and bias [h] (or null): transposed once into [S, h] rows, then copied.
template <typename T>
void pack_weight(const Plan& plan, const T* weight, const T* bias, T* wg) {
  const int64_t h = plan.h, S = plan.S;
  std::vector<T> wt(size_t(S * h));
  for (int64_t j = 0; j < h; ++j)
    for (int64_t s = 0; s < S; ++s) wt[size_t(s * h + j)] = weight[j * S + s];
  for (int64_t k = 0; k < plan.K; ++k) {
    const T* src = plan.slot[size_t(k)] >= 0 ? wt.data() + plan.slot[size_t(k)] * h : bias;
    if (h > 0) std::memcpy(wg + k * h, src, size_t(h) * sizeof(T));
  }
}

template <typename T>
void forward_cpu(const Plan& plan, const T* xg, const T* wg, T* y) {
  const int64_t K = plan.K, h = plan.h, ldy = plan.P * plan.h;
  for_each_pathway(plan.P, [&](int64_t p) {
    const int64_t k0 = plan.offset[size_t(p)], kp = plan.offset[size_t(p + 1)] - k0;
    gemm(false, false, plan.C, h, kp, xg + k0, K, wg + k0 * h, h, y + p * h, ldy);  // kp = 0 writes zeros
  });
}

// dWg [h, K]: per pathway dy_pᵀ · Xg[:, block p].
template <typename T>
void weight_grad_cpu(const Plan& plan, const T* dy, const T* xg, T* dwg) {
  const int64_t K = plan.K, h = plan.h, ldy = plan.P * plan.h;
  for_each_pathway(plan.P, [&](int64_t p) {
    const int64_t k0 = plan.offset[size_t(p)], kp = plan.offset[size_t(p + 1)] - k0;
    gemm(true, false, h, kp, plan.C, dy + p * h, ldy, xg + k0, K, dwg + k0, K);
  });
}

// dXg [C, K], gene columns: per pathway dy_p · Wg[block p, :]ᵀ (bias columns are not written).
template <typename T>
void input_grad_cpu(const Plan& plan, const T* dy, const T* wg, T* dxg) {
  const int64_t K = plan.K, h = plan.h, ldy = plan.P * plan.h;
  for_each_pathway(plan.P, [&](int64_t p) {
    const int64_t k0 = plan.offset[size_t(p)];
    gemm(false, true, plan.C, plan.genes(p), h, dy + p * h, ldy, wg + k0 * h, h, dxg + k0, K);
  });
}

template <typename T>
const T* data_or_null(const Tensor& t) { return t.defined() ? t.data<T>() : nullptr; }

void check_args(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias) {
  const char* op = "gathered_linear";
  DISPA_CHECK(x.defined() && index.defined() && weight.defined(), "{}: undefined input", op);
  detail::check_floating(op, x);
  detail::check_cuda_f32(op, x);
  DISPA_CHECK(x.ndim() == 2, "{}: x must be [C, G], got {}", op, x.describe());
  DISPA_CHECK(index.ndim() == 2, "{}: index must be [P, S], got {}", op, index.describe());
  DISPA_CHECK(index.dtype() == DType::i32 || index.dtype() == DType::i64, "{}: index must be i32 or i64, got {}", op,
              index.describe());
  detail::check_same_device(op, x, index);
  detail::check_same_device(op, x, weight);
  detail::check_same_dtype(op, x, weight);
  DISPA_CHECK(weight.ndim() == 2 && weight.dim(1) == index.dim(1),
              "{}: weight must be [h, S] with S = {} (the slots of index {}), got {}", op, index.dim(1),
              index.describe(), weight.describe());
  if (bias.defined()) {
    detail::check_same_device(op, x, bias);
    detail::check_same_dtype(op, x, bias);
    DISPA_CHECK(bias.shape() == Shape{weight.dim(0)}, "{}: bias {} does not match weight {} (want [{}])", op,
                bias.describe(), weight.describe(), weight.dim(0));
  }
}

}  // namespace

Tensor gathered_linear(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias) {
  check_args(x, index, weight, bias);
  // CUDA: the composite (gathered_linear.h says why); gather_columns validates the index there.
  if (x.is_cuda()) return linear(gather_columns(x, index), weight, bias);

  const int64_t h = weight.dim(0);
  auto plan = std::make_shared<const Plan>(
      index.dtype() == DType::i32 ? make_plan(index.data<int32_t>(), index, x, h, bias.defined())
                                  : make_plan(index.data<int64_t>(), index, x, h, bias.defined()));
  const int64_t C = plan->C, P = plan->P, K = plan->K;
  Tensor y = Tensor::empty({C, P, h}, x.dtype(), x.device());
  Tensor xg = Tensor::empty({C, K}, x.dtype(), x.device());
  Tensor wg = Tensor::empty({K, h}, x.dtype(), x.device());
  dispatch_floating(x.dtype(), "gathered_linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    pack_input(*plan, x.data<T>(), xg.data<T>());
    pack_weight(*plan, weight.data<T>(), data_or_null<T>(bias), wg.data<T>());
    forward_cpu(*plan, xg.data<T>(), wg.data<T>(), y.data<T>());
  });

  if (!any_requires_grad({x, weight, bias})) return y;
  // Keeps the plan, the packed input (for the weight and bias gradients) and the packed weight
  // (for the input gradient), each only when that gradient is wanted; x, weight and bias are
  // kept to receive their gradients.
  const bool parameter_grads = weight.requires_grad() || (bias.defined() && bias.requires_grad());
  const Tensor saved_xg = parameter_grads ? xg : Tensor();
  const Tensor saved_wg = x.requires_grad() ? wg : Tensor();
  record("gathered_linear", {x, weight, bias}, y, [x, weight, bias, plan, saved_xg, saved_wg](const Tensor& dy) {
    const Plan& pl = *plan;
    dispatch_floating(x.dtype(), "gathered_linear backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (saved_xg.defined()) {
        Tensor dwg = Tensor::empty({pl.h, pl.K}, x.dtype(), x.device());
        weight_grad_cpu(pl, dy.data<T>(), saved_xg.data<T>(), dwg.data<T>());
        if (weight.requires_grad()) {
          Tensor dw = Tensor::empty(weight.shape(), x.dtype(), x.device());
          sum_groups(dwg.data<T>(), pl.h, pl.K, pl.by_slot, dw.data<T>(), pl.S);
          weight.accumulate_grad(std::move(dw));
        }
        if (bias.defined() && bias.requires_grad()) {
          Tensor db = Tensor::empty(bias.shape(), x.dtype(), x.device());
          sum_groups(dwg.data<T>(), pl.h, pl.K, pl.bias_columns, db.data<T>(), 1);
          bias.accumulate_grad(std::move(db));
        }
      }
      if (saved_wg.defined()) {
        Tensor dxg = Tensor::empty({pl.C, pl.K}, x.dtype(), x.device());
        input_grad_cpu(pl, dy.data<T>(), saved_wg.data<T>(), dxg.data<T>());
        Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
        sum_groups(dxg.data<T>(), pl.C, pl.K, pl.by_gene, dx.data<T>(), pl.G);
        x.accumulate_grad(std::move(dx));
      }
    });
  });
  return y;
}

}  // namespace dispa
