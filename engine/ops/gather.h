// Index ops. Index tensors are i32 or i64; -1 means "padding": the output element is 0 and no
// gradient flows. Any other out-of-range index throws, naming the op, the index and the bound.
// Backward is a scatter-add (an index used twice receives both gradients): deterministic on the
// CPU (each gradient element is summed by one thread in index order), atomicAdd on CUDA (equal to
// rounding). The gathered tensor may have any dtype (an index table gathers like features);
// gradients flow for f32/f64. The index gets no gradient and must be on the same device.
// Validation happens before anything is gathered: on the CPU by a loop over the index; on CUDA by
// a device pass that finds the first bad position, whose one-word result the host reads back
// (one stream synchronisation per call) and, only on failure, copies the index to the host to
// name the value and position. Kernels additionally treat any out-of-range index as padding.
#pragma once
#include "engine/tensor.h"

namespace dispa {

// table: [N, D...], index: [I...] -> [I..., D...] (row lookup, e.g. drug features by batch id).
Tensor gather_rows(const Tensor& table, const Tensor& index);

// x: [B, G], index: [I...] -> [B, I...]: out[b, i...] = x[b, index[i...]] (pathway gene gather:
// expression [B, G] with the pathway index [P, S] gives [B, P, S]).
Tensor gather_columns(const Tensor& x, const Tensor& index);

}  // namespace dispa
