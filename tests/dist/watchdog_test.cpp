// The collective watchdog on its own: a collective older than the timeout is reported with the
// rank, the collective and its sequence number; finished or completed (polled) ones are not.
// Timeouts here are tens of milliseconds and the waits are bounded; nothing measures time.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "engine/dist/watchdog.h"

using namespace dispa::dist;

namespace {
struct Recorder {
  std::mutex mutex;
  std::vector<std::string> messages;
  Watchdog::OnTimeout callback() {
    return [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(m);
    };
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return messages.size();
  }
};

// Waits (at most 10 s) until pred() holds.
template <typename Pred> bool eventually(Pred pred) {
  for (int i = 0; i < 1000; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}
}  // namespace

TEST_CASE("watchdog: an unfinished collective past the timeout is reported once, naming rank, call and sequence") {
  Recorder rec;
  std::atomic<int> ticks{0};
  Watchdog dog(0.05, "rank 2 of 4 (mpi, host h)", rec.callback(), [&] { ++ticks; });
  dog.start(1, "barrier()");
  dog.finish(1);
  dog.start(2, "all_reduce(sum, 10 x f32)");
  CHECK(dog.waiting_seq() == 2);
  CHECK(dog.status().rfind("in all_reduce(sum, 10 x f32) #2 for ", 0) == 0);
  REQUIRE(eventually([&] { return rec.count() == 1; }));
  CHECK(rec.messages[0].rfind("rank 2 of 4 (mpi, host h): collective #2 all_reduce(sum, 10 x f32) has not completed after",
                              0) == 0);
  CHECK(rec.messages[0].find("(DISPA_DIST_TIMEOUT_S=0.05)") != std::string::npos);
  CHECK(dog.fired());
  const int seen = ticks;
  CHECK(eventually([&] { return ticks > seen + 3; }));  // keeps ticking (answering peers) ...
  CHECK(rec.count() == 1);                            // ... but reports once
}

TEST_CASE("watchdog: finished and polled-complete collectives never fire") {
  Recorder rec;
  std::atomic<bool> done{false};
  std::atomic<int> polls{0};
  {
    Watchdog dog(0.2, "rank 0 of 2 (nccl, host h)", rec.callback());
    dog.start(1, "all_reduce(sum, 4 x f32)");
    dog.finish_when(1, [&] {
      ++polls;
      return done.load();
    });
    dog.start(2, "barrier()");
    dog.finish(2);  // a later blocking call may finish before the queued one
    CHECK(eventually([&] { return polls > 2; }));
    CHECK(dog.waiting_seq() == 1);
    done = true;
    CHECK(eventually([&] { return dog.waiting_seq() == 0; }));
    CHECK(dog.status().find("not in a collective (last finished #1 all_reduce(sum, 4 x f32)") == 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past the timeout: nothing pending
  }
  CHECK(rec.count() == 0);
}
