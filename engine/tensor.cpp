#include "engine/tensor.h"

#include <cstring>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/fill.h"

namespace dispa {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const Shape& shape) { return fmt::format("[{}]", fmt::join(shape, ", ")); }

namespace {
std::shared_ptr<TensorImpl> make_impl(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    DISPA_CHECK(d >= 0, "tensor: negative dimension in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = shape;
  impl->dtype = dtype;
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape_numel(shape)) * dtype_size(dtype), device);
  return impl;
}
}  // namespace

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return Tensor(make_impl(shape, dtype, device));
}
Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  zero_bytes(t.raw_data(), device, t.nbytes());
  return t;
}
Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) { return full(shape, 1.0, dtype, device); }
Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_(t, value);
  return t;
}
Tensor Tensor::scalar(double value, DType dtype, Device device) { return full({}, value, dtype, device); }
Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  Tensor t = empty({n}, dtype, Device::cpu());
  switch (dtype) {
    case DType::f32: for (int64_t i = 0; i < n; ++i) t.data<float>()[i] = static_cast<float>(i); break;
    case DType::f64: for (int64_t i = 0; i < n; ++i) t.data<double>()[i] = static_cast<double>(i); break;
    case DType::i32: for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = static_cast<int32_t>(i); break;
    case DType::i64: for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = i; break;
  }
  return t.to(device);
}
Tensor Tensor::empty_like(const Tensor& other) { return empty(other.shape(), other.dtype(), other.device()); }
Tensor Tensor::zeros_like(const Tensor& other) { return zeros(other.shape(), other.dtype(), other.device()); }

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& data, const Shape& shape, Device device) {
  DISPA_CHECK(static_cast<int64_t>(data.size()) == shape_numel(shape),
              "from_vector: {} values do not fill shape {}", data.size(), shape_str(shape));
  Tensor t = empty(shape, dtype_of<T>(), device);
  copy_bytes(t.raw_data(), device, data.data(), Device::cpu(), data.size() * sizeof(T));
  return t;
}
template Tensor Tensor::from_vector<float>(const std::vector<float>&, const Shape&, Device);
template Tensor Tensor::from_vector<double>(const std::vector<double>&, const Shape&, Device);
template Tensor Tensor::from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, Device);
template Tensor Tensor::from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, Device);

Tensor Tensor::uniform(const Shape& shape, double lo, double hi, uint64_t seed, uint64_t offset,
                       DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_uniform_(t, lo, hi, seed, offset);
  return t;
}
Tensor Tensor::normal(const Shape& shape, double mean, double stddev, uint64_t seed, uint64_t offset,
                      DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  fill_normal_(t, mean, stddev, seed, offset);
  return t;
}

int64_t Tensor::dim(int axis) const {
  const int n = ndim();
  const int a = axis < 0 ? axis + n : axis;
  DISPA_CHECK(a >= 0 && a < n, "dim: axis {} out of range for shape {}", axis, shape_str(shape()));
  return shape()[a];
}

Tensor& Tensor::set_name(std::string name) {
  impl().name = std::move(name);
  return *this;
}

std::string Tensor::describe() const {
  if (!defined()) return "undefined tensor";
  return fmt::format("{}{} on {}{}", dtype(), shape_str(shape()), device(),
                     name().empty() ? "" : " '" + name() + "'");
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl().storage->data()) + impl().offset * dtype_size(dtype());
}

template <typename T> T* Tensor::data() const {
  DISPA_CHECK(dtype() == dtype_of<T>(), "data<{}>: tensor is {}", dtype_of<T>(), describe());
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;
template int64_t* Tensor::data<int64_t>() const;

template <typename T> std::vector<T> Tensor::to_vector() const {
  DISPA_CHECK(dtype() == dtype_of<T>(), "to_vector<{}>: tensor is {}", dtype_of<T>(), describe());
  std::vector<T> out(static_cast<size_t>(numel()));
  copy_bytes(out.data(), Device::cpu(), raw_data(), device(), nbytes());
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int32_t> Tensor::to_vector<int32_t>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

std::vector<double> Tensor::to_f64_vector() const {
  const Tensor host = to(Device::cpu());
  std::vector<double> out(static_cast<size_t>(numel()));
  for (size_t i = 0; i < out.size(); ++i) {
    switch (dtype()) {
      case DType::f32: out[i] = host.data<float>()[i]; break;
      case DType::f64: out[i] = host.data<double>()[i]; break;
      case DType::i32: out[i] = host.data<int32_t>()[i]; break;
      case DType::i64: out[i] = static_cast<double>(host.data<int64_t>()[i]); break;
    }
  }
  return out;
}

double Tensor::item() const {
  DISPA_CHECK(numel() == 1, "item: tensor has {} elements, expected 1 ({})", numel(), describe());
  return to_f64_vector()[0];
}

Tensor Tensor::to(Device target) const {
  if (target == device()) return *this;
  Tensor out = empty(shape(), dtype(), target);
  copy_bytes(out.raw_data(), target, raw_data(), device(), nbytes());
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  return cast(*this, target);
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  copy_bytes(out.raw_data(), device(), raw_data(), device(), nbytes());
  return out;
}

void Tensor::copy_from(const Tensor& src) {
  DISPA_CHECK(src.shape() == shape() && src.dtype() == dtype(),
              "copy_from: source {} does not match destination {}", src.describe(), describe());
  copy_bytes(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = this->impl().storage;
  impl->offset = this->impl().offset;
  impl->shape = shape();
  impl->dtype = dtype();
  return Tensor(impl);
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  Shape resolved = new_shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < resolved.size(); ++i) {
    if (resolved[i] == -1) {
      DISPA_CHECK(infer < 0, "reshape: more than one -1 in {}", shape_str(new_shape));
      infer = static_cast<int>(i);
    } else {
      known *= resolved[i];
    }
  }
  if (infer >= 0) {
    DISPA_CHECK(known > 0 && numel() % known == 0, "reshape: cannot reshape {} to {}",
                shape_str(shape()), shape_str(new_shape));
    resolved[infer] = numel() / known;
  }
  DISPA_CHECK(shape_numel(resolved) == numel(), "reshape: cannot reshape {} ({} elements) to {}",
              shape_str(shape()), numel(), shape_str(new_shape));
  Tensor out = detach();
  out.impl().shape = resolved;
  const Tensor input = *this;
  record("reshape", {input}, out, [input](const Tensor& dy) {  // keeps only input's shape
    input.accumulate_grad(dy.detach().reshape(input.shape()));
  });
  return out;
}

Tensor& Tensor::set_requires_grad(bool value) {
  DISPA_CHECK(!value || is_floating(dtype()), "set_requires_grad: {} is not floating", describe());
  impl().requires_grad = value;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }
void Tensor::zero_grad() { impl().grad.reset(); }

}  // namespace dispa
