// gather_rows / gather_columns: checks, index validation, tape records and CPU loops.
// Forward copies elements as raw 32/64-bit words (any dtype: index tables gather like features);
// backward is a scatter-add. On the CPU it is deterministic: each output element of the gradient
// is summed by one thread in index order (gather_rows splits the work by column blocks,
// gather_columns by batch rows), so results do not depend on the thread count. CUDA uses atomicAdd.
//
// Validation: on the CPU every index is checked before the gather. On CUDA a device pass finds
// the first bad position (cuda::find_invalid_index) and the host reads that one word back before
// launching the gather (this synchronises the stream once per call); only on failure is the index
// copied to the host to build the message. Indices are therefore never trusted by a kernel.
#include "engine/ops/gather.h"

#include <algorithm>
#include <cstring>

#include "engine/autograd.h"
#include "engine/ops/dispatch.h"
#include "engine/ops/gather_math.h"

namespace dispa {
namespace {

// Calls body(TypeTag<int32_t>) or body(TypeTag<int64_t>) for an index tensor.
template <typename Body>
void dispatch_index(const char* op, const Tensor& index, Body&& body) {
  if (index.dtype() == DType::i32) {
    body(TypeTag<int32_t>{});
  } else if (index.dtype() == DType::i64) {
    body(TypeTag<int64_t>{});
  } else {
    fail("{}: index must be i32 or i64, got {}", op, index.describe());
  }
}

std::string position_str(int64_t flat, const Shape& shape) {
  Shape coord(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    coord[d] = shape[d] == 0 ? 0 : flat % shape[d];
    flat = shape[d] == 0 ? 0 : flat / shape[d];
  }
  return shape_str(coord);
}

// Throws for the first index that is neither -1 nor in [0, bound). `what` names the indexed axis.
template <typename I>
void validate_host(const char* op, const I* idx, const Tensor& index, int64_t bound, const std::string& what) {
  const int64_t n = index.numel();
  for (int64_t p = 0; p < n; ++p) {
    if (idx[p] == kPaddingIndex || index_in_range(idx[p], bound)) continue;
    fail("{}: index {} at position {} of index {} is out of range for {} (valid: 0..{}, or -1 for padding)", op,
         static_cast<int64_t>(idx[p]), position_str(p, index.shape()), index.describe(), what, bound - 1);
  }
}

void validate_index(const char* op, const Tensor& index, int64_t bound, const std::string& what) {
  if (index.numel() == 0) return;
  dispatch_index(op, index, [&](auto tag) {
    using I = typename decltype(tag)::type;
    if (index.is_cpu()) {
      validate_host(op, index.data<I>(), index, bound, what);
      return;
    }
    Tensor first_invalid = Tensor::full({1}, -1.0, DType::i64, index.device());  // all ones as u64
    DISPA_ON_CUDA(cuda::find_invalid_index<I>(index.data<I>(), index.numel(), bound,
                                              reinterpret_cast<uint64_t*>(first_invalid.data<int64_t>())));
    if (first_invalid.to_vector<int64_t>()[0] == -1) return;
    const Tensor host = index.to(Device::cpu());
    validate_host(op, host.data<I>(), index, bound, what);  // throws with the value and position
  });
}

template <typename Word, typename I>
void gather_rows_cpu(const Word* table, const I* index, Word* out, int64_t n_index, int64_t row_size,
                     int64_t n_rows) {
#pragma omp parallel for if (n_index * row_size > 65536)
  for (int64_t i = 0; i < n_index; ++i) {
    Word* dst = out + i * row_size;
    const int64_t base = gather_rows_source(index[i], 0, row_size, n_rows);
    if (base == kPaddingIndex) {
      std::memset(dst, 0, size_t(row_size) * sizeof(Word));
    } else {
      std::memcpy(dst, table + base, size_t(row_size) * sizeof(Word));
    }
  }
}

// Column blocks are independent, and inside one block rows are added in index order.
template <typename T, typename I>
void gather_rows_backward_cpu(const T* dy, const I* index, T* dtable, int64_t n_index, int64_t row_size,
                              int64_t n_rows) {
  constexpr int64_t kBlock = 256;
  const int64_t blocks = (row_size + kBlock - 1) / kBlock;
#pragma omp parallel for if (n_index * row_size > 65536 && blocks > 1)
  for (int64_t cb = 0; cb < blocks; ++cb) {
    const int64_t c0 = cb * kBlock, c1 = std::min(row_size, c0 + kBlock);
    for (int64_t i = 0; i < n_index; ++i) {
      const int64_t base = gather_rows_source(index[i], 0, row_size, n_rows);
      if (base == kPaddingIndex) continue;
      const T* src = dy + i * row_size;
      for (int64_t c = c0; c < c1; ++c) dtable[base + c] += src[c];
    }
  }
}

template <typename Word, typename I>
void gather_columns_cpu(const Word* x, const I* index, Word* out, int64_t batch, int64_t n_cols, int64_t n_index) {
#pragma omp parallel for if (batch * n_index > 65536)
  for (int64_t b = 0; b < batch; ++b) {
    Word* dst = out + b * n_index;
    for (int64_t i = 0; i < n_index; ++i) {
      const int64_t s = gather_columns_source(index[i], b, n_cols);
      dst[i] = s == kPaddingIndex ? Word(0) : x[s];
    }
  }
}

// Batch rows are independent; inside a row the index is walked in order.
template <typename T, typename I>
void gather_columns_backward_cpu(const T* dy, const I* index, T* dx, int64_t batch, int64_t n_cols, int64_t n_index) {
#pragma omp parallel for if (batch * n_index > 65536)
  for (int64_t b = 0; b < batch; ++b) {
    const T* src = dy + b * n_index;
    for (int64_t i = 0; i < n_index; ++i) {
      const int64_t s = gather_columns_source(index[i], b, n_cols);
      if (s != kPaddingIndex) dx[s] += src[i];
    }
  }
}

// Calls body with the word type (uint32_t or uint64_t) that moves one element of t.
template <typename Body>
void dispatch_word(const Tensor& t, Body&& body) {
  if (dtype_size(t.dtype()) == 4) {
    body(TypeTag<uint32_t>{});
  } else {
    body(TypeTag<uint64_t>{});
  }
}

}  // namespace

Tensor gather_rows(const Tensor& table, const Tensor& index) {
  detail::check_same_device("gather_rows", table, index);
  DISPA_CHECK(table.ndim() >= 1, "gather_rows: table must have at least one axis, got {}", table.describe());
  const int64_t n_rows = table.shape()[0];
  int64_t row_size = 1;
  for (int d = 1; d < table.ndim(); ++d) row_size *= table.shape()[size_t(d)];
  validate_index("gather_rows", index, n_rows, fmt::format("the {} rows of table {}", n_rows, table.describe()));
  Shape out_shape = index.shape();
  out_shape.insert(out_shape.end(), table.shape().begin() + 1, table.shape().end());
  Tensor out = Tensor::empty(out_shape, table.dtype(), table.device());
  const int64_t n_index = index.numel();
  if (out.numel() > 0) {
    dispatch_index("gather_rows", index, [&](auto itag) {
      using I = typename decltype(itag)::type;
      if (table.is_cuda()) {
        DISPA_ON_CUDA(cuda::gather_rows_forward<I>(table.raw_data(), index.data<I>(), out.raw_data(), n_index,
                                                   row_size, n_rows, int(dtype_size(table.dtype()))));
        return;
      }
      dispatch_word(table, [&](auto wtag) {
        using W = typename decltype(wtag)::type;
        gather_rows_cpu(static_cast<const W*>(table.raw_data()), index.data<I>(), static_cast<W*>(out.raw_data()),
                        n_index, row_size, n_rows);
      });
    });
  }
  // Keeps table (to receive the gradient; its values are not read) and the index.
  record("gather_rows", {table}, out, [table, index, n_rows, row_size](const Tensor& dy) {
    Tensor dtable = Tensor::zeros_like(table);
    if (dy.numel() > 0) {
      dispatch_floating(table.dtype(), "gather_rows backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        dispatch_index("gather_rows backward", index, [&](auto itag) {
          using I = typename decltype(itag)::type;
          if (table.is_cuda()) {
            DISPA_ON_CUDA(cuda::gather_rows_backward<T, I>(dy.data<T>(), index.data<I>(), dtable.data<T>(),
                                                           index.numel(), row_size, n_rows));
          } else {
            gather_rows_backward_cpu(dy.data<T>(), index.data<I>(), dtable.data<T>(), index.numel(), row_size,
                                     n_rows);
          }
        });
      });
    }
    table.accumulate_grad(std::move(dtable));
  });
  return out;
}

