// Raw CUDA entry points for fills and casts (pointers and sizes; no Tensor, no fmt: nvcc reads this).
#pragma once
#include <cstdint>

namespace dispa {
namespace cuda {
void fill_f32(float* out, int64_t n, float value);
void fill_f64(double* out, int64_t n, double value);
void fill_i32(int32_t* out, int64_t n, int32_t value);
void fill_i64(int64_t* out, int64_t n, int64_t value);
void fill_uniform_f32(float* out, int64_t n, float lo, float hi, uint64_t seed, uint64_t offset);
void fill_normal_f32(float* out, int64_t n, float mean, float stddev, uint64_t seed, uint64_t offset);
// Converts n elements between any two of f32/f64/i32/i64 (codes are DType values).
void cast(const void* in, int in_dtype, void* out, int out_dtype, int64_t n);
}  // namespace cuda
}  // namespace dispa
