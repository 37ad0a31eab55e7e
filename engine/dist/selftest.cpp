#include "engine/dist/selftest.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "engine/cuda/runtime.h"
#include "engine/log.h"

namespace dispa::dist {

float selftest_value(int rank, int64_t i) { return float(rank + 1) + float(i % 7); }

int64_t selftest_wrong(const std::vector<float>& values, int ranks) {
  const double base = double(ranks) * double(ranks + 1) / 2;
  int64_t wrong = 0;
  for (size_t i = 0; i < values.size(); ++i)
    if (!(double(values[i]) == base + double(ranks) * double(int64_t(i) % 7))) ++wrong;  // NaN counts as wrong
  return wrong;
}

namespace {

void sync_device(Device device) {
  if (device.is_cuda()) cuda::synchronize();
}

// The slowest rank's value (a host exchange, so every rank agrees).
double max_over_ranks(Communicator& comm, double mine) {
  double worst = mine;
  for (const std::string& bytes : comm.all_gather_bytes(std::string(reinterpret_cast<const char*>(&mine), sizeof mine))) {
    double v = 0;
    std::memcpy(&v, bytes.data(), sizeof v);
    worst = std::max(worst, v);
  }
  return worst;
}

}  // namespace

std::vector<SelftestRow> selftest_rows(Communicator& comm, Device device, const SelftestOptions& o) {
  DISPA_CHECK(o.iters >= 1 && o.warmup >= 0, "selftest-dist: --iters must be >= 1 and --warmup >= 0, got {} and {}",
              o.iters, o.warmup);
  std::vector<SelftestRow> rows;
  for (int64_t count : o.sizes) {
    DISPA_CHECK(count >= 1 && count <= (int64_t(1) << 31), "selftest-dist: size {} is not in [1, 2^31] elements",
                count);
    SelftestRow row;
    row.count = count;
    row.bytes = count * int64_t(sizeof(float));
    std::vector<float> values(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) values[size_t(i)] = selftest_value(comm.rank(), i);
    Tensor buffer = Tensor::from_vector(values, {count}, device);
    comm.all_reduce(buffer, ReduceOp::sum);
    int64_t wrong = selftest_wrong(buffer.to_vector<float>(), comm.size());
    comm.all_reduce(&wrong, 1, DType::i64, Device::cpu(), ReduceOp::sum);
    row.wrong = wrong;
    // Timed on zeros, which stay zeros: no overflow however many iterations.
    fill_(buffer, 0.0);
    for (int i = 0; i < o.warmup; ++i) comm.all_reduce(buffer, ReduceOp::sum);
    sync_device(device);
    comm.barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < o.iters; ++i) comm.all_reduce(buffer, ReduceOp::sum);
    sync_device(device);
    const double mine = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / o.iters;
    row.seconds = max_over_ranks(comm, mine);
    row.algbw_gbs = double(row.bytes) / row.seconds / 1e9;
    row.busbw_gbs = row.algbw_gbs * 2.0 * double(comm.size() - 1) / double(comm.size());
    rows.push_back(row);
  }
  return rows;
}

std::string selftest_header(const Communicator& comm, Device device) {
  return fmt::format(
      "# dispa selftest-dist: {} rank(s), backend {}, device {}; printed by {}\n"
      "#  all_reduce in place, f32 sum; time = slowest rank's mean per call; busbw = algbw * 2(n-1)/n\n"
      "#{:>12} {:>13} {:>6} {:>6} {:>10} {:>8} {:>8} {:>7}\n"
      "#{:>12} {:>13} {:>6} {:>6} {:>10} {:>8} {:>8} {:>7}",
      comm.size(), backend_name(comm.backend()), device, comm.who(), "size", "count", "type", "redop", "time", "algbw",
      "busbw", "#wrong", "(B)", "(elements)", "", "", "(us)", "(GB/s)", "(GB/s)", "");
}

std::string selftest_line(const SelftestRow& r) {
  return fmt::format(" {:>12} {:>13} {:>6} {:>6} {:>10.2f} {:>8.3f} {:>8.3f} {:>7}", r.bytes, r.count, "float", "sum",
                     r.seconds * 1e6, r.algbw_gbs, r.busbw_gbs, r.wrong);
}

void run_selftest_dist(const SelftestOptions& o) {
  const Device device = parse_device(o.device);
  auto comm = make_communicator(choose_backend(o.dist, device));
  const Device where = comm->backend() == Backend::nccl ? comm->device() : device;
  if (comm->rank() == 0) {
    logging::info("selftest-dist: {} size(s), {} timed iteration(s) each after {} warm-up", o.sizes.size(), o.iters,
                  o.warmup);
    std::printf("%s\n", selftest_header(*comm, where).c_str());
    std::fflush(stdout);
  }
  int64_t total_wrong = 0;
  for (int64_t count : o.sizes) {  // one size at a time, so each line appears as soon as it is measured
    SelftestOptions one = o;
    one.sizes = {count};
    const SelftestRow row = selftest_rows(*comm, where, one).front();
    total_wrong += row.wrong;
    if (comm->rank() == 0) {
      std::printf("%s\n", selftest_line(row).c_str());
      std::fflush(stdout);
    }
  }
  if (comm->rank() == 0) {
    std::printf("# wrong elements in total: %lld\n", static_cast<long long>(total_wrong));
    std::fflush(stdout);
  }
  DISPA_CHECK(total_wrong == 0, "selftest-dist: {} wrong element(s) after all_reduce ({}): the collectives of this "
              "machine or network give wrong results", total_wrong, comm->who());
}

}  // namespace dispa::dist
