// The shared part of every fuzz target (fuzz_target.h): rejection handling and a quiet logger.
#include "fuzz/fuzz_target.h"

#include <cstdio>
#include <cstdlib>

#include "engine/error.h"
#include "engine/log.h"

namespace dispa::fuzz {

bool run_one(TargetFn fn, std::string_view data) {
  static const bool quiet = (logging::set_quiet(true), true);  // info lines would flood the fuzzer's output
  (void)quiet;
  try {
    fn(data);
  } catch (const Error&) {
    return true;  // rejected with a message: the expected answer to a bad input
  }
#if defined(DISPA_FUZZ_LIBFUZZER)
  catch (const InvariantBroken& e) {
    std::fprintf(stderr, "fuzz: invariant broken: %s\n", e.what());
    std::abort();
  }
#endif
  return false;
}

}  // namespace dispa::fuzz
