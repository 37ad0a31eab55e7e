// The backend-independent half of every communicator: argument checks, sequence numbers, test
// hooks, the debug cross-check and the watchdog registration; the single-process backend; the
// factory. The MPI and NCCL halves are mpi_host.cpp / mpi_communicator.cpp / nccl_communicator.cpp,
// compiled only when CMake found them (DISPA_WITH_MPI, DISPA_WITH_NCCL).
#include "engine/dist/communicator.h"

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "engine/dist/backends.h"
#include "engine/dist/launch_env.h"
#include "engine/log.h"

namespace dispa::dist {

Backend parse_backend(const std::string& name) {
  if (name == "none") return Backend::none;
  if (name == "mpi") return Backend::mpi;
  if (name == "nccl") return Backend::nccl;
  fail("unknown distributed backend '{}' (expected none, mpi or nccl)", name.substr(0, 40));
}

Backend choose_backend(const std::string& name, Device device) {
  if (name != "auto") return parse_backend(name);
  if (!launch_info_from_environment().launched) return Backend::none;
  return device.is_cuda() ? Backend::nccl : Backend::mpi;
}

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::none: return "none";
    case Backend::mpi: return "mpi";
    case Backend::nccl: return "nccl";
  }
  return "?";
}

std::string backend_unavailable_reason(Backend backend) {
  const std::string rebuild = "scripts/setup.sh installs openmpi-bin and libopenmpi-dev; then rebuild (scripts/build.sh)";
  if (backend == Backend::none) return {};
  if (!DISPA_WITH_MPI)
    return fmt::format("--dist {} needs MPI, and this dispa was built without it: {}", backend_name(backend), rebuild);
  if (backend == Backend::nccl && !DISPA_WITH_CUDA)
    return "--dist nccl needs the CUDA backend, and this dispa was built without CUDA (nvcc not found or "
           "-DDISPA_CUDA=OFF)";
  if (backend == Backend::nccl && !DISPA_WITH_NCCL)
    return "--dist nccl needs NCCL, and this dispa was built without it: CMake looks for nccl.h and libnccl in the "
           "CUDA toolkit, /usr/include and /usr/lib/x86_64-linux-gnu (Debian/Ubuntu: libnccl-dev from NVIDIA's "
           "repository); install it and rebuild";
  return {};
}

const char* reduce_op_name(ReduceOp op) { return op == ReduceOp::sum ? "sum" : "avg"; }

namespace {

const char* env_or_null(const EnvLookup& lookup, const char* name) {
  return lookup ? lookup(name) : std::getenv(name);
}

// "RANK:SEQ" for the test hooks.
void parse_hook(const EnvLookup& lookup, const char* name, int& rank, uint64_t& seq) {
  const char* text = env_or_null(lookup, name);
  if (!text || !*text) return;
  const std::string s(text);
  unsigned long long r = 0, q = 0;
  char tail = 0;
  DISPA_CHECK(std::sscanf(s.c_str(), "%llu:%llu%c", &r, &q, &tail) == 2 && q >= 1 && r < (1u << 30),
              "{}='{}': expected RANK:SEQ (a rank and a collective sequence number >= 1)", name, s.substr(0, 40));
  rank = static_cast<int>(r);
  seq = q;
}

}  // namespace

Settings Settings::from_environment(const EnvLookup& lookup) {
  Settings s;
  if (const char* t = env_or_null(lookup, "DISPA_DIST_TIMEOUT_S"); t && *t) {
    char* end = nullptr;
    const double v = std::strtod(t, &end);
    DISPA_CHECK(end && *end == '\0' && v > 0 && v < 1e7,
                "DISPA_DIST_TIMEOUT_S='{}': expected a number of seconds > 0", std::string(t).substr(0, 40));
    s.timeout_s = v;
  }
  if (const char* t = env_or_null(lookup, "DISPA_DIST_DEBUG"); t && *t) {
    const std::string v(t);
    DISPA_CHECK(v == "0" || v == "1", "DISPA_DIST_DEBUG='{}': expected 0 or 1", v.substr(0, 40));
    s.debug = v == "1";
  }
  parse_hook(lookup, "DISPA_DIST_TEST_HANG", s.hang_rank, s.hang_seq);
  parse_hook(lookup, "DISPA_DIST_TEST_KILL", s.kill_rank, s.kill_seq);
  return s;
}

