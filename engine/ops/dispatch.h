// Device dispatch for op implementations: `if (x.is_cuda()) DISPA_ON_CUDA(cuda::op(...)); else ...`.
// In a CPU-only build the CUDA branch becomes an error (a CUDA tensor cannot exist there anyway),
// so op files need no #ifdefs and CUDA launchers are only referenced when they are compiled.
#pragma once
#include "engine/error.h"
#include "engine/tensor.h"

namespace dispa::detail {
[[noreturn]] inline void no_cuda_kernel(const char* op) {
  fail("{}: this dispa was built without CUDA (configure with -DDISPA_CUDA=ON)", op);
}

// Op-level argument checks shared by every family; messages name the op and the tensors.
inline void check_same_device(const char* op, const Tensor& a, const Tensor& b) {
  DISPA_CHECK(a.device() == b.device(), "{}: device mismatch: {} vs {}", op, a.describe(), b.describe());
}
inline void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  DISPA_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch: {} vs {}", op, a.describe(), b.describe());
}
inline void check_floating(const char* op, const Tensor& a) {
  DISPA_CHECK(is_floating(a.dtype()), "{}: needs f32 or f64, got {}", op, a.describe());
}
inline void check_cuda_f32(const char* op, const Tensor& a) {
  DISPA_CHECK(!a.is_cuda() || a.dtype() == DType::f32, "{}: CUDA kernels take f32, got {}", op, a.describe());
}
inline int normalize_axis(const char* op, int axis, int ndim) {
  const int a = axis < 0 ? axis + ndim : axis;
  DISPA_CHECK(a >= 0 && a < ndim, "{}: axis {} out of range for a {}-d tensor", op, axis, ndim);
  return a;
}
}  // namespace dispa::detail

#if DISPA_WITH_CUDA
#define DISPA_ON_CUDA(...) __VA_ARGS__
#else
#define DISPA_ON_CUDA(...) ::dispa::detail::no_cuda_kernel(__func__)
#endif

namespace dispa {
template <typename T> struct TypeTag { using type = T; };

// Calls body(TypeTag<float>) or body(TypeTag<double>) for the dtype; write the body as a generic
// lambda: [&](auto tag) { using T = typename decltype(tag)::type; ... }. (A function, not a
// macro, so OpenMP pragmas inside the body work.)
template <typename Body>
void dispatch_floating(DType dtype, const char* op_name, Body&& body) {
  if (dtype == DType::f32) {
    body(TypeTag<float>{});
  } else if (dtype == DType::f64) {
    body(TypeTag<double>{});
  } else {
    fail("{}: needs f32 or f64, got {}", op_name, dtype_name(dtype));
  }
}
}  // namespace dispa
