// A linear layer on gathered columns that skips the padding: the gene FFN's first layer.
//
//   gathered_linear(x, index, weight, bias) == linear(gather_columns(x, index), weight, bias)
//
// x [C, G] (C rows, e.g. cells; G columns, e.g. genes), index [P, S] (i32 or i64; -1 = padding,
// anywhere in a row), weight [h, S] (nn.Linear's [out, in]), bias [h] or undefined -> y [C, P, h]:
//   y[c, p, :] = bias + sum over s with index[p, s] >= 0 of x[c, index[p, s]] * weight[:, s].
// The composite multiplies every padded slot's zero with its weight column; on GDSC2's KEGG sets
// (P = 112, S = 114, 1,897 genes in all) that is 85% of the layer's multiply-adds. Here each row p
// of the index is a GEMM over its valid slots only (CPU: gathered_linear.cpp says how).
//
// Gradients flow to x (scatter-add, as gather_columns), weight (padded slots get exactly 0) and
// bias; the index gets none. CPU results do not depend on the thread count. f32 and f64 on the CPU;
// f32 on CUDA, where the op is the composite itself (gather_columns, then linear's cuBLAS GEMM):
// per-pathway GEMMs would cost P launches per direction for ~17-deep products, which a GPU does
// not win back, and the composite is already checked there.
// One difference from the composite: a padded slot never multiplies its weight column, so an inf
// or NaN weight there does not reach y (the composite's 0 * inf would make it NaN).
// Errors name the op, the tensors, and for a bad index its value and position.
#pragma once
#include "engine/tensor.h"

namespace dispa {

Tensor gathered_linear(const Tensor& x, const Tensor& index, const Tensor& weight, const Tensor& bias);

}  // namespace dispa