// ---- Communicator --------------------------------------------------------------------------------

Communicator::Communicator(Backend backend, int rank, int size, int local_rank, Device device, std::string host,
                           Settings settings)
    : backend_(backend), rank_(rank), size_(size), local_rank_(local_rank), device_(device),
      settings_(settings) {
  who_ = fmt::format("rank {} of {} ({}, host {})", rank, size, backend_name(backend), host);
}

Communicator::~Communicator() = default;

void Communicator::start_watchdog(Watchdog::OnTimeout on_timeout, Watchdog::OnTick on_tick) {
  watchdog_ = std::make_unique<Watchdog>(settings_.timeout_s, who_, std::move(on_timeout), std::move(on_tick));
}

std::string Communicator::Call::str() const {
  switch (kind) {
    case Kind::all_reduce: return fmt::format("all_reduce({}, {} x {})", reduce_op_name(op), count, dtype_name(dtype));
    case Kind::broadcast: return fmt::format("broadcast(root {}, {} x {})", root, count, dtype_name(dtype));
    case Kind::barrier: return "barrier()";
    case Kind::all_gather_bytes: return "all_gather_bytes()";  // sizes may differ by rank
    case Kind::broadcast_bytes: return fmt::format("broadcast_bytes(root {})", root);
  }
  return "?";
}

template <typename Body>
void Communicator::run(const Call& call, Body&& body) {
  const uint64_t seq = ++sequence_;
  if (settings_.kill_rank == rank_ && settings_.kill_seq == seq) {
    logging::write_line(fmt::format("{}: DISPA_DIST_TEST_KILL: killing myself before collective #{}", who_, seq), true);
    std::raise(SIGKILL);
  }
  if (settings_.hang_rank == rank_ && settings_.hang_seq == seq) {
    logging::write_line(fmt::format("{}: DISPA_DIST_TEST_HANG: hanging before collective #{}", who_, seq), true);
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (!watchdog_) {  // single process
    body();
    return;
  }
  watchdog_->start(seq, call.str());
  try {
    if (settings_.debug) check_same_call(seq, call);
    Watchdog::Poll poll = body();
    if (poll)
      watchdog_->finish_when(seq, std::move(poll));
    else
      watchdog_->finish(seq);
  } catch (...) {
    watchdog_->finish(seq);
    throw;
  }
}

void Communicator::check_same_call(uint64_t seq, const Call& call) {
  const std::string mine = fmt::format("#{} {}", seq, call.str());
  const std::vector<std::string> all = host_all_gather(mine);
  for (int r = 0; r < size_; ++r)
    DISPA_CHECK(all[size_t(r)] == all[0],
                "DISPA_DIST_DEBUG: ranks disagree on the next collective: rank 0 calls {} but rank {} calls {}",
                all[0], r, all[size_t(r)]);
}

bool Communicator::is_device(Device where, int64_t count, const char* what) const {
  DISPA_CHECK(count >= 0, "{}: negative element count {}", what, count);
  if (where.is_cpu()) return false;
  DISPA_CHECK(backend_ != Backend::mpi,
              "{}: the mpi backend carries CPU tensors only (Debian's OpenMPI is not CUDA-aware); got data on {}: "
              "use --dist nccl for CUDA tensors",
              what, where);
  DISPA_CHECK(backend_ == Backend::none || where == device_, "{}: {} uses {}, but the data is on {}", what, who_,
              device_, where);
  return backend_ == Backend::nccl;
}

void Communicator::all_reduce(Tensor& t, ReduceOp op) {
  all_reduce(t.raw_data(), t.numel(), t.dtype(), t.device(), op);
}

void Communicator::all_reduce(void* data, int64_t count, DType dtype, Device where, ReduceOp op) {
  all_reduce_async(data, count, dtype, where, op);
  wait_collectives();
}

void Communicator::all_reduce_async(void* data, int64_t count, DType dtype, Device where, ReduceOp op) {
  const bool device = is_device(where, count, "all_reduce");
  // One rank still runs the backend (a 1-rank NCCL or MPI job exercises the real path); the none
  // backend's operations are the identity.
  run({Kind::all_reduce, op, count, dtype, 0}, [&]() -> Watchdog::Poll {
    if (count == 0) return {};
    if (device) return device_all_reduce(data, count, dtype, op);
    host_all_reduce(data, count, dtype, op);
    return {};
  });
}

void Communicator::wait_collectives() {
  if (backend_ == Backend::nccl) device_wait();
}

void Communicator::broadcast(Tensor& t, int root) {
  DISPA_CHECK(root >= 0 && root < size_, "broadcast: root {} is not a rank of {}", root, who_);
  const bool device = is_device(t.device(), t.numel(), "broadcast");
  run({Kind::broadcast, ReduceOp::sum, t.numel(), t.dtype(), root}, [&]() -> Watchdog::Poll {
    if (t.numel() == 0) return {};
    if (device) return device_broadcast(t.raw_data(), t.numel(), t.dtype(), root);
    host_broadcast(t.raw_data(), int64_t(t.nbytes()), root);
    return {};
  });
  if (device) device_wait();
}

void Communicator::barrier() {
  run({Kind::barrier, ReduceOp::sum, 0, DType::f32, 0}, [&]() -> Watchdog::Poll {
    host_barrier();
    return {};
  });
}

std::vector<std::string> Communicator::all_gather_bytes(const std::string& mine) {
  std::vector<std::string> out;
  run({Kind::all_gather_bytes, ReduceOp::sum, 0, DType::f32, 0}, [&]() -> Watchdog::Poll {
    out = host_all_gather(mine);
    return {};
  });
  return out;
}

void Communicator::broadcast_bytes(std::string& bytes, int root) {
  DISPA_CHECK(root >= 0 && root < size_, "broadcast_bytes: root {} is not a rank of {}", root, who_);
  run({Kind::broadcast_bytes, ReduceOp::sum, 0, DType::f32, root}, [&]() -> Watchdog::Poll {
    // Sizes first, so every rank can make room.
    int64_t n = int64_t(bytes.size());
    host_broadcast(&n, sizeof n, root);
    bytes.resize(size_t(n));
    host_broadcast(bytes.data(), n, root);
    return {};
  });
}

Watchdog::Poll Communicator::device_all_reduce(void*, int64_t, DType, ReduceOp) {
  fail("{}: no device collectives in this backend", who_);
}
Watchdog::Poll Communicator::device_broadcast(void*, int64_t, DType, int) {
  fail("{}: no device collectives in this backend", who_);
}

// ---- single process --------------------------------------------------------------------------------

namespace {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "?";
  return name;
}

class SingleProcessCommunicator : public Communicator {
 public:
  explicit SingleProcessCommunicator(const Settings& settings)
      : Communicator(Backend::none, 0, 1, 0, Device::cpu(), host_name(), settings) {}

 protected:
  // Sum and avg over one rank are the identity.
  void host_all_reduce(void*, int64_t, DType, ReduceOp) override {}
  void host_broadcast(void*, int64_t, int) override {}
  std::vector<std::string> host_all_gather(const std::string& mine) override { return {mine}; }
  void host_barrier() override {}
};

}  // namespace

