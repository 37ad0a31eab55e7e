// Index ops. Index tensors are i32 or i64; -1 means "padding": the output element is 0 and no
// gradient flows. Any other out-of-range index throws, naming the op, the index and the bound.
// Backward is a scatter-add (an index used twice receives both gradients).
#pragma once
#include "engine/tensor.h"

namespace dispa {

// table: [N, D...], index: [I...] -> [I..., D...] (row lookup, e.g. drug features by batch id).
Tensor gather_rows(const Tensor& table, const Tensor& index);

// x: [B, G], index: [I...] -> [B, I...]: out[b, i...] = x[b, index[i...]] (pathway gene gather:
// expression [B, G] with the pathway index [P, S] gives [B, P, S]).
Tensor gather_columns(const Tensor& x, const Tensor& index);

}  // namespace dispa
