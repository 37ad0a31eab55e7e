#include <doctest/doctest.h>

#include "engine/autograd.h"
#include "engine/ops/elementwise.h"
#include "engine/philox.h"
#include "engine/tensor.h"
#include "tests/support/close.h"

using namespace dispa;

TEST_CASE("tensor: factories fill shape, dtype and values") {
  Tensor z = Tensor::zeros({2, 3});
  CHECK(z.shape() == Shape{2, 3});
  CHECK(z.numel() == 6);
  CHECK(z.dtype() == DType::f32);
  for (float v : z.to_vector<float>()) CHECK(v == 0.0f);
  for (double v : Tensor::full({4}, 2.5, DType::f64).to_vector<double>()) CHECK(v == 2.5);
  CHECK(Tensor::arange(5, DType::i64).to_vector<int64_t>() == std::vector<int64_t>{0, 1, 2, 3, 4});
  CHECK(Tensor::ones({3}, DType::i32).to_vector<int32_t>() == std::vector<int32_t>{1, 1, 1});
  CHECK(Tensor::scalar(3.0).item() == 3.0);
  CHECK(Tensor::zeros({0, 4}).numel() == 0);
}

TEST_CASE("tensor: reshape is a view sharing storage; -1 infers one axis") {
  Tensor x = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor y = x.reshape({3, -1});
  CHECK(y.shape() == Shape{3, 2});
  y.data<float>()[0] = 42.0f;
  CHECK(x.data<float>()[0] == 42.0f);
  CHECK_THROWS_WITH_AS(x.reshape({4, 2}), doctest::Contains("cannot reshape [2, 3]"), Error);
  CHECK_THROWS_AS(x.reshape({-1, -1}), Error);
}

TEST_CASE("tensor: errors name the op and the offending value") {
  CHECK_THROWS_WITH_AS(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}),
                       doctest::Contains("3 values do not fill shape [2, 2]"), Error);
  Tensor x = Tensor::zeros({2});
  CHECK_THROWS_WITH_AS(x.data<double>(), doctest::Contains("tensor is f32[2]"), Error);
  CHECK_THROWS_WITH_AS(x.dim(3), doctest::Contains("axis 3 out of range"), Error);
  CHECK_THROWS_AS(Tensor().shape(), Error);
  CHECK_THROWS_WITH_AS(parse_device("tpu"), doctest::Contains("unknown device 'tpu'"), Error);
  CHECK_THROWS_WITH_AS(parse_device("cuda:1x"), doctest::Contains("unknown device 'cuda:1x'"), Error);
  CHECK_THROWS_WITH_AS(parse_device("cuda:99"), doctest::Contains("device 'cuda:99'"), Error);
  if (!cuda_available()) {
    CHECK_THROWS_WITH_AS(parse_device("cuda"), doctest::Contains("device 'cuda'"), Error);
  } else {
    CHECK(parse_device("cuda") == Device::cuda(0));
  }
}

TEST_CASE("tensor: dtype casts round values toward zero like static_cast") {
  Tensor x = Tensor::from_vector(std::vector<double>{1.75, -2.5, 3.0}, {3});
  CHECK(x.to(DType::i32).to_vector<int32_t>() == std::vector<int32_t>{1, -2, 3});
  CHECK(x.to(DType::f32).to_vector<float>() == std::vector<float>{1.75f, -2.5f, 3.0f});
}

TEST_CASE("philox: matches the Random123 known-answer vectors") {
  // philox4x32_10 KAT from Random123 (kat_vectors): counter 0, key 0.
  const PhiloxBlock zero = philox4x32_10(0, 0);
  CHECK(zero.w[0] == 0x6627e8d5u);
  CHECK(zero.w[1] == 0xe169c58du);
  CHECK(zero.w[2] == 0xbc57ac4cu);
  CHECK(zero.w[3] == 0x9b00dbd8u);
}

TEST_CASE("philox: streams are reproducible, offset-addressable and well distributed") {
  Tensor a = Tensor::uniform({1000}, -1.0, 1.0, 7);
  Tensor b = Tensor::uniform({1000}, -1.0, 1.0, 7);
  CHECK(a.to_vector<float>() == b.to_vector<float>());
  // Element i of (seed, offset=1) equals element i+4 of (seed, offset=0): one block = 4 words.
  Tensor shifted = Tensor::uniform({8}, -1.0, 1.0, 7, 1);
  for (int i = 0; i < 8; ++i) CHECK(shifted.to_vector<float>()[i] == a.to_vector<float>()[i + 4]);
  double mean = 0, lo = 1, hi = -1;
  for (float v : a.to_vector<float>()) {
    mean += v;
    lo = std::min(lo, double(v));
    hi = std::max(hi, double(v));
  }
  CHECK(std::abs(mean / 1000) < 0.1);
  CHECK(lo >= -1.0);
  CHECK(hi < 1.0);
  Tensor n = Tensor::normal({20000}, 0.0, 2.0, 3);
  double m = 0, sq = 0;
  for (float v : n.to_vector<float>()) {
    m += v;
    sq += double(v) * v;
  }
  m /= 20000;
  CHECK(std::abs(m) < 0.05);
  CHECK(std::abs(std::sqrt(sq / 20000 - m * m) - 2.0) < 0.05);
  // f64 tensors receive the same stream widened.
  Tensor n64 = Tensor::normal({16}, 0.0, 1.0, 3, 0, DType::f64);
  Tensor n32 = Tensor::normal({16}, 0.0, 1.0, 3);
  for (int i = 0; i < 16; ++i) CHECK(n64.to_vector<double>()[i] == double(n32.to_vector<float>()[i]));
}
