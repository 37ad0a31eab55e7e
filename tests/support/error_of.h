// The message of the dispa::Error that f throws, or "(no error)": for tests that check several
// messages of one function in a row (CHECK_THROWS_WITH_AS covers the single-check case).
#pragma once
#include <functional>
#include <string>

#include "engine/error.h"

namespace dispa::test {

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace dispa::test
