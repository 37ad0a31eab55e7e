// Collective communication between the ranks of a data-parallel job (no model knowledge here).
// One interface, three backends:
//   none  one process: every collective is the identity (today's single-process training);
//   mpi   CPU tensors through MPI (MPI_Allreduce, MPI_Bcast, ...); Debian's OpenMPI is not
//         CUDA-aware, so CUDA tensors are refused with a message pointing at nccl;
//   nccl  CUDA tensors through NCCL on its own stream, ordered against the calling thread's stream
//         with events; bootstrapped over MPI (rank 0's ncclUniqueId is broadcast), which also
//         carries CPU tensors and host bytes.
// Every collective gets a sequence number (the same on every rank, since all ranks issue the same
// collectives in the same order) and runs under the watchdog (watchdog.h, DISPA_DIST_TIMEOUT_S).
// With DISPA_DIST_DEBUG=1 all ranks first exchange (sequence, kind, op, count, dtype, root) and a
// mismatch fails on every rank with a message naming both calls, instead of a hang or garbage.
// Variables and semantics: docs/distributed.md.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/dist/launch_env.h"
#include "engine/dist/watchdog.h"
#include "engine/tensor.h"

namespace dispa::dist {

enum class Backend { none, mpi, nccl };
Backend parse_backend(const std::string& name);  // "none" | "mpi" | "nccl"; else an error listing them
// `--dist` as commands take it: "auto" is none without a launcher, else mpi for CPU tensors and nccl
// for CUDA ones; any other name goes through parse_backend.
Backend choose_backend(const std::string& name, Device device);
const char* backend_name(Backend backend);
// Empty when this binary has the backend; otherwise what is missing and how to get it.
std::string backend_unavailable_reason(Backend backend);

enum class ReduceOp { sum, avg };
const char* reduce_op_name(ReduceOp op);

// Knobs read from the environment (docs/distributed.md).
struct Settings {
  double timeout_s = 300;  // DISPA_DIST_TIMEOUT_S: a collective older than this aborts the job
  bool debug = false;      // DISPA_DIST_DEBUG=1: check every collective's arguments across ranks
  // Fault-injection hooks for tests (DISPA_DIST_TEST_HANG / DISPA_DIST_TEST_KILL = "RANK:SEQ"):
  // that rank sleeps forever, or sends itself SIGKILL, just before starting collective #SEQ.
  int hang_rank = -1, kill_rank = -1;
  uint64_t hang_seq = 0, kill_seq = 0;
  // Invalid values are errors naming the variable and its value.
  static Settings from_environment(const EnvLookup& lookup = {});
};

class Communicator {
 public:
  virtual ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  Backend backend() const { return backend_; }
  // Where device collectives run: cpu (none, mpi) or this rank's CUDA device (nccl).
  Device device() const { return device_; }
  const std::string& who() const { return who_; }  // "rank 1 of 4 (mpi, host node7)"
  uint64_t sequence() const { return sequence_; }  // collectives started so far
  const Settings& settings() const { return settings_; }

  // Element-wise reduction over all ranks, in place (contiguous data); every rank ends with the
  // same values. avg divides the sum by size(). CPU data always works (over MPI for nccl); CUDA
  // data needs the nccl backend and this rank's device.
  void all_reduce(Tensor& t, ReduceOp op = ReduceOp::sum);
  void all_reduce(void* data, int64_t count, DType dtype, Device where, ReduceOp op = ReduceOp::sum);
  // Starts the reduction and returns. On CUDA it is queued on the collective stream behind
  // everything the calling thread's stream has queued so far, and the data must stay alive and
  // untouched until wait_collectives(); on the CPU it has completed on return.
  void all_reduce_async(void* data, int64_t count, DType dtype, Device where, ReduceOp op = ReduceOp::sum);
  // Makes the calling thread's stream wait for every collective started so far (no host wait).
  void wait_collectives();
  void broadcast(Tensor& t, int root = 0);
  void barrier();
  // Small host data (start-up checks, counts): every rank's bytes in rank order.
  std::vector<std::string> all_gather_bytes(const std::string& mine);
  void broadcast_bytes(std::string& bytes, int root = 0);

 protected:
  Communicator(Backend backend, int rank, int size, int local_rank, Device device, std::string host,
               Settings settings);
  // The backend's own operations; the public functions above number them, apply the test hooks,
  // run the debug check and register them with the watchdog.
  virtual void host_all_reduce(void* data, int64_t count, DType dtype, ReduceOp op) = 0;
  virtual void host_broadcast(void* data, int64_t nbytes, int root) = 0;
  virtual std::vector<std::string> host_all_gather(const std::string& mine) = 0;
  virtual void host_barrier() = 0;
  // CUDA memory (nccl only): queue the collective; the poll says when it has finished.
  virtual Watchdog::Poll device_all_reduce(void* data, int64_t count, DType dtype, ReduceOp op);
  virtual Watchdog::Poll device_broadcast(void* data, int64_t count, DType dtype, int root);
  virtual void device_wait() {}
  // Backends with peers start the watchdog once they can communicate, and stop it first thing in
  // their destructor (its callbacks use the backend's members).
  void start_watchdog(Watchdog::OnTimeout on_timeout, Watchdog::OnTick on_tick);
  void stop_watchdog() { watchdog_.reset(); }
  Watchdog* watchdog() { return watchdog_.get(); }

 private:
  enum class Kind : uint8_t { all_reduce, broadcast, barrier, all_gather_bytes, broadcast_bytes };
  struct Call {
    Kind kind;
    ReduceOp op;
    int64_t count;
    DType dtype;
    int root;
    std::string str() const;  // "all_reduce(sum, 1000 x f32)"
  };
  // Numbers `call`, applies the test hooks, checks it across ranks (debug) and runs `body` under
  // the watchdog; body returns a poll for queued device work, or an empty one when done.
  template <typename Body> void run(const Call& call, Body&& body);
  void check_same_call(uint64_t seq, const Call& call);
  bool is_device(Device where, int64_t count, const char* what) const;

  Backend backend_;
  int rank_, size_, local_rank_;
  Device device_;
  std::string who_;
  Settings settings_;
  uint64_t sequence_ = 0;
  std::unique_ptr<Watchdog> watchdog_;
};

// The communicator for `backend`: none needs nothing (and refuses to run as one rank of a launched
// job); mpi and nccl initialise MPI (once per process; MPI_Finalize runs at exit) and fail with
// backend_unavailable_reason() when this binary lacks them.
std::unique_ptr<Communicator> make_communicator(Backend backend, const Settings& settings = Settings::from_environment());

// Exit path for a rank that failed with an error: in a job of several ranks the others may be
// waiting in a collective for this one, so the job is aborted (MPI_Abort) rather than left to the
// watchdog; a no-op otherwise. Called by tools/main.cpp after printing the error.
void abort_job_after_error(int exit_code);

}  // namespace dispa::dist
