// Run-time CPU dispatch (see cpu_features.h). The kernel levels compiled in are announced by the
// build: DISPA_CPU_KERNELS_X86 is 1 when engine/CMakeLists.txt compiled the AVX2 and AVX-512
// translation units (x86-64 with GCC or Clang).
#include "engine/cpu_features.h"

#include <atomic>
#include <cstdlib>

#include "engine/error.h"

#ifndef DISPA_CPU_KERNELS_X86
#define DISPA_CPU_KERNELS_X86 0
#endif

namespace dispa {
namespace {

constexpr int kUndecided = -1;
std::atomic<int> g_level{kUndecided};

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  // libgcc's cpu model also checks XCR0, so AVX/AVX-512 count only where the OS saves their state.
  __builtin_cpu_init();
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
#endif
  return f;
}

CpuLevel highest_runnable() {
  CpuLevel best = CpuLevel::portable;
  for (CpuLevel level : compiled_cpu_levels())
    if (cpu_supports(level)) best = level;
  return best;
}

// Why `level` cannot run here, for error messages ("" when it can).
std::string why_not_runnable(CpuLevel level) {
  if (!cpu_supports(level)) return fmt::format("this CPU lacks {} (it runs up to {})", cpu_level_name(level),
                                               cpu_level_name(highest_runnable()));
  bool compiled = false;
  for (CpuLevel l : compiled_cpu_levels()) compiled = compiled || l == level;
  if (!compiled) return fmt::format("this build has no {} kernels", cpu_level_name(level));
  return "";
}

CpuLevel decide() {
  const char* env = std::getenv("DISPA_CPU");
  if (env == nullptr || *env == '\0') return highest_runnable();
  const CpuLevel wanted = parse_cpu_level(env, "DISPA_CPU");
  const std::string why = why_not_runnable(wanted);
  DISPA_CHECK(why.empty(), "DISPA_CPU={}: {}", env, why);
  return wanted;
}

}  // namespace

std::string_view cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::portable: return "portable";
    case CpuLevel::avx2: return "avx2";
    case CpuLevel::avx512: return "avx512";
  }
  return "unknown";
}

CpuLevel parse_cpu_level(std::string_view text, std::string_view where) {
  for (CpuLevel level : {CpuLevel::portable, CpuLevel::avx2, CpuLevel::avx512})
    if (text == cpu_level_name(level)) return level;
  fail("{}: unknown CPU level '{}' (expected portable, avx2 or avx512)",
       where, text.size() > 40 ? std::string(text.substr(0, 40)) + "..." : std::string(text));
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

bool cpu_supports(CpuLevel level) {
  const CpuFeatures& f = cpu_features();
  switch (level) {
    case CpuLevel::portable: return true;
    case CpuLevel::avx2: return f.avx2 && f.fma;
    case CpuLevel::avx512: return f.avx2 && f.fma && f.avx512f && f.avx512vl && f.avx512bw && f.avx512dq;
  }
  return false;
}

std::vector<CpuLevel> compiled_cpu_levels() {
  if (DISPA_CPU_KERNELS_X86) return {CpuLevel::portable, CpuLevel::avx2, CpuLevel::avx512};
  return {CpuLevel::portable};
}

bool cpu_level_runnable(CpuLevel level) { return why_not_runnable(level).empty(); }

std::vector<CpuLevel> runnable_cpu_levels() {
  std::vector<CpuLevel> out;
  for (CpuLevel level : compiled_cpu_levels())
    if (cpu_supports(level)) out.push_back(level);
  return out;
}

CpuLevel cpu_level() {
  int level = g_level.load(std::memory_order_relaxed);
  if (level == kUndecided) {  // two threads may both decide here; they reach the same answer
    level = int(decide());
    g_level.store(level, std::memory_order_relaxed);
  }
  return CpuLevel(level);
}

void set_cpu_level(CpuLevel level) {
  const std::string why = why_not_runnable(level);
  DISPA_CHECK(why.empty(), "set_cpu_level({}): {}", cpu_level_name(level), why);
  g_level.store(int(level), std::memory_order_relaxed);
}

ScopedCpuLevel::ScopedCpuLevel(CpuLevel level) : saved_(cpu_level()) { set_cpu_level(level); }
ScopedCpuLevel::~ScopedCpuLevel() { g_level.store(int(saved_), std::memory_order_relaxed); }

std::string cpu_dispatch_summary() {
  std::string compiled, has;
  for (CpuLevel level : compiled_cpu_levels()) compiled += fmt::format("{}{}", compiled.empty() ? "" : " ", cpu_level_name(level));
  const CpuFeatures& f = cpu_features();
  const std::pair<bool, const char*> flags[] = {{f.avx2, "avx2"},         {f.fma, "fma"},           {f.avx512f, "avx512f"},
                                                {f.avx512vl, "avx512vl"}, {f.avx512bw, "avx512bw"}, {f.avx512dq, "avx512dq"}};
  for (const auto& [present, name] : flags)
    if (present) has += fmt::format("{}{}", has.empty() ? "" : " ", name);
  const char* env = std::getenv("DISPA_CPU");
  return fmt::format("kernels {}{} (compiled: {}; cpu: {})", cpu_level_name(cpu_level()),
                     env && *env ? fmt::format(", set by DISPA_CPU={}", env) : std::string(), compiled,
                     has.empty() ? "no AVX2 or AVX-512" : has);
}

}  // namespace dispa
