// A scratch folder under the build tree for tests that write files; removed on destruction.
#pragma once
#include <filesystem>
#include <fstream>
#include <string>

#include <doctest/doctest.h>

namespace dispa::test {

class TempDir {
 public:
  explicit TempDir(const std::string& name)
      : path_(std::filesystem::path(DISPA_BINARY_DIR) / "test_tmp" / name) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path write(const std::string& file, const std::string& text) const {
    const std::filesystem::path p = path_ / file;
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace dispa::test
