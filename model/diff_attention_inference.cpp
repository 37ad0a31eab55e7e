// Argument checks, the CPU dispatch to the per-level kernels and the reference composition of
// diff_attention_inference (model/diff_attention_inference.h).
#include "model/diff_attention_inference.h"

#include <vector>

#include "engine/autograd.h"
#include "engine/cpu_features.h"
#include "engine/ops/gather.h"
#include "engine/ops/reduce.h"
#include "model/diff_attention.h"
#include "model/diff_attention_infer_kernels.h"

namespace dispa {
namespace {

constexpr const char* kOp = "diff_attention_inference";

// Host copy of a row map as int64, every entry checked against the number of blocks.
std::vector<int64_t> checked_rows(const Tensor& rows, int64_t blocks, const char* name) {
  DISPA_CHECK(rows.ndim() == 1, "{}: {} must be [B], got {}", kOp, name, rows.describe());
  DISPA_CHECK(rows.dtype() == DType::i32 || rows.dtype() == DType::i64, "{}: {} must be i32 or i64, got {}", kOp, name,
              rows.describe());
  const Tensor host = rows.to(Device::cpu()).to(DType::i64);
  std::vector<int64_t> out = host.to_vector<int64_t>();
  for (size_t b = 0; b < out.size(); ++b)
    DISPA_CHECK(out[b] >= 0 && out[b] < blocks, "{}: {}[{}] = {} is outside [0, {})", kOp, name, b, out[b], blocks);
  return out;
}

// The queries-in-lanes loops pay off once a vector's 16 lanes are mostly real query rows.
bool queries_in_lanes_for(int64_t lq) { return lq >= 8; }

void run_kernels(const infer::Args& args, bool queries_in_lanes) {
  switch (cpu_level()) {
#if defined(DISPA_CPU_KERNELS_X86)
    case CpuLevel::avx512: return infer::run_avx512(args, queries_in_lanes);
    case CpuLevel::avx2: return infer::run_avx2(args, queries_in_lanes);
#endif
    default: return infer::run_portable(args, queries_in_lanes);
  }
}

}  // namespace

Tensor diff_attention_inference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& key_mask,
                                const Tensor& lambda, double lambda_init, const Tensor& subln_weight, int heads,
                                double rms_eps, const Tensor& q_rows, const Tensor& kv_rows, bool pool_queries,
                                InferenceLoops loops) {
  DISPA_CHECK(q.defined() && k.defined() && v.defined() && lambda.defined() && subln_weight.defined(),
              "{}: q, k, v, lambda and subln_weight must be defined", kOp);
  DISPA_CHECK(!grad_enabled() || !(q.requires_grad() || k.requires_grad() || v.requires_grad() ||
                                   lambda.requires_grad() || subln_weight.requires_grad()),
              "{}: has no backward; run it under NoGrad, or use diff_attention to train", kOp);
  DISPA_CHECK(q.ndim() == 3 && k.ndim() == 3, "{}: q must be [Nq, Lq, H·2D] and k [Nk, Lk, H·2D], got {} and {}", kOp,
              q.describe(), k.describe());
  DISPA_CHECK(v.shape() == k.shape(), "{}: v must have k's shape: k is {}, v is {}", kOp, k.describe(), v.describe());
  DISPA_CHECK(q.dim(2) == k.dim(2), "{}: query and key widths differ: q is {}, k is {}", kOp, q.describe(),
              k.describe());
  DISPA_CHECK(heads >= 1 && q.dim(2) % (2 * int64_t(heads)) == 0,
              "{}: width {} of q {} is not divisible by 2·heads (heads = {})", kOp, q.dim(2), q.describe(), heads);
  const int64_t nq = q.dim(0), nk = k.dim(0);
  const int64_t B = q_rows.defined() ? q_rows.numel() : nq;
  DISPA_CHECK(!kv_rows.defined() || kv_rows.numel() == B, "{}: q_rows and kv_rows name different batch sizes: {} vs {}",
              kOp, B, kv_rows.numel());
  DISPA_CHECK(kv_rows.defined() || nk == B, "{}: without kv_rows, k needs one block per output row: B = {}, k is {}",
              kOp, B, k.describe());
  DISPA_CHECK(B > 0 && q.dim(1) > 0 && k.dim(1) > 0, "{}: empty input: q is {}, k is {}, B = {}", kOp, q.describe(),
              k.describe(), B);
  DiffAttentionDims dims;
  dims.batch = B;
  dims.lq = q.dim(1);
  dims.lk = k.dim(1);
  dims.heads = heads;
  dims.head_dim = int(q.dim(2) / (2 * heads));
  if (key_mask.defined())
    DISPA_CHECK(key_mask.shape() == Shape({B, dims.lk}), "{}: key_mask must be [B, Lk] = [{}, {}], got {}", kOp, B,
                dims.lk, key_mask.describe());
  DISPA_CHECK(subln_weight.shape() == Shape{dims.cols()}, "{}: subln_weight must be [2D] = [{}], got {}", kOp,
              dims.cols(), subln_weight.describe());
  const std::vector<int64_t> q_map = q_rows.defined() ? checked_rows(q_rows, nq, "q_rows") : std::vector<int64_t>();
  const std::vector<int64_t> kv_map = kv_rows.defined() ? checked_rows(kv_rows, nk, "kv_rows") : std::vector<int64_t>();

  const bool kernels = q.is_cpu() && q.dtype() == DType::f32 && loops != InferenceLoops::reference;
  if (!kernels) {  // the definition: expand, the training op's forward, pool
    NoGrad no_grad;
    const Tensor qe = q_rows.defined() ? gather_rows(q, q_rows) : q;
    const Tensor ke = kv_rows.defined() ? gather_rows(k, kv_rows) : k;
    const Tensor ve = kv_rows.defined() ? gather_rows(v, kv_rows) : v;
    const Tensor y = diff_attention(qe, ke, ve, key_mask, lambda, lambda_init, subln_weight, heads, rms_eps).output;
    return pool_queries ? mean(y, 1, true) : y;
  }
  for (const Tensor* t : {&k, &v, &subln_weight})
    DISPA_CHECK(t->is_cpu() && t->dtype() == DType::f32, "{}: q is f32 on the CPU, but got {}", kOp, t->describe());
  const bool queries_in_lanes = loops == InferenceLoops::automatic ? queries_in_lanes_for(dims.lq)
                                                                   : loops == InferenceLoops::queries_in_lanes;
  const Tensor mask = key_mask.defined() ? key_mask.to(Device::cpu()).to(DType::f32) : Tensor();
  const int64_t blocks = queries_in_lanes ? nq : nk;
  Tensor transposed =
      Tensor::empty({blocks * dims.width() * infer::padded_rows(queries_in_lanes ? dims.lq : dims.lk)});
  Tensor y = Tensor::empty({B, pool_queries ? 1 : dims.lq, dims.width()});
  infer::Args args;
  args.dims = dims;
  args.q = q.data<float>();
  args.k = k.data<float>();
  args.v = v.data<float>();
  args.q_rows = q_map.empty() ? nullptr : q_map.data();
  args.kv_rows = kv_map.empty() ? nullptr : kv_map.data();
  args.mask = mask.defined() ? mask.data<float>() : nullptr;
  args.weight = subln_weight.data<float>();
  args.lambda = float(lambda.item());
  args.out_scale = float(1.0 - lambda_init);
  args.eps = float(rms_eps);
  args.pool_queries = pool_queries;
  args.y = y.data<float>();
  args.transposed = transposed.data<float>();
  args.transposed_rows = blocks;
  run_kernels(args, queries_in_lanes);
  return y;
}

}  // namespace dispa
