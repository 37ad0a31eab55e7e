// One fuzz target per file fuzz/<name>_fuzz.cpp, written as
//
//   DISPA_FUZZ_TARGET(gmt) {              // `data` is the input (std::string_view)
//     const auto sets = bio::parse_gmt(data, "g.gmt");
//     dispa::fuzz::require(!sets.empty(), "a successful parse returns at least one set");
//   }
//
// The contract of every target: any input may be rejected with dispa::Error (a clear message is
// the product's answer to hostile input); anything else is a finding: a crash, a sanitizer report,
// a hang, another exception type escaping (std::bad_alloc, a JSON library exception, ...), or a
// broken invariant (require). The same file is built two ways:
//   * fuzz/run.sh (clang, -fsanitize=fuzzer,address,undefined, -DDISPA_FUZZ_LIBFUZZER): the
//     target defines LLVMFuzzerTestOneInput;
//   * ctest (tests/fuzz): every target registers its body by name, and fuzz_regression_test.cpp
//     replays each kept input of tests/fuzz/regressions/<name>/ through it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace dispa::fuzz {

using TargetFn = void (*)(std::string_view data);

// A broken invariant: not a dispa::Error, so it is never mistaken for a rejected input.
struct InvariantBroken : std::logic_error {
  using std::logic_error::logic_error;
};

inline void require(bool ok, const char* what) {
  if (!ok) throw InvariantBroken(what);
}

// name -> body, for the replay test.
inline std::map<std::string, TargetFn>& targets() {
  static std::map<std::string, TargetFn> registry;
  return registry;
}
inline bool register_target(const char* name, TargetFn fn) {
  targets()[name] = fn;
  return true;
}

// Runs one input the way both builds do: a dispa::Error is a rejection (true), anything else
// propagates to the caller (libFuzzer reports it as a crash; the replay test as a failure).
bool run_one(TargetFn fn, std::string_view data);

}  // namespace dispa::fuzz

#if defined(DISPA_FUZZ_LIBFUZZER)
#define DISPA_FUZZ_ENTRY(name)                                                          \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {            \
    ::dispa::fuzz::run_one(&dispa_fuzz_##name,                                          \
                           std::string_view(reinterpret_cast<const char*>(bytes), size)); \
    return 0;                                                                           \
  }
#else
#define DISPA_FUZZ_ENTRY(name) \
  static const bool dispa_fuzz_registered_##name = ::dispa::fuzz::register_target(#name, &dispa_fuzz_##name);
#endif

#define DISPA_FUZZ_TARGET(name)                      \
  static void dispa_fuzz_##name(std::string_view data); \
  DISPA_FUZZ_ENTRY(name)                             \
  static void dispa_fuzz_##name(std::string_view data)
