// Tensor: shared storage + element offset + shape + dtype + device, always contiguous (row-major).
// reshape() is a view on the same storage; permute/transpose are copying ops (engine/ops/shape.h).
// Autograd state (requires_grad, grad, leaf flag) lives in the shared TensorImpl, so copies of a
// Tensor handle are the same tensor. Axis letters used in shape comments: see engine/README.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/storage.h"

namespace dispa {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3]"

class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  bool is_leaf = true;          // false once produced by a recorded op
  std::shared_ptr<TensorImpl> grad;  // same shape/dtype/device; null until a gradient arrives
  std::string name;             // optional, for error messages and parameter registries
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- construction -----------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  static Tensor arange(int64_t n, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor empty_like(const Tensor& other);
  static Tensor zeros_like(const Tensor& other);
  // Copies host data; numel(shape) must equal data.size().
  template <typename T>
  static Tensor from_vector(const std::vector<T>& data, const Shape& shape,
                            Device device = Device::cpu());
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
  // Philox streams: element i is a pure function of (seed, offset, i), the same on every device.
  static Tensor uniform(const Shape& shape, double lo, double hi, uint64_t seed,
                        uint64_t offset = 0, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor normal(const Shape& shape, double mean, double stddev, uint64_t seed,
                       uint64_t offset = 0, DType dtype = DType::f32, Device device = Device::cpu());

  // ---- queries -----------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int ndim() const { return static_cast<int>(impl().shape.size()); }
  int64_t dim(int axis) const;  // negative counts from the end
  int64_t numel() const { return shape_numel(impl().shape); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype()); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  bool is_cuda() const { return device().is_cuda(); }
  bool is_cpu() const { return device().is_cpu(); }
  const std::string& name() const { return impl().name; }
  Tensor& set_name(std::string name);
  std::string describe() const;  // "f32[2, 3] on cpu"
  bool same(const Tensor& other) const { return impl_ == other.impl_; }

  // Raw element pointer (offset applied). T must match dtype().
  template <typename T> T* data() const;
  void* raw_data() const;

  // ---- conversion ----------------------------------------------------------------------------
  template <typename T> std::vector<T> to_vector() const;  // host copy; T must match dtype()
  std::vector<double> to_f64_vector() const;               // any dtype, converted
  double item() const;                                     // one element, as double
  Tensor to(Device device) const;                          // copy (or self if already there)
  Tensor to(DType dtype) const;                            // converted copy (or self)
  Tensor clone() const;                                    // deep copy, no autograd history
  Tensor reshape(const Shape& shape) const;                // view; one -1 allowed; recorded
  Tensor detach() const;                                   // view without autograd history
  void copy_from(const Tensor& src);                       // same shape/dtype; any devices

  // ---- autograd --------------------------------------------------------------------------------
  bool requires_grad() const { return impl().requires_grad; }
  Tensor& set_requires_grad(bool value = true);
  bool is_leaf() const { return impl().is_leaf; }
  bool has_grad() const { return impl().grad != nullptr; }
  Tensor grad() const;          // undefined Tensor when no gradient has arrived
  void zero_grad();             // drops the gradient
  // dx is added into grad (clones dx on first arrival so later += never aliases another buffer).
  void accumulate_grad(const Tensor& dx) const;
  // Same, but a uniquely owned dx (no other handle or view) is adopted as the gradient without a
  // copy: backward closures pass their freshly computed gradients with std::move.
  void accumulate_grad(Tensor&& dx) const;
  // Runs the tape backwards from this scalar (seed gradient 1) and clears the tape.
  void backward() const;

  TensorImpl& impl() const {
    DISPA_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// Fills every element with value (any device, any dtype); no autograd.
void fill_(Tensor& t, double value);

}  // namespace dispa

template <> struct fmt::formatter<dispa::DType> : fmt::formatter<std::string_view> {
  auto format(dispa::DType t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(dispa::dtype_name(t), ctx);
  }
};
template <> struct fmt::formatter<dispa::Device> : fmt::formatter<std::string_view> {
  auto format(const dispa::Device& d, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(d.str(), ctx);
  }
};
template <> struct fmt::formatter<dispa::Tensor> : fmt::formatter<std::string_view> {
  auto format(const dispa::Tensor& t, format_context& ctx) const {
    return fmt::formatter<std::string_view>::format(t.describe(), ctx);
  }
};
