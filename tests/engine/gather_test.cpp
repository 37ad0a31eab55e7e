// gather_rows / gather_columns: hand-checked values with i32 and i64 indices, -1 padding, index
// tables gathered as data, empty shapes, error messages (op, bad value, position, bound), and the
// scatter-add backward (repeated indices sum, padding gets nothing, thread-count independent).
#include <doctest/doctest.h>

#include <omp.h>

#include <numeric>

#include "engine/autograd.h"
#include "engine/ops/gather.h"
#include "tests/support/close.h"
#include "tests/support/gradcheck.h"

using namespace dispa;
using dispa::test::backward_with;

namespace {
template <typename T>
Tensor iota(const Shape& shape, T start = T(0)) {
  std::vector<T> v(size_t(shape_numel(shape)));
  std::iota(v.begin(), v.end(), start);
  return Tensor::from_vector(v, shape);
}
}  // namespace

TEST_CASE("gather_rows: rows by index, -1 gives zeros, i32 and i64 indices") {
  Tensor table = iota<float>({4, 2}, 1.f);  // rows (1 2) (3 4) (5 6) (7 8)
  Tensor idx64 = Tensor::from_vector(std::vector<int64_t>{3, -1, 0, 3}, {2, 2});
  Tensor out = gather_rows(table, idx64);
  CHECK(out.shape() == Shape{2, 2, 2});
  CHECK(out.to_vector<float>() == std::vector<float>{7, 8, 0, 0, 1, 2, 7, 8});
  Tensor idx32 = Tensor::from_vector(std::vector<int32_t>{2, 1}, {2});
  CHECK(gather_rows(table, idx32).to_vector<float>() == std::vector<float>{5, 6, 3, 4});
  // A 1-d table gives the index's shape; a 3-d table keeps its trailing axes.
  Tensor vec = Tensor::from_vector(std::vector<double>{0.5, 1.5, 2.5}, {3});
  CHECK(gather_rows(vec, idx32).to_vector<double>() == std::vector<double>{2.5, 1.5});
  Tensor cube = iota<float>({3, 2, 2});
  Tensor picked = gather_rows(cube, Tensor::from_vector(std::vector<int64_t>{2}, {1}));
  CHECK(picked.shape() == Shape{1, 2, 2});
  CHECK(picked.to_vector<float>() == std::vector<float>{8, 9, 10, 11});
  // A scalar index selects one row without a leading axis.
  CHECK(gather_rows(table, Tensor::from_vector(std::vector<int64_t>{1}, {})).shape() == Shape{2});
}

TEST_CASE("gather_rows: index tables gather like data; empty indices give empty outputs") {
  // Per-drug fragment ids [drugs, L], looked up by the batch's drug ids.
  Tensor fragments = Tensor::from_vector(std::vector<int64_t>{4, 5, -1, 6, -1, -1}, {3, 2});
  Tensor batch = Tensor::from_vector(std::vector<int32_t>{2, 0, 2}, {3});
  CHECK(gather_rows(fragments, batch).to_vector<int64_t>() == std::vector<int64_t>{-1, -1, 4, 5, -1, -1});
  Tensor none = Tensor::zeros({0}, DType::i64);
  CHECK(gather_rows(iota<float>({4, 3}), none).shape() == Shape{0, 3});
  CHECK(gather_columns(iota<float>({2, 3}), none).shape() == Shape{2, 0});
  // Only padding: a table with no rows is fine.
  Tensor pad = Tensor::full({2}, -1.0, DType::i64);
  CHECK(gather_rows(Tensor::zeros({0, 2}), pad).to_vector<float>() == std::vector<float>{0, 0, 0, 0});
}

TEST_CASE("gather_columns: the pathway gather [B, G] x [P, S] -> [B, P, S]") {
  Tensor x = iota<float>({2, 5});  // row 0: 0..4, row 1: 5..9
  Tensor index = Tensor::from_vector(std::vector<int32_t>{4, 0, -1, 2, 2, 1}, {2, 3});
  Tensor out = gather_columns(x, index);
  CHECK(out.shape() == Shape{2, 2, 3});
  CHECK(out.to_vector<float>() == std::vector<float>{4, 0, 0, 2, 2, 1, 9, 5, 0, 7, 7, 6});
  Tensor idx64 = Tensor::from_vector(std::vector<int64_t>{1, 3}, {2});
  Tensor xd = iota<double>({1, 5}, 10.0);
  CHECK(gather_columns(xd, idx64).to_vector<double>() == std::vector<double>{11, 13});
  Tensor xi = iota<int32_t>({2, 3}, 100);
  Tensor idx32 = Tensor::from_vector(std::vector<int32_t>{2, 0}, {2});
  CHECK(gather_columns(xi, idx32).to_vector<int32_t>() == std::vector<int32_t>{102, 100, 105, 103});
}

