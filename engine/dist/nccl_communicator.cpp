// The nccl backend (compiled only with DISPA_WITH_NCCL): CUDA tensors through NCCL, CPU tensors
// and host bytes through MPI (MpiHost), which also bootstraps NCCL: rank 0's ncclUniqueId is
// broadcast and every rank joins with ncclCommInitRank on device local_rank % device count.
// Started without a launcher it is a one-rank NCCL communicator without MPI (host collectives are
// then the identity), so the CUDA path can be checked on a GPU machine that has no MPI installed.
//
// Streams: NCCL runs on its own non-blocking stream. A collective first records an event on the
// calling thread's stream (cuda::current_stream(), where the data was produced) and makes the NCCL
// stream wait for it, then queues the NCCL call and records a "done" event behind it. Nothing
// waits for that on the host: wait_collectives() makes the calling stream wait for the last done
// event, so compute queued before that point (the rest of a backward pass) overlaps the transfer.
// The watchdog polls the done events; on a timeout it calls ncclCommAbort before MPI_Abort,
// because a rank blocked inside NCCL would otherwise never let MPI's abort reach it cleanly. It
// also checks ncclCommGetAsyncError every tick, so a network error ends the job at once.
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <memory>

#include "engine/cuda/check.h"
#include "engine/cuda/runtime.h"
#include "engine/dist/backends.h"
#include "engine/dist/mpi_host.h"
#include "engine/log.h"

#define DISPA_NCCL_CHECK(call)                                                                              \
  do {                                                                                                      \
    const ncclResult_t dispa_nccl_ = (call);                                                                \
    if (dispa_nccl_ != ncclSuccess)                                                                         \
      ::dispa::fail("{} failed: {} ({}) [{}:{}]", #call, ncclGetErrorString(dispa_nccl_), ncclGetLastError(nullptr), \
                    __FILE__, __LINE__);                                                                    \
  } while (0)

