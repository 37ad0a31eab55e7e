// A file with given contents in the system temp directory, removed at scope exit (chem tests).
#pragma once
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace dispa::test {

class TempFile {
 public:
  TempFile(const std::string& suffix, const std::string& contents) {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("dispa_chem_" + std::to_string(rd()) + "_" + std::to_string(rd()) + suffix);
    std::ofstream(path_) << contents;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace dispa::test
