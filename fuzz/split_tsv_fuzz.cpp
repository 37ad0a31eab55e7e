// split.tsv (train/splits.h, read_split) against a fixed response table of 3 cells x 2 drugs: a
// split that reads has one role per pair and fold, and passes check_split (read_split calls it).
// read_split takes a path, so each input goes through a file in /dev/shm (or the temp folder).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fuzz/fuzz_target.h"
#include "train/splits.h"

DISPA_FUZZ_TARGET(split_tsv) {
  using dispa::fuzz::require;
  static const dispa::train::ResponseTable table = [] {
    dispa::train::ResponseTable t;
    for (const char* c : {"A", "B", "C"})
      for (const char* d : {"X", "Y"}) t.add(c, d, 1.0);
    return t;
  }();
  static const std::filesystem::path file = [] {
    const std::filesystem::path shm = "/dev/shm";
    const auto dir = std::filesystem::is_directory(shm) ? shm : std::filesystem::temp_directory_path();
    return dir / ("dispa_fuzz_split_" + std::to_string(::getpid()) + ".tsv");
  }();
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(data.data(), std::streamsize(data.size()));
  }
  const dispa::train::Split split = dispa::train::read_split(file, table);
  require(split.folds() > 0, "a split that reads has a fold");
  for (const auto& roles : split.roles) require(roles.size() == table.pairs.size(), "one role per pair");
}