TEST_CASE("gather: out-of-range indices throw naming the op, value, position and bound") {
  Tensor table = Tensor::zeros({10, 3});
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4, 10}, {2, 3});
  CHECK_THROWS_WITH_AS(gather_rows(table, bad),
                       doctest::Contains("gather_rows: index 10 at position [1, 2] of index i64[2, 3] on cpu is out of "
                                         "range for the 10 rows of table f32[10, 3] on cpu (valid: 0..9, or -1 for "
                                         "padding)"),
                       Error);
  Tensor negative = Tensor::from_vector(std::vector<int32_t>{-1, -2}, {2});
  CHECK_THROWS_WITH_AS(gather_rows(table, negative), doctest::Contains("gather_rows: index -2 at position [1]"), Error);
  Tensor x = Tensor::zeros({4, 5});
  Tensor wide = Tensor::from_vector(std::vector<int32_t>{4, 5, 6}, {3});
  CHECK_THROWS_WITH_AS(gather_columns(x, wide),
                       doctest::Contains("gather_columns: index 5 at position [1] of index i32[3] on cpu is out of "
                                         "range for the 5 columns of x f32[4, 5] on cpu (valid: 0..4"),
                       Error);
  CHECK_THROWS_WITH_AS(gather_columns(x, Tensor::zeros({2})), doctest::Contains("gather_columns: index must be i32 or i64, got f32[2]"),
                       Error);
  CHECK_THROWS_WITH_AS(gather_columns(Tensor::zeros({2, 3, 4}), wide),
                       doctest::Contains("gather_columns: x must be [B, G], got f32[2, 3, 4]"), Error);
  CHECK_THROWS_WITH_AS(gather_rows(Tensor::scalar(1.0), wide), doctest::Contains("gather_rows: table must have at least one axis"),
                       Error);
}

TEST_CASE("gather_rows: backward scatter-adds; repeated rows sum and padding gets nothing") {
  Tensor table = Tensor::zeros({3, 2}, DType::f64).set_requires_grad();
  Tensor index = Tensor::from_vector(std::vector<int64_t>{2, -1, 2, 0}, {4});
  Tensor out = gather_rows(table, index);  // [4, 2]
  backward_with(out, Tensor::from_vector(std::vector<double>{1, 2, 100, 200, 10, 20, 5, 6}, {4, 2}));
  CHECK(table.grad().to_vector<double>() == std::vector<double>{5, 6, 0, 0, 11, 22});
}

TEST_CASE("gather_columns: backward scatter-adds per batch row") {
  Tensor x = Tensor::zeros({2, 4}, DType::f64).set_requires_grad();
  Tensor index = Tensor::from_vector(std::vector<int32_t>{1, 1, -1, 3}, {2, 2});
  Tensor out = gather_columns(x, index);  // [2, 2, 2]
  backward_with(out, Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 10, 20, 30, 40}, {2, 2, 2}));
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 3, 0, 4, 0, 30, 0, 40});
}

TEST_CASE("gather: backward does not depend on the thread count (parallel paths)") {
  // Sizes past the OpenMP thresholds; f32 gradients whose sums round, so an order change shows.
  const int64_t B = 64, G = 301, P = 37, S = 41, N = 50, R = 700;
  std::vector<int64_t> iv(size_t(P * S));
  for (size_t k = 0; k < iv.size(); ++k) iv[k] = (k % 7 == 3) ? -1 : int64_t((k * 131) % G);
  Tensor index = Tensor::from_vector(iv, {P, S});
  auto run_columns = [&](int threads) {
    omp_set_num_threads(threads);
    Tensor x = Tensor::zeros({B, G}).set_requires_grad();
    backward_with(gather_columns(x, index), Tensor::uniform({B, P, S}, -1, 1, 7));
    return x.grad().to_vector<float>();
  };
  std::vector<int64_t> rv(300);
  for (size_t k = 0; k < rv.size(); ++k) rv[k] = (k % 11 == 5) ? -1 : int64_t((k * 17) % N);
  Tensor rows = Tensor::from_vector(rv, {300});
  auto run_rows = [&](int threads) {
    omp_set_num_threads(threads);
    Tensor t = Tensor::zeros({N, R}).set_requires_grad();
    backward_with(gather_rows(t, rows), Tensor::uniform({300, R}, -1, 1, 8));
    return t.grad().to_vector<float>();
  };
  const int saved = omp_get_max_threads();
  const auto c1 = run_columns(1), c3 = run_columns(3);
  const auto r1 = run_rows(1), r3 = run_rows(3);
  omp_set_num_threads(saved);
  CHECK(c1 == c3);
  CHECK(r1 == r3);

  // And the values equal a plain serial scatter in the same order.
  Tensor g = Tensor::uniform({B, P, S}, -1, 1, 7);
  const auto gv = g.to_vector<float>();
  std::vector<float> want(size_t(B * G), 0.0f);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < P * S; ++i)
      if (iv[size_t(i)] >= 0) want[size_t(b * G + iv[size_t(i)])] += gv[size_t(b * P * S + i)];
  CHECK(c1 == want);
}