Tensor gather_columns(const Tensor& x, const Tensor& index) {
  detail::check_same_device("gather_columns", x, index);
  DISPA_CHECK(x.ndim() == 2, "gather_columns: x must be [B, G], got {}", x.describe());
  const int64_t batch = x.shape()[0], n_cols = x.shape()[1];
  validate_index("gather_columns", index, n_cols, fmt::format("the {} columns of x {}", n_cols, x.describe()));
  Shape out_shape{batch};
  out_shape.insert(out_shape.end(), index.shape().begin(), index.shape().end());
  Tensor out = Tensor::empty(out_shape, x.dtype(), x.device());
  const int64_t n_index = index.numel();
  if (out.numel() > 0) {
    dispatch_index("gather_columns", index, [&](auto itag) {
      using I = typename decltype(itag)::type;
      if (x.is_cuda()) {
        DISPA_ON_CUDA(cuda::gather_columns_forward<I>(x.raw_data(), index.data<I>(), out.raw_data(), batch, n_cols,
                                                      n_index, int(dtype_size(x.dtype()))));
        return;
      }
      dispatch_word(x, [&](auto wtag) {
        using W = typename decltype(wtag)::type;
        gather_columns_cpu(static_cast<const W*>(x.raw_data()), index.data<I>(), static_cast<W*>(out.raw_data()),
                           batch, n_cols, n_index);
      });
    });
  }
  // Keeps x (to receive the gradient; its values are not read) and the index.
  record("gather_columns", {x}, out, [x, index, batch, n_cols](const Tensor& dy) {
    Tensor dx = Tensor::zeros_like(x);
    if (dy.numel() > 0) {
      dispatch_floating(x.dtype(), "gather_columns backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        dispatch_index("gather_columns backward", index, [&](auto itag) {
          using I = typename decltype(itag)::type;
          if (x.is_cuda()) {
            DISPA_ON_CUDA(cuda::gather_columns_backward<T, I>(dy.data<T>(), index.data<I>(), dx.data<T>(), batch,
                                                              n_cols, index.numel()));
          } else {
            gather_columns_backward_cpu(dy.data<T>(), index.data<I>(), dx.data<T>(), batch, n_cols, index.numel());
          }
        });
      });
    }
    x.accumulate_grad(std::move(dx));
  });
  return out;
}

}  // namespace dispa
