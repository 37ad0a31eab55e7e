// The collective watchdog: a thread that makes sure no collective waits forever. Each collective
// is registered when it starts, with its sequence number and a description, and ends either when
// the caller marks it finished (blocking MPI calls) or when its poll says so (NCCL work queued on a
// stream: a CUDA event query). When the oldest unfinished collective is older than the timeout
// (DISPA_DIST_TIMEOUT_S), on_timeout gets a message naming this rank, the collective and its
// sequence number. The backends' on_timeout asks the peers where they are, aborts the job
// (ncclCommAbort, MPI_Abort) and exits non-zero: a blocked collective cannot be unblocked by an
// exception, so this is the one place outside tools/main.cpp that ends the process.
// The thread also calls on_tick every tick (the MPI backend answers peers' status queries there),
// which is why it runs for the communicator's whole life, not only during collectives.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace dispa::dist {

// Exit status of a job the watchdog aborted: EX_TEMPFAIL of sysexits.h ("try again": --resume
// continues from the last checkpoint), distinct from timeout(1)'s 124 and a crash's 128+signal.
constexpr int kWatchdogExitCode = 75;

class Watchdog {
 public:
  using Poll = std::function<bool()>;                          // true once the collective completed
  using OnTimeout = std::function<void(const std::string&)>;   // production: never returns
  using OnTick = std::function<void()>;

  // who: "rank 1 of 4 (host node7)", the prefix of every message.
  Watchdog(double timeout_s, std::string who, OnTimeout on_timeout, OnTick on_tick = {});
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Registers collective `seq` when it starts. It ends at finish(seq) (a blocking call returned) or,
  // after finish_when(seq, poll), once poll() returns true on the watchdog thread (queued GPU work).
  void start(uint64_t seq, std::string call);
  void finish(uint64_t seq);
  void finish_when(uint64_t seq, Poll poll);
  // Where this rank is, for a peer's query: "in all_reduce(...) #12 for 3.1 s" or
  // "not in a collective (last finished #11 all_reduce(...) 2.0 s ago)".
  std::string status() const;
  uint64_t waiting_seq() const;  // the oldest unfinished collective, 0 when none
  bool fired() const;  // on_timeout was called (tests; production never gets here)
  double timeout_s() const { return timeout_s_; }

 private:
  struct Entry {
    uint64_t seq;
    std::string call;
    Poll poll;
    double started;  // seconds on the steady clock
  };
  void run();
  static double now();

  double timeout_s_;
  std::string who_;
  OnTimeout on_timeout_;
  OnTick on_tick_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Entry> pending_;  // in start order; NCCL work completes in this order (one stream)
  uint64_t last_finished_seq_ = 0;
  std::string last_finished_call_;
  double last_finished_at_ = 0;
  bool stop_ = false, fired_ = false;
  std::thread thread_;
};

}  // namespace dispa::dist
