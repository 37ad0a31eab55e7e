// Every input kept from fuzzing (tests/fuzz/regressions/<target>/, one file per finding, named
// for what it found) and every hand-made seed (fuzz/seeds/<target>/) runs through its target's
// body (fuzz/<target>_fuzz.cpp). Each may be rejected with dispa::Error; none may crash, leak
// another exception type or break the target's invariants. Under -DDISPA_SANITIZE=ON memory
// errors are caught too.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fuzz/fuzz_target.h"

namespace fs = std::filesystem;

namespace {

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs every file under root/<target>/; returns how many ran.
int replay(const fs::path& root) {
  int n = 0;
  if (!fs::is_directory(root)) return 0;
  for (const auto& dir : fs::directory_iterator(root)) {
    if (!dir.is_directory()) continue;
    const std::string target = dir.path().filename().string();
    CAPTURE(target);
    const auto it = dispa::fuzz::targets().find(target);
    REQUIRE_MESSAGE(it != dispa::fuzz::targets().end(), "no fuzz target named '" << target << "' (stale folder?)");
    for (const auto& file : fs::directory_iterator(dir.path())) {
      const std::string input = file.path().filename().string();
      CAPTURE(input);
      CHECK_NOTHROW(dispa::fuzz::run_one(it->second, read_bytes(file.path())));
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST_CASE("fuzz: every target is registered") {
  for (const char* name : {"expression_tsv", "expression_gct", "gmt", "drugs_tsv", "response_tsv", "cells_tsv",
                           "split_tsv", "safetensors", "model_config", "smiles", "tenx_mtx", "tenx_h5", "h5ad",
                           "tissue_positions", "cell_labels", "gene_aliases"})
    CHECK_MESSAGE(dispa::fuzz::targets().count(name) == 1, name);
}

TEST_CASE("fuzz: kept crash inputs replay without crashing or breaking invariants") {
  CHECK(replay(DISPA_FUZZ_REGRESSIONS_DIR) > 0);
}

TEST_CASE("fuzz: hand-made seeds replay too") {
  CHECK(replay(DISPA_FUZZ_SEEDS_DIR) > 0);
}

// The transfer targets' seeds are valid files (written by hand, cut from the shared data or by
// fuzz/make_seeds.cpp): each must be read, not refused, so the invariant checks of every target
// (fuzz/count_checks.h, ...) run on real data in ctest, and a seed that no longer reads is noticed.
TEST_CASE("fuzz: the transfer targets read each of their seeds") {
  int n = 0;
  for (const char* target : {"tenx_mtx", "tenx_h5", "h5ad", "tissue_positions", "cell_labels", "gene_aliases"}) {
    CAPTURE(target);
    const fs::path dir = fs::path(DISPA_FUZZ_SEEDS_DIR) / target;
    REQUIRE(fs::is_directory(dir));
    for (const auto& file : fs::directory_iterator(dir)) {
      const std::string input = file.path().filename().string();
      CAPTURE(input);
      CHECK_FALSE(dispa::fuzz::run_one(dispa::fuzz::targets().at(target), read_bytes(file.path())));
      ++n;
    }
  }
  CHECK(n >= 15);
}
