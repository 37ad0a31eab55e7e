#include "engine/dist/collective_ops.h"

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/reduce.h"

namespace dispa::dist {

Tensor all_reduce_sum(const Tensor& x, Communicator& comm) {
  Tensor y = x.clone();
  comm.all_reduce(y, ReduceOp::sum);
  // Keeps x (to hand it its gradient) and the communicator.
  record("all_reduce_sum", {x}, y, [x, c = &comm](const Tensor& dy) {
    Tensor dx = dy.clone();
    c->all_reduce(dx, ReduceOp::sum);
    x.accumulate_grad(std::move(dx));
  });
  return y;
}

Tensor sync_batch_norm1d(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                         Tensor running_var, double momentum, double eps, Communicator& comm) {
  DISPA_CHECK(x.ndim() == 2 && x.dim(0) >= 1, "sync_batch_norm1d: x must be [N, C] with N >= 1, got {}",
              x.describe());
  DISPA_CHECK(is_floating(x.dtype()), "sync_batch_norm1d: x must be f32 or f64, got {}", x.describe());
  const int64_t C = x.dim(1);
  for (const Tensor* t : std::initializer_list<const Tensor*>{&weight, &bias, &running_mean, &running_var})
    DISPA_CHECK(!t->defined() || (t->shape() == Shape{C} && t->dtype() == x.dtype() && t->device() == x.device()),
                "sync_batch_norm1d: weight, bias and running statistics must be [{}] {} on {}, got {}", C,
                dtype_name(x.dtype()), x.device(), t->describe());
  DISPA_CHECK(running_mean.defined() == running_var.defined(),
              "sync_batch_norm1d: running_mean and running_var must both be given or both be undefined");
  DISPA_CHECK(eps >= 0, "sync_batch_norm1d: eps must be >= 0, got {}", eps);

  // The global row count on the host (a host collective: no device synchronisation).
  int64_t rows = x.dim(0);
  comm.all_reduce(&rows, 1, DType::i64, Device::cpu(), ReduceOp::sum);
  DISPA_CHECK(rows > 1, "sync_batch_norm1d: training needs more than one row over all ranks, got {} (x {} on {})",
              rows, x.describe(), comm.who());
  const double inv_rows = 1.0 / double(rows);

  const Tensor mean = affine_scalar(all_reduce_sum(sum(x, 0), comm), inv_rows, 0.0);     // [C]
  const Tensor centred = sub(x, mean);                                                    // [N, C]
  const Tensor var = affine_scalar(all_reduce_sum(sum(pow2(centred), 0), comm), inv_rows, 0.0);  // biased, [C]
  Tensor y = div(centred, sqrt(affine_scalar(var, 1.0, eps)));
  if (weight.defined()) y = mul(y, weight);
  if (bias.defined()) y = add(y, bias);

  if (running_mean.defined()) {
    NoGrad no_grad;  // running = (1 - momentum) * running + momentum * batch, as batch_norm1d
    const double unbiased = double(rows) / double(rows - 1);
    running_mean.copy_from(add(affine_scalar(running_mean, 1.0 - momentum, 0.0), affine_scalar(mean.detach(), momentum, 0.0)));
    running_var.copy_from(
        add(affine_scalar(running_var, 1.0 - momentum, 0.0), affine_scalar(var.detach(), momentum * unbiased, 0.0)));
  }
  return y;
}

}  // namespace dispa::dist
