// The mpi backend: CPU tensors through MPI (compiled only with DISPA_WITH_MPI). Also the watchdog
// callbacks that the nccl backend reuses: report_and_abort() prints the timeout message with the
// peers' answers and aborts the job.
#include "engine/dist/mpi_host.h"

#include <algorithm>

#include "engine/dist/backends.h"
#include "engine/log.h"

namespace dispa::dist {

void watch_with_mpi(Watchdog& watchdog, MpiHost& host) {
  host.answer_queries(watchdog.waiting_seq(), watchdog.status());
}

void report_and_abort(const std::string& message, Watchdog& watchdog, MpiHost& host, const std::string& action) {
  // Long enough for peers' watchdog threads (ticking every <= 0.1 s) to answer, short next to the timeout.
  const double wait_s = std::clamp(watchdog.timeout_s() / 4, 1.0, 10.0);
  const std::string peers = host.ask_peers(watchdog.waiting_seq(), wait_s, watchdog.status());
  logging::write_line(fmt::format("error: dist watchdog: {}{}\n  {}; the job exits with status {}", message, peers,
                                  action, kWatchdogExitCode),
                      true);
  host.abort_job(kWatchdogExitCode);
}

namespace {

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator(std::unique_ptr<MpiHost> host, const Settings& settings)
      : Communicator(Backend::mpi, host->rank(), host->size(), host->local_rank(), Device::cpu(), host->host(),
                     settings),
        host_(std::move(host)) {
    start_watchdog(
        [this](const std::string& message) { report_and_abort(message, *watchdog(), *host_, "aborting (MPI_Abort)"); },
        [this] { watch_with_mpi(*watchdog(), *host_); });
  }
  ~MpiCommunicator() override { stop_watchdog(); }  // before host_: its callbacks use host_

 protected:
  void host_all_reduce(void* data, int64_t count, DType dtype, ReduceOp op) override {
    host_->all_reduce(data, count, dtype, op);
  }
  void host_broadcast(void* data, int64_t nbytes, int root) override { host_->broadcast(data, nbytes, root); }
  std::vector<std::string> host_all_gather(const std::string& mine) override { return host_->all_gather(mine); }
  void host_barrier() override { host_->barrier(); }

 private:
  std::unique_ptr<MpiHost> host_;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(const Settings& settings) {
  return std::make_unique<MpiCommunicator>(std::make_unique<MpiHost>(), settings);
}

}  // namespace dispa::dist
