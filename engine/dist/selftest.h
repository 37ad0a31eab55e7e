// dispa selftest-dist: the first thing to run on a new cluster. Every rank all-reduces (sum) a
// buffer of known values at several sizes: element i on rank r is (r + 1) + (i mod 7), so the sum
// over n ranks is n(n+1)/2 + n·(i mod 7), exact in f32. It counts wrong elements (must be 0),
// then times `iters` all-reduces per size (after `warmup` untimed ones) and reports, as nccl-tests
// does (doc/PERFORMANCE.md there): algbw = bytes / time and busbw = algbw · 2(n−1)/n, the
// bandwidth each link carries in a ring all-reduce, comparable with the hardware's peak. Time is
// the slowest rank's mean per call.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/dist/communicator.h"

namespace dispa::dist {

struct SelftestOptions {
  std::string device = "cpu";  // cpu or cuda (cuda:N is chosen by the local rank, not here)
  std::string dist = "auto";   // auto: none without a launcher, else mpi (cpu) or nccl (cuda)
  // Elements (f32) per size. 1,931,681 is DiSPA's gradient at the paper configuration on GDSC2
  // (docs/distributed.md counts it); 16 Mi is well past it, where bandwidth dominates latency.
  std::vector<int64_t> sizes = {1024, 65536, 1048576, 1931681, 16777216};
  int iters = 20, warmup = 5;
};

struct SelftestRow {
  int64_t count = 0, bytes = 0, wrong = 0;  // wrong: summed over all ranks
  double seconds = 0, algbw_gbs = 0, busbw_gbs = 0;
};

// The known value of element i on rank r, and the number of elements of `values` (the reduced
// buffer) that differ from the exact sum over `ranks` ranks.
float selftest_value(int rank, int64_t i);
int64_t selftest_wrong(const std::vector<float>& values, int ranks);

// Runs the check and timing on `comm` (every rank calls it); rows in `sizes` order.
std::vector<SelftestRow> selftest_rows(Communicator& comm, Device device, const SelftestOptions& options);
// nccl-tests style table ("#" header lines, one line per size).
std::string selftest_header(const Communicator& comm, Device device);
std::string selftest_line(const SelftestRow& row);

// The whole command: makes the communicator, prints the table on rank 0 (stdout), and throws on
// every rank when any element was wrong.
void run_selftest_dist(const SelftestOptions& options);

}  // namespace dispa::dist
