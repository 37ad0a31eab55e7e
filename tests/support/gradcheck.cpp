#include "tests/support/gradcheck.h"

#include <cmath>

#include <fmt/format.h>

#include "engine/autograd.h"

namespace dispa::test {
namespace {

Tensor mul_by_scalar_copy(const Tensor& w, double s, const Shape& shape) {
  auto values = w.to_f64_vector();
  for (double& v : values) v *= s;
  return Tensor::from_vector(values, shape);
}

// loss = sum(out * w), recorded by hand so the check does not depend on the reduction ops.
Tensor weighted_sum(const Tensor& out, const Tensor& w) {
  const auto o = out.to_f64_vector();
  const auto wv = w.to_f64_vector();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * wv[i];
  Tensor loss = Tensor::scalar(s, DType::f64);
  record("gradcheck_weighted_sum", {out}, loss, [out, w](const Tensor& dy) {
    out.accumulate_grad(mul_by_scalar_copy(w, dy.item(), out.shape()));
  });
  return loss;
}

double eval_loss(const GradFunction& f, const std::vector<Tensor>& inputs, const std::vector<double>& w) {
  NoGrad no_grad;
  const Tensor out = f(inputs);
  const auto o = out.to_f64_vector();
  double s = 0;
  for (size_t i = 0; i < o.size(); ++i) s += o[i] * w[i];
  return s;
}

}  // namespace

std::string gradcheck(const GradFunction& f, const std::vector<Tensor>& inputs, GradcheckOptions options) {
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad() && (t.dtype() != DType::f64 || !t.is_cpu()))
      return fmt::format("gradcheck: input {} must be f64 on the CPU", t.describe());
  for (const Tensor& t : inputs)
    if (t.defined()) const_cast<Tensor&>(t).zero_grad();

  // Analytic gradients.
  Tensor out;
  {
    out = f(inputs);
  }
  if (!out.requires_grad()) {
    clear_tape();
    return "gradcheck: output does not depend on any input that requires a gradient";
  }
  const Tensor w = Tensor::uniform(out.shape(), -1.0, 1.0, options.seed, 0, DType::f64);
  const std::vector<double> wv = w.to_f64_vector();
  weighted_sum(out, w).backward();

  uint64_t direction_seed = options.seed + 1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& x = inputs[k];
    if (!x.defined() || !x.requires_grad()) continue;
    const std::string label = x.name().empty() ? fmt::format("input {}", k) : x.name();
    const std::vector<double> analytic =
        x.has_grad() ? x.grad().to_f64_vector() : std::vector<double>(size_t(x.numel()), 0.0);
    double* data = x.data<double>();
    const int64_t n = x.numel();
    auto check = [&](double a, double numeric, const std::string& where) -> std::string {
      const double err = std::abs(a - numeric);
      if (!(err <= options.abs_tol + options.rel_tol * std::abs(numeric)))
        return fmt::format("gradcheck: {} {}: analytic {:.10g} vs numeric {:.10g} (|err| {:.3g})", label,
                           where, a, numeric, err);
      return {};
    };
    if (n <= options.elementwise_limit) {
      for (int64_t i = 0; i < n; ++i) {
        const double saved = data[i];
        data[i] = saved + options.step;
        const double up = eval_loss(f, inputs, wv);
        data[i] = saved - options.step;
        const double down = eval_loss(f, inputs, wv);
        data[i] = saved;
        const std::string msg = check(analytic[i], (up - down) / (2 * options.step), fmt::format("element {}", i));
        if (!msg.empty()) return msg;
      }
    } else {
      for (int d = 0; d < options.directions; ++d) {
        const std::vector<double> v =
            Tensor::uniform({n}, -1.0, 1.0, direction_seed++, 0, DType::f64).to_f64_vector();
        std::vector<double> saved(data, data + n);
        double projected = 0;
        for (int64_t i = 0; i < n; ++i) projected += analytic[i] * v[i];
        for (int64_t i = 0; i < n; ++i) data[i] = saved[i] + options.step * v[i];
        const double up = eval_loss(f, inputs, wv);
        for (int64_t i = 0; i < n; ++i) data[i] = saved[i] - options.step * v[i];
        const double down = eval_loss(f, inputs, wv);
        std::copy(saved.begin(), saved.end(), data);
        const std::string msg = check(projected, (up - down) / (2 * options.step), fmt::format("direction {}", d));
        if (!msg.empty()) return msg;
      }
    }
  }
  return {};
}

}  // namespace dispa::test
