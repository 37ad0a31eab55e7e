// concat, slice, permute, transpose: argument checks, tape records and CPU loops. A tensor is
// viewed as [outer, axis, inner] for concat/slice, so both are row-block copies (BlockCopy in
// shape_math.h); permute walks its output in order and gathers from the input. Backward passes
// reuse the same copies: concat -> slices, slice -> zero-padded placement, permute -> inverse.
#include "engine/ops/shape.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/shape_math.h"

namespace dispa {
namespace {

struct AxisView {
  int64_t outer = 1;  // product of the axes before `axis`
  int64_t length = 0; // the axis itself
  int64_t inner = 1;  // product of the axes after `axis`
};

AxisView view_around(const Shape& shape, int axis) {
  AxisView v;
  for (int d = 0; d < axis; ++d) v.outer *= shape[d];
  v.length = shape[axis];
  for (size_t d = size_t(axis) + 1; d < shape.size(); ++d) v.inner *= shape[d];
  return v;
}

int element_size(const Tensor& t) { return static_cast<int>(dtype_size(t.dtype())); }

// dst (viewed as a matrix) receives the block described by c from src; any dtype, same device.
void copy_block(const Tensor& src, const Tensor& dst, const BlockCopy& c) {
  if (c.numel() == 0) return;
  const int es = element_size(src);
  if (src.is_cuda()) {
    DISPA_ON_CUDA(cuda::block_copy(src.raw_data(), dst.raw_data(), c, es));
    return;
  }
  const char* s = static_cast<const char*>(src.raw_data());
  char* d = static_cast<char*>(dst.raw_data());
  const size_t row_bytes = size_t(c.cols) * size_t(es);
#pragma omp parallel for if (c.numel() > 65536 && c.rows > 1)
  for (int64_t r = 0; r < c.rows; ++r)
    std::memcpy(d + (r * c.dst_stride + c.dst_col) * es, s + (r * c.src_stride + c.src_col) * es, row_bytes);
}

// Columns [start * inner, end * inner) of `full` (viewed as [outer, length * inner]) against a
// contiguous [outer, (end - start) * inner] part. to_part: full -> part (slice); else part -> full.
BlockCopy axis_range_copy(const AxisView& full, int64_t start, int64_t end, bool to_part) {
  BlockCopy c;
  c.rows = full.outer;
  c.cols = (end - start) * full.inner;
  const int64_t full_stride = full.length * full.inner, full_col = start * full.inner;
  if (to_part) {
    c.src_stride = full_stride;
    c.src_col = full_col;
    c.dst_stride = c.cols;
  } else {
    c.src_stride = c.cols;
    c.dst_stride = full_stride;
    c.dst_col = full_col;
  }
  return c;
}

// Merges output axes that stay adjacent in the input and drops size-1 axes (see shape_math.h).
PermuteIndexer make_permute_indexer(const Shape& in_shape, const std::vector<int>& order) {
  const int nd = static_cast<int>(in_shape.size());
  std::vector<int64_t> in_strides(size_t(nd), 1);
  for (int d = nd - 2; d >= 0; --d) in_strides[d] = in_strides[d + 1] * in_shape[d + 1];
  PermuteIndexer ix;
  for (int d = 0; d < nd; ++d) {
    const int64_t size = in_shape[order[d]], stride = in_strides[order[d]];
    if (size == 1) continue;
    if (ix.ndim > 0 && ix.in_stride[ix.ndim - 1] == stride * size) {
      ix.out_shape[ix.ndim - 1] *= size;
      ix.in_stride[ix.ndim - 1] = stride;
    } else {
      ix.out_shape[ix.ndim] = size;
      ix.in_stride[ix.ndim] = stride;
      ++ix.ndim;
    }
  }
  if (ix.ndim == 0) {  // every axis has size 1: a single element
    ix.ndim = 1;
    ix.out_shape[0] = 1;
    ix.in_stride[0] = 1;
  }
  return ix;
}

// One task per run of the innermost output axis; a unit input stride makes the run a memcpy.
template <typename Word>
void permute_cpu(const Word* src, Word* dst, int64_t n, const PermuteIndexer& ix) {
  const int last = ix.ndim - 1;
  const int64_t len = ix.out_shape[last], stride = ix.in_stride[last];
  const int64_t runs = n / len;
#pragma omp parallel for if (n > 65536)
  for (int64_t r = 0; r < runs; ++r) {
    const Word* in = src + ix.source(r * len);
    Word* out = dst + r * len;
    if (stride == 1) {
      std::memcpy(out, in, size_t(len) * sizeof(Word));
    } else {
      for (int64_t j = 0; j < len; ++j) out[j] = in[j * stride];
    }
  }
}

void check_order(const Tensor& x, const std::vector<int>& order) {
  const int nd = x.ndim();
  DISPA_CHECK(nd <= kMaxPermuteDims, "permute: at most {} dimensions, got {}", kMaxPermuteDims, x.describe());
  bool ok = static_cast<int>(order.size()) == nd;
  std::vector<bool> seen(size_t(nd), false);
  for (size_t i = 0; ok && i < order.size(); ++i) {
    const int a = order[i];
    ok = a >= 0 && a < nd && !seen[size_t(a)];
    if (ok) seen[size_t(a)] = true;
  }
  DISPA_CHECK(ok, "permute: order [{}] is not a permutation of the {} axes of {}", fmt::join(order, ", "), nd,
              x.describe());
}

// The permuted copy itself (no autograd), used by permute and its backward.
Tensor permute_copy(const Tensor& x, const std::vector<int>& order) {
  Shape out_shape(order.size());
  for (size_t d = 0; d < order.size(); ++d) out_shape[d] = x.shape()[size_t(order[d])];
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  const int64_t n = x.numel();
  if (n == 0) return out;
  const PermuteIndexer ix = make_permute_indexer(x.shape(), order);
  const int es = element_size(x);
  if (x.is_cuda()) {
    DISPA_ON_CUDA(cuda::permute_copy(x.raw_data(), out.raw_data(), n, ix, es));
  } else if (es == 4) {
    permute_cpu(static_cast<const uint32_t*>(x.raw_data()), static_cast<uint32_t*>(out.raw_data()), n, ix);
  } else {
    permute_cpu(static_cast<const uint64_t*>(x.raw_data()), static_cast<uint64_t*>(out.raw_data()), n, ix);
  }
  return out;
}

}  // namespace

Tensor concat(const std::vector<Tensor>& parts, int axis) {
  DISPA_CHECK(!parts.empty(), "concat: needs at least one tensor");
  const Tensor& first = parts[0];
  DISPA_CHECK(first.ndim() > 0, "concat: cannot concatenate 0-d tensors (part 0 is {})", first.describe());
  const int a = detail::normalize_axis("concat", axis, first.ndim());
  Shape out_shape = first.shape();
  out_shape[size_t(a)] = 0;
  std::vector<int64_t> starts;  // where each part begins along the axis
  for (size_t k = 0; k < parts.size(); ++k) {
    const Tensor& p = parts[k];
    detail::check_same_device("concat", first, p);
    detail::check_same_dtype("concat", first, p);
    bool match = p.ndim() == first.ndim();
    for (int d = 0; match && d < first.ndim(); ++d) match = d == a || p.shape()[d] == first.shape()[d];
    DISPA_CHECK(match, "concat: part {} has shape {} but part 0 has {}; sizes must match except along axis {}", k,
                shape_str(p.shape()), shape_str(first.shape()), a);
    starts.push_back(out_shape[size_t(a)]);
    out_shape[size_t(a)] += p.shape()[size_t(a)];
  }
  Tensor out = Tensor::empty(out_shape, first.dtype(), first.device());
  const AxisView full = view_around(out_shape, a);
  for (size_t k = 0; k < parts.size(); ++k) {
    const int64_t start = starts[k], end = start + parts[k].shape()[size_t(a)];
    copy_block(parts[k], out, axis_range_copy(full, start, end, /*to_part=*/false));
  }
  // Keeps only the parts that need a gradient (the others stay undefined) and the split points.
  std::vector<Tensor> grad_parts(parts.size());
  std::vector<int64_t> ends(parts.size());
  for (size_t k = 0; k < parts.size(); ++k) {
    if (parts[k].requires_grad()) grad_parts[k] = parts[k];
    ends[k] = starts[k] + parts[k].shape()[size_t(a)];
  }
  record("concat", parts, out, [grad_parts, starts, ends, a](const Tensor& dy) {
    for (size_t k = 0; k < grad_parts.size(); ++k)
      if (grad_parts[k].defined()) grad_parts[k].accumulate_grad(slice(dy, a, starts[k], ends[k]));
  });
  return out;
}

Tensor slice(const Tensor& x, int axis, int64_t start, int64_t end) {
  DISPA_CHECK(x.ndim() > 0, "slice: cannot slice a 0-d tensor ({})", x.describe());
  const int a = detail::normalize_axis("slice", axis, x.ndim());
  const int64_t size = x.shape()[size_t(a)];
  DISPA_CHECK(0 <= start && start <= end && end <= size,
              "slice: range [{}, {}) is not within axis {} of size {} ({}); need 0 <= start <= end <= size", start,
              end, a, size, x.describe());
  Shape out_shape = x.shape();
  out_shape[size_t(a)] = end - start;
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  const AxisView full = view_around(x.shape(), a);
  copy_block(x, out, axis_range_copy(full, start, end, /*to_part=*/true));
  // Keeps x (to receive the gradient; its values are not read) and the range.
  record("slice", {x}, out, [x, full, start, end](const Tensor& dy) {
    Tensor dx = Tensor::zeros_like(x);  // zeros outside [start, end)
    copy_block(dy, dx, axis_range_copy(full, start, end, /*to_part=*/false));
    x.accumulate_grad(std::move(dx));
  });
  return out;
}

Tensor permute(const Tensor& x, const std::vector<int>& order) {
  check_order(x, order);
  Tensor out = permute_copy(x, order);
  std::vector<int> inverse(order.size());
  for (size_t d = 0; d < order.size(); ++d) inverse[size_t(order[d])] = static_cast<int>(d);
  record("permute", {x}, out, [x, inverse](const Tensor& dy) {  // keeps x only to receive the gradient
    x.accumulate_grad(permute_copy(dy, inverse));
  });
  return out;
}

Tensor transpose(const Tensor& x, int axis_a, int axis_b) {
  const int a = detail::normalize_axis("transpose", axis_a, x.ndim());
  const int b = detail::normalize_axis("transpose", axis_b, x.ndim());
  std::vector<int> order(size_t(x.ndim()));
  for (int d = 0; d < x.ndim(); ++d) order[size_t(d)] = d;
  std::swap(order[size_t(a)], order[size_t(b)]);
  return permute(x, order);
}

}  // namespace dispa
