// A small row-major double matrix and a Cholesky solver for the ridge baseline's normal equations.
// Our own on purpose (no BLAS dependency in the library): the systems are at most a few thousand
// unknowns, solved a handful of times per run.
//
// Cholesky (Golub & Van Loan, Matrix Computations, 4th ed., alg. 4.2.1 and its blocked right-looking
// form, sec. 4.2.9): for each block of 64 columns, factor the diagonal block, solve the panel below
// it, and subtract the panel's outer product from the trailing lower triangle:
//   L[j][j] = sqrt(A[j][j] - sum_k<j L[j][k]^2),  L[i][j] = (A[i][j] - sum_k<j L[i][k] L[j][k]) / L[j][j].
// Blocking matters: the plain column-by-column loop streams the whole matrix once per column and
// took 5 s for n = 2754 here; every inner sum is a contiguous row-times-row dot product.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace dispa::train {

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;  // row-major, rows * cols

  Matrix() = default;
  Matrix(int64_t r, int64_t c, double fill = 0.0);
  double& at(int64_t r, int64_t c) { return data[static_cast<size_t>(r * cols + c)]; }
  double at(int64_t r, int64_t c) const { return data[static_cast<size_t>(r * cols + c)]; }
  double* row(int64_t r) { return data.data() + r * cols; }
  const double* row(int64_t r) const { return data.data() + r * cols; }
};

// In-place lower Cholesky factor of a symmetric positive definite matrix (only the lower triangle
// is read; the upper triangle is zeroed). Throws naming the pivot when A is not positive definite.
void cholesky_factor(Matrix& a);
// Solves L L^T x = b for a factor from cholesky_factor.
std::vector<double> cholesky_solve(const Matrix& l, std::span<const double> b);

double dot(const double* a, const double* b, int64_t n);

}  // namespace dispa::train
