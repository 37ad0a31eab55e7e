// What this dispa binary is and what it was built with, for `dispa --version` and bug reports:
// version, git commit, build type and compiler, the CPU kernel levels compiled in and the one in
// use, OpenMP threads, the CUDA runtime and architectures, and whether MPI and NCCL were built in.
// OpenBabel's part is chem::openbabel_info() (chem/ owns OpenBabel).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace dispa {

// Ordered (label, value) lines; the CUDA line queries the runtime and driver versions (cheap, no
// device context is created) and says "none" where there is no driver.
std::vector<std::pair<std::string, std::string>> build_info();
std::string dispa_version();  // "0.1.0"
std::string git_commit();     // short hash, "-dirty" with uncommitted changes; "unknown" outside git

}  // namespace dispa
