// Dense matrix and Cholesky (see dense_matrix.h).
#include "train/dense_matrix.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace dispa::train {

namespace {
// Columns per block: the panel (n x 64 doubles) stays in cache during the trailing update.
constexpr int64_t kCholeskyBlock = 64;
}  // namespace

Matrix::Matrix(int64_t r, int64_t c, double fill) : rows(r), cols(c), data(static_cast<size_t>(r * c), fill) {
  DISPA_CHECK(r >= 0 && c >= 0, "Matrix: negative shape [{}, {}]", r, c);
}

double dot(const double* a, const double* b, int64_t n) {
  // Four independent accumulators of 4-wide FMAs: 16 products in flight hide the FMA latency.
  // The summation order is fixed by the code (not by -ffast-math or the thread count).
  double acc[16] = {};
  int64_t k = 0;
  for (; k + 16 <= n; k += 16)
    for (int l = 0; l < 16; ++l) acc[l] += a[k + l] * b[k + l];
  double s = 0.0;
  for (; k < n; ++k) s += a[k] * b[k];
  for (int l = 0; l < 16; l += 4) s += (acc[l] + acc[l + 1]) + (acc[l + 2] + acc[l + 3]);
  return s;
}

void cholesky_factor(Matrix& a) {
  DISPA_CHECK(a.rows == a.cols, "cholesky_factor: matrix is [{}, {}], not square", a.rows, a.cols);
  const int64_t n = a.rows;
  for (int64_t k0 = 0; k0 < n; k0 += kCholeskyBlock) {
    const int64_t k1 = std::min(n, k0 + kCholeskyBlock), width = k1 - k0;
    // 1. The diagonal block, unblocked; earlier blocks' columns were already subtracted by step 3.
    for (int64_t j = k0; j < k1; ++j) {
      const double d = a.at(j, j) - dot(a.row(j) + k0, a.row(j) + k0, j - k0);
      DISPA_CHECK(d > 0.0 && std::isfinite(d),
                  "cholesky_factor: matrix is not positive definite (pivot {} of {} is {})", j, n, d);
      const double ljj = std::sqrt(d);
      a.at(j, j) = ljj;
      for (int64_t i = j + 1; i < k1; ++i) a.at(i, j) = (a.at(i, j) - dot(a.row(i) + k0, a.row(j) + k0, j - k0)) / ljj;
    }
    // 2. The panel below it: forward substitution of each row against the diagonal block.
    for (int64_t i = k1; i < n; ++i) {
      double* r = a.row(i);
      for (int64_t j = k0; j < k1; ++j) r[j] = (r[j] - dot(r + k0, a.row(j) + k0, j - k0)) / a.at(j, j);
    }
    // 3. Trailing update A[i][j] -= L[i][k0:k1] . L[j][k0:k1] (lower triangle). Every entry is one
    // dot product whatever the thread count, so the result does not depend on it.
#pragma omp parallel for schedule(dynamic, 32) if (n - k1 > 512)
    for (int64_t i = k1; i < n; ++i) {
      const double* li = a.row(i) + k0;
      double* ri = a.row(i);
      for (int64_t j = k1; j <= i; ++j) ri[j] -= dot(li, a.row(j) + k0, width);
    }
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
