// Dense matrix and Cholesky (see dense_matrix.h).
#include "train/dense_matrix.h"

#include <cmath>

#include "engine/error.h"

namespace dispa::train {

Matrix::Matrix(int64_t r, int64_t c, double fill) : rows(r), cols(c), data(static_cast<size_t>(r * c), fill) {
  DISPA_CHECK(r >= 0 && c >= 0, "Matrix: negative shape [{}, {}]", r, c);
}

double dot(const double* a, const double* b, int64_t n) {
  // Four partial sums: lets the compiler vectorise without -ffast-math reassociation.
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}

void cholesky_factor(Matrix& a) {
  DISPA_CHECK(a.rows == a.cols, "cholesky_factor: matrix is [{}, {}], not square", a.rows, a.cols);
  const int64_t n = a.rows;
  for (int64_t j = 0; j < n; ++j) {
    const double d = a.at(j, j) - dot(a.row(j), a.row(j), j);
    DISPA_CHECK(d > 0.0 && std::isfinite(d),
                "cholesky_factor: matrix is not positive definite (pivot {} of {} is {})", j, n, d);
    const double ljj = std::sqrt(d);
    a.at(j, j) = ljj;
    // Rows below the pivot are independent of each other in this column.
#pragma omp parallel for schedule(static) if (n - j > 256)
    for (int64_t i = j + 1; i < n; ++i) a.at(i, j) = (a.at(i, j) - dot(a.row(i), a.row(j), j)) / ljj;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = i + 1; k < n; ++k) a.at(i, k) = 0.0;
}

std::vector<double> cholesky_solve(const Matrix& l, std::span<const double> b) {
  const int64_t n = l.rows;
  DISPA_CHECK(static_cast<int64_t>(b.size()) == n, "cholesky_solve: factor is [{}, {}], right-hand side has {}", n,
              n, b.size());
  std::vector<double> x(b.begin(), b.end());
  for (int64_t i = 0; i < n; ++i) x[static_cast<size_t>(i)] = (x[static_cast<size_t>(i)] - dot(l.row(i), x.data(), i)) / l.at(i, i);
  for (int64_t i = n - 1; i >= 0; --i) {
    double s = x[static_cast<size_t>(i)];
    for (int64_t k = i + 1; k < n; ++k) s -= l.at(k, i) * x[static_cast<size_t>(k)];
    x[static_cast<size_t>(i)] = s / l.at(i, i);
  }
  return x;
}

}  // namespace dispa::train