std::string local_host_name() { return host_name(); }

#if !DISPA_WITH_MPI
std::unique_ptr<Communicator> make_mpi_communicator(const Settings&) {
  fail("{}", backend_unavailable_reason(Backend::mpi));
}
void abort_job_after_error(int) {}  // without MPI there is no job of several ranks
#endif
#if !DISPA_WITH_NCCL
std::unique_ptr<Communicator> make_nccl_communicator(const Settings&) {
  fail("{}", backend_unavailable_reason(Backend::nccl));
}
#endif

std::unique_ptr<Communicator> make_communicator(Backend backend, const Settings& settings) {
  const std::string missing = backend_unavailable_reason(backend);
  DISPA_CHECK(missing.empty(), "{}", missing);
  switch (backend) {
    case Backend::none: {
      const LaunchInfo launch = launch_info_from_environment();
      DISPA_CHECK(!launch.launched || launch.size == 1,
                  "this process is {} but --dist is none: every rank would train alone and write the same "
                  "files; pass --dist mpi (CPU) or --dist nccl (CUDA), or start one process",
                  launch.describe());
      return std::make_unique<SingleProcessCommunicator>(settings);
    }
    case Backend::mpi: return make_mpi_communicator(settings);
    case Backend::nccl: return make_nccl_communicator(settings);
  }
  fail("unknown backend");
}

}  // namespace dispa::dist
