// Run-time CPU dispatch (engine/cpu_features.h): level names, what is compiled in and runnable,
// setting and restoring the level, and the errors for levels this CPU or build cannot run.
// DISPA_CPU itself is read once per process; tests/tools/version_e2e.sh runs the binary with it.
#include <doctest/doctest.h>

#include <string>

#include "engine/cpu_features.h"
#include "engine/error.h"
#include "engine/ops/gemm_cpu.h"
#include "tests/support/error_of.h"

using namespace dispa;

TEST_CASE("cpu_features: level names round-trip; unknown names fail naming the source") {
  for (CpuLevel level : {CpuLevel::portable, CpuLevel::avx2, CpuLevel::avx512})
    CHECK(parse_cpu_level(cpu_level_name(level), "test") == level);
  const std::string msg = test::error_of([] { parse_cpu_level("avx1024", "DISPA_CPU"); });
  CHECK(msg.find("DISPA_CPU") != std::string::npos);
  CHECK(msg.find("'avx1024'") != std::string::npos);
  CHECK(msg.find("portable, avx2 or avx512") != std::string::npos);
}

TEST_CASE("cpu_features: portable is always compiled and runnable; the level in use is runnable") {
  const auto compiled = compiled_cpu_levels();
  REQUIRE(!compiled.empty());
  CHECK(compiled.front() == CpuLevel::portable);
  const auto runnable = runnable_cpu_levels();
  REQUIRE(!runnable.empty());
  CHECK(runnable.front() == CpuLevel::portable);
  CHECK(cpu_level_runnable(cpu_level()));
  for (CpuLevel level : runnable) CHECK(cpu_supports(level));
#if DISPA_CPU_KERNELS_X86
  CHECK(compiled.size() == 3);
  // A CPU with AVX-512 (x86-64-v4) has AVX2 too: the levels nest.
  if (cpu_supports(CpuLevel::avx512)) CHECK(cpu_supports(CpuLevel::avx2));
  CHECK(cpu_supports(CpuLevel::avx2) == (cpu_features().avx2 && cpu_features().fma));
#endif
}

TEST_CASE("cpu_features: ScopedCpuLevel sets each runnable level and restores the previous one") {
  const CpuLevel before = cpu_level();
  for (CpuLevel level : runnable_cpu_levels()) {
    {
      ScopedCpuLevel scope(level);
      CHECK(cpu_level() == level);
      CHECK(std::string(cpu::sgemm_blocking().kernel).find(cpu_level_name(level)) == 0);
      CHECK(cpu_dispatch_summary().find("kernels " + std::string(cpu_level_name(level))) == 0);
    }
    CHECK(cpu_level() == before);
  }
}

TEST_CASE("cpu_features: a level the CPU lacks is refused with the reason") {
  for (CpuLevel level : {CpuLevel::avx2, CpuLevel::avx512}) {
    if (cpu_level_runnable(level)) continue;
    const std::string msg = test::error_of([&] { set_cpu_level(level); });
    CHECK(msg.find(std::string(cpu_level_name(level))) != std::string::npos);
    CHECK((msg.find("lacks") != std::string::npos || msg.find("no ") != std::string::npos));
  }
}

TEST_CASE("gemm_cpu: each level's blocking is consistent with its tile") {
  for (CpuLevel level : compiled_cpu_levels()) {
    const cpu::SgemmBlocking b = cpu::sgemm_blocking(level);
    CAPTURE(b.kernel);
    CHECK(b.mc % b.mr == 0);
    CHECK(b.nc % b.nr == 0);
    CHECK(b.kc % 8 == 0);
    CHECK(std::string(b.kernel).find(fmt::format("{}x{}", b.mr, b.nr)) != std::string::npos);
  }
}
