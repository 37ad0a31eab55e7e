// Errors: library code throws dispa::Error with a message that names the op, the shapes or the
// file and line; only tools/main.cpp prints and exits. DISPA_CHECK stays on in Release builds.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace dispa {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace dispa

// DISPA_CHECK(cond, "op: message {}", value): throws dispa::Error with the formatted message.
#define DISPA_CHECK(cond, ...)                 \
  do {                                         \
    if (!(cond)) ::dispa::fail(__VA_ARGS__);   \
  } while (0)
