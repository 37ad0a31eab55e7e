// Where tests find ../shared (env DISPA_SHARED, else the configure-time default), and a skip
// helper: tests needing the data print why and return instead of failing when it is absent.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <string>

#include <doctest/doctest.h>

namespace dispa::test {

inline std::filesystem::path shared_dir() {
  if (const char* env = std::getenv("DISPA_SHARED"); env && *env) return env;
  return DISPA_SHARED_DEFAULT;
}

// Returns the path, or an empty path after a MESSAGE when it does not exist.
inline std::filesystem::path shared_path_or_skip(const std::string& relative) {
  const std::filesystem::path p = shared_dir() / relative;
  if (!std::filesystem::exists(p)) {
    MESSAGE("skipping: shared data not found at " << p.string() << " (set DISPA_SHARED)");
    return {};
  }
  return p;
}

}  // namespace dispa::test
