// Closeness checks that fail on NaN/Inf: the comparison is written !(err <= tol) so NaN lands on
// the failing side, and the message gives the index, both values and the tolerance.
#pragma once
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <fmt/format.h>

#include "engine/tensor.h"

namespace dispa::test {

struct Tolerance {
  double abs = 1e-6;
  double rel = 1e-5;
};

// Empty string when every element is within tol, otherwise a description of the first failure.
inline std::string compare_values(const std::vector<double>& got, const std::vector<double>& want,
                                  Tolerance tol) {
  if (got.size() != want.size())
    return fmt::format("size mismatch: got {} values, want {}", got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isfinite(want[i]) && !std::isfinite(got[i]))
      return fmt::format("index {}: got non-finite {} where {} was expected", i, got[i], want[i]);
    const double err = std::abs(got[i] - want[i]);
    if (!(err <= tol.abs + tol.rel * std::abs(want[i])))
      return fmt::format("index {}: got {:.9g}, want {:.9g} (|err| {:.3g} > abs {} + rel {})", i, got[i],
                         want[i], err, tol.abs, tol.rel);
  }
  return {};
}

// True when every element is finite (the values are read back to the host first).
inline bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}
inline bool all_finite(const Tensor& t) {
  for (double x : t.to_f64_vector())
    if (!std::isfinite(x)) return false;
  return true;
}

// ‖got − want‖₂ / ‖want‖₂ over all elements (the denominator floored at 1e-30): one number for
// tensors that agree only as a whole, e.g. gradients summed in another order across ranks.
inline double relative_error(const Tensor& got, const Tensor& want) {
  const std::vector<double> g = got.to_f64_vector(), w = want.to_f64_vector();
  double diff = 0, norm = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    diff += (g[i] - w[i]) * (g[i] - w[i]);
    norm += w[i] * w[i];
  }
  return std::sqrt(diff) / std::max(std::sqrt(norm), 1e-30);
}

inline std::string compare_tensors(const Tensor& got, const Tensor& want, Tolerance tol) {
  if (got.shape() != want.shape())
    return fmt::format("shape mismatch: got {}, want {}", got.describe(), want.describe());
  return compare_values(got.to_f64_vector(), want.to_f64_vector(), tol);
}

}  // namespace dispa::test

#define CHECK_CLOSE_TENSOR(got, want, ...)                                                       \
  do {                                                                                           \
    const std::string dispa_msg_ = ::dispa::test::compare_tensors((got), (want), {__VA_ARGS__}); \
    CHECK_MESSAGE(dispa_msg_.empty(), dispa_msg_);                                               \
  } while (0)

#define CHECK_CLOSE_VALUES(got, want, ...)                                                       \
  do {                                                                                           \
    const std::string dispa_msg_ = ::dispa::test::compare_values((got), (want), {__VA_ARGS__});  \
    CHECK_MESSAGE(dispa_msg_.empty(), dispa_msg_);                                               \
  } while (0)
