// Build information (see build_info.h). DISPA_VERSION, DISPA_BUILD_TYPE and
// DISPA_CUDA_ARCHITECTURES come from engine/CMakeLists.txt; DISPA_GIT_COMMIT from the header that
// engine/git_commit.cmake rewrites at every build when the commit changes.
#include "engine/build_info.h"

#include <omp.h>

#include <fmt/format.h>

#include "dispa_git_commit.h"
#include "engine/cpu_features.h"
#include "engine/ops/gemm_cpu.h"

#if DISPA_WITH_CUDA
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#endif

#ifndef DISPA_VERSION
#error "DISPA_VERSION must be defined by the build"
#endif

namespace dispa {
namespace {

std::string compiler() {
#if defined(__clang__)
  return fmt::format("Clang {}.{}.{}", __clang_major__, __clang_minor__, __clang_patchlevel__);
#elif defined(__GNUC__)
  return fmt::format("GCC {}.{}.{}", __GNUC__, __GNUC_MINOR__, __GNUC_PATCHLEVEL__);
#else
  return "unknown compiler";
#endif
}

#if DISPA_WITH_CUDA
// CUDA versions are encoded as 1000 * major + 10 * minor.
std::string cuda_version(int v) { return fmt::format("{}.{}", v / 1000, (v % 1000) / 10); }
#endif

std::string cuda_line() {
#if DISPA_WITH_CUDA
  int runtime = 0, driver = 0, cublas_major = 0, cublas_minor = 0;
  const bool have_runtime = cudaRuntimeGetVersion(&runtime) == cudaSuccess;
  cudaDriverGetVersion(&driver);  // 0 when no driver is installed
  cublasGetProperty(MAJOR_VERSION, &cublas_major);
  cublasGetProperty(MINOR_VERSION, &cublas_minor);
  return fmt::format("runtime {} (built against {}), cuBLAS {}.{}, architectures {}; driver {}",
                     have_runtime ? cuda_version(runtime) : "unavailable", cuda_version(CUDART_VERSION), cublas_major,
                     cublas_minor, DISPA_CUDA_ARCHITECTURES,
                     driver > 0 ? "supports CUDA " + cuda_version(driver) : std::string("none found"));
#else
  return "not built (CPU-only build)";
#endif
}

std::string built_in(bool yes) { return yes ? "built in" : "not built"; }

}  // namespace

std::string dispa_version() { return DISPA_VERSION; }
std::string git_commit() { return DISPA_GIT_COMMIT; }

std::vector<std::pair<std::string, std::string>> build_info() {
#if defined(DISPA_WITH_MPI) && DISPA_WITH_MPI
  constexpr bool kMpi = true;
#else
  constexpr bool kMpi = false;
#endif
#if defined(DISPA_WITH_NCCL) && DISPA_WITH_NCCL
  constexpr bool kNccl = true;
#else
  constexpr bool kNccl = false;
#endif
  const cpu::SgemmBlocking gemm = cpu::sgemm_blocking();
  return {
      {"version", DISPA_VERSION},
      {"commit", DISPA_GIT_COMMIT},
      {"build", fmt::format("{}, {}, C++{}", DISPA_BUILD_TYPE, compiler(), __cplusplus / 100 % 100)},
      {"cpu", fmt::format("{}; sgemm micro-kernel {}", cpu_dispatch_summary(), gemm.kernel)},
      {"openmp", fmt::format("{} threads (OMP_NUM_THREADS sets them)", omp_get_max_threads())},
      {"cuda", cuda_line()},
      {"mpi", built_in(kMpi)},
      {"nccl", built_in(kNccl)},
  };
}

}  // namespace dispa