namespace dispa::dist {
namespace {

ncclDataType_t nccl_type(DType dtype) {
  switch (dtype) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
  }
  fail("NCCL: unsupported dtype");
}

// One CUDA event, destroyed with its last owner (the communicator and the watchdog's poll).
struct Event {
  cudaEvent_t event = nullptr;
  Event() { DISPA_CUDA_CHECK(cudaEventCreateWithFlags(&event, cudaEventDisableTiming)); }
  ~Event() { cudaEventDestroy(event); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

int pick_device(int local_rank) {
  const int count = cuda::device_count();
  DISPA_CHECK(count > 0, "--dist nccl: no CUDA device visible to local rank {}", local_rank);
  return local_rank % count;
}

class NcclCommunicator : public Communicator {
 public:
  // host: null for one rank without a launcher (no MPI).
  NcclCommunicator(std::unique_ptr<MpiHost> host, const Settings& settings, int device)
      : Communicator(Backend::nccl, host ? host->rank() : 0, host ? host->size() : 1, host ? host->local_rank() : 0,
                     Device::cuda(device), host ? host->host() : local_host_name(), settings),
        host_(std::move(host)), device_index_(device) {
    DISPA_CUDA_CHECK(cudaSetDevice(device));
    ncclUniqueId id{};
    if (rank() == 0) DISPA_NCCL_CHECK(ncclGetUniqueId(&id));
    if (host_) host_->broadcast(&id, sizeof id, 0);
    DISPA_NCCL_CHECK(ncclCommInitRank(&comm_, size(), id, rank()));
    DISPA_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    ready_ = std::make_unique<Event>();
    start_watchdog([this](const std::string& message) { abort_job(message); },
                   [this] {
                     if (host_) watch_with_mpi(*watchdog(), *host_);
                     ncclResult_t async = ncclSuccess;
                     if (ncclCommGetAsyncError(comm_, &async) == ncclSuccess && async != ncclSuccess &&
                         async != ncclInProgress)
                       abort_job(fmt::format("{}: NCCL reported an asynchronous error: {}", who(),
                                             ncclGetErrorString(async)));
                   });
  }

  ~NcclCommunicator() override {
    stop_watchdog();
    if (comm_) ncclCommDestroy(comm_);
    if (stream_) cudaStreamDestroy(stream_);
  }

 protected:
  // Without MPI (one rank, no launcher) host collectives are the identity.
  void host_all_reduce(void* data, int64_t count, DType dtype, ReduceOp op) override {
    if (host_) host_->all_reduce(data, count, dtype, op);
  }
  void host_broadcast(void* data, int64_t nbytes, int root) override {
    if (host_) host_->broadcast(data, nbytes, root);
  }
  std::vector<std::string> host_all_gather(const std::string& mine) override {
    return host_ ? host_->all_gather(mine) : std::vector<std::string>{mine};
  }
  void host_barrier() override {
    if (host_) host_->barrier();
  }

  Watchdog::Poll device_all_reduce(void* data, int64_t count, DType dtype, ReduceOp op) override {
    DISPA_CHECK(op == ReduceOp::sum || is_floating(dtype), "all_reduce: avg needs a floating dtype, got {}",
                dtype_name(dtype));
    follow_caller();
    DISPA_NCCL_CHECK(ncclAllReduce(data, data, size_t(count), nccl_type(dtype), op == ReduceOp::avg ? ncclAvg : ncclSum,
                                   comm_, stream_));
    return mark_done();
  }

  Watchdog::Poll device_broadcast(void* data, int64_t count, DType dtype, int root) override {
    follow_caller();
    DISPA_NCCL_CHECK(ncclBroadcast(data, data, size_t(count), nccl_type(dtype), root, comm_, stream_));
    return mark_done();
  }

  void device_wait() override {
    if (last_done_) DISPA_CUDA_CHECK(cudaStreamWaitEvent(cuda::current_stream(), last_done_->event, 0));
  }

 private:
  // On the watchdog thread: ncclCommAbort unblocks this rank's NCCL kernels; MPI_Abort ends the rest.
  [[noreturn]] void abort_job(const std::string& message) {
    ncclCommAbort(comm_);
    if (host_) report_and_abort(message, *watchdog(), *host_, "NCCL communicator aborted (ncclCommAbort), then MPI_Abort");
    logging::write_line(fmt::format("error: dist watchdog: {}\n  NCCL communicator aborted; exiting with status {}",
                                    message, kWatchdogExitCode),
                        true);
    std::_Exit(kWatchdogExitCode);
  }

  // The NCCL stream waits for what the caller's stream has queued so far (the data's producers).
  void follow_caller() {
    DISPA_CUDA_CHECK(cudaEventRecord(ready_->event, cuda::current_stream()));
    DISPA_CUDA_CHECK(cudaStreamWaitEvent(stream_, ready_->event, 0));
  }
  Watchdog::Poll mark_done() {
    auto done = std::make_shared<Event>();
    DISPA_CUDA_CHECK(cudaEventRecord(done->event, stream_));
    last_done_ = done;
    const int device = device_index_;
    return [done, device] {  // runs on the watchdog thread, which has no current device yet
      cudaSetDevice(device);
      return cudaEventQuery(done->event) != cudaErrorNotReady;  // an error counts as done: the caller sees it
    };
  }

  std::unique_ptr<MpiHost> host_;
  int device_index_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  std::unique_ptr<Event> ready_;
  std::shared_ptr<Event> last_done_;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const Settings& settings) {
  if (!launch_info_from_environment().launched)
    return std::make_unique<NcclCommunicator>(nullptr, settings, pick_device(0));
  auto host = std::make_unique<MpiHost>();
  const int device = pick_device(host->local_rank());
  return std::make_unique<NcclCommunicator>(std::move(host), settings, device);
}

}  // namespace dispa::dist
