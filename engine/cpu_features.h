// Run-time CPU dispatch: what the CPU can run, which SIMD kernel levels this binary contains, and
// the one level every kernel uses. The build's baseline is plain x86-64 (SSE2) so one binary runs
// on any x86-64 CPU; kernels that need more are compiled once per level in their own translation
// units (engine/ops/gemm_cpu_avx2.cpp, gemm_cpu_avx512.cpp) or functions (bio/gsva.cpp), each with a
// portable C++ fallback, and are picked here from cpuid at first use. DISPA_CPU=portable|avx2|avx512
// lowers the level (tests and benchmarks compare them); asking for one the CPU or the build lacks is
// an error, never a silent fallback.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace dispa {

// Ordered: a higher level may use everything a lower one does.
//   portable  plain C++ (whatever the baseline flags let the compiler vectorise)
//   avx2      AVX2 + FMA (Haswell, Zen 1 and later)
//   avx512    AVX-512 F, VL, BW, DQ (x86-64-v4: Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4)
enum class CpuLevel { portable = 0, avx2 = 1, avx512 = 2 };

std::string_view cpu_level_name(CpuLevel level);
// "portable", "avx2" or "avx512"; anything else throws naming `where` (e.g. "DISPA_CPU").
CpuLevel parse_cpu_level(std::string_view text, std::string_view where);

// What cpuid (and the OS's saved register state) reports, through __builtin_cpu_supports.
struct CpuFeatures {
  bool avx2 = false, fma = false;
  bool avx512f = false, avx512vl = false, avx512bw = false, avx512dq = false;
};
const CpuFeatures& cpu_features();
bool cpu_supports(CpuLevel level);           // the CPU has every feature of the level
std::vector<CpuLevel> compiled_cpu_levels();  // kernels built into this binary, lowest first
bool cpu_level_runnable(CpuLevel level);     // compiled in and supported by this CPU
std::vector<CpuLevel> runnable_cpu_levels();  // lowest first; always starts with portable

// The level in use: the highest runnable one, or DISPA_CPU's (read once, at the first call).
// Throws if DISPA_CPU names an unknown level or one this CPU or build cannot run.
CpuLevel cpu_level();
// Tests and benchmarks: use `level` from now on (throws unless runnable). Not for use while other
// threads run kernels.
void set_cpu_level(CpuLevel level);

// Sets a level for one scope and restores the previous one (tests run each kernel at every level).
class ScopedCpuLevel {
 public:
  explicit ScopedCpuLevel(CpuLevel level);
  ~ScopedCpuLevel();
  ScopedCpuLevel(const ScopedCpuLevel&) = delete;
  ScopedCpuLevel& operator=(const ScopedCpuLevel&) = delete;

 private:
  CpuLevel saved_;
};

// One line for `dispa --version` and benchmark context, e.g.
// "kernels avx512 (compiled: portable avx2 avx512; cpu: avx2 fma avx512f avx512vl avx512bw avx512dq)".
std::string cpu_dispatch_summary();

}  // namespace dispa
