// The MPI side that the mpi and nccl backends share (compiled only with DISPA_WITH_MPI): process
// start-up (MPI_Init_thread once per process, MPI_Finalize at exit), host-memory collectives, and
// the watchdog's helpers: answering peers' status queries and asking them on a timeout, so the
// report names the rank that is missing instead of only the ranks left waiting; then MPI_Abort.
//
// Two duplicates of MPI_COMM_WORLD keep the traffic apart: data_ (collectives, main thread) and
// watch_ (point-to-point status queries on the watchdog thread, concurrent with a collective
// blocked on the main thread: that needs MPI_THREAD_MULTIPLE, which Debian's OpenMPI provides;
// without it the watchdog does not ask, it only aborts).
#pragma once
// The C API only: OpenMPI's (deprecated) C++ bindings would need libmpi_cxx at link time.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/dist/communicator.h"

namespace dispa::dist {

class MpiHost {
 public:
  MpiHost();
  ~MpiHost();
  MpiHost(const MpiHost&) = delete;
  MpiHost& operator=(const MpiHost&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  const std::string& host() const { return host_; }

  void all_reduce(void* data, int64_t count, DType dtype, ReduceOp op);
  void broadcast(void* data, int64_t nbytes, int root);
  std::vector<std::string> all_gather(const std::string& mine);
  void barrier();

  // Watchdog thread: answer any pending status query from a peer with `status` (watchdog.h's
  // Watchdog::status(), prefixed with the sequence number it is waiting in, or 0).
  void answer_queries(uint64_t waiting_seq, const std::string& status);
  // Watchdog thread, on a timeout in collective `seq`: asks every peer where it is (waiting up to
  // wait_s, still answering their queries meanwhile) and summarises: which ranks are elsewhere
  // and what they say, which did not answer, how many wait in `seq` too.
  std::string ask_peers(uint64_t seq, double wait_s, const std::string& my_status);
  // MPI_Abort on the world (mpirun/srun then end every rank), and _Exit should it return.
  [[noreturn]] void abort_job(int code);

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
  bool thread_multiple_ = false;
  std::string host_;
  MPI_Comm data_ = MPI_COMM_NULL, watch_ = MPI_COMM_NULL;
};

// The watchdog callbacks of the MPI-bootstrapped backends (mpi_communicator.cpp). watch_with_mpi:
// every tick, answer peers' queries with this rank's status. report_and_abort: on a timeout, ask
// the peers, print the message with their answers and `action` ("aborting (MPI_Abort)"), abort.
void watch_with_mpi(Watchdog& watchdog, MpiHost& host);
[[noreturn]] void report_and_abort(const std::string& message, Watchdog& watchdog, MpiHost& host,
                                   const std::string& action);

}  // namespace dispa::dist
