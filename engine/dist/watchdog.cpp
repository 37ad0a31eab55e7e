#include "engine/dist/watchdog.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

namespace dispa::dist {

double Watchdog::now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Watchdog::Watchdog(double timeout_s, std::string who, OnTimeout on_timeout, OnTick on_tick)
    : timeout_s_(timeout_s), who_(std::move(who)), on_timeout_(std::move(on_timeout)), on_tick_(std::move(on_tick)) {
  last_finished_at_ = now();
  thread_ = std::thread([this] { run(); });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Watchdog::start(uint64_t seq, std::string call) {
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.push_back({seq, std::move(call), Poll(), now()});
}

void Watchdog::finish_when(uint64_t seq, Poll poll) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Entry& e : pending_)
    if (e.seq == seq) e.poll = std::move(poll);
}

void Watchdog::finish(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Entry& e) { return e.seq == seq; });
  if (it == pending_.end()) return;
  last_finished_seq_ = it->seq;
  last_finished_call_ = it->call;
  last_finished_at_ = now();
  pending_.erase(it);
}

std::string Watchdog::status() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const double t = now();
  if (!pending_.empty())
    return fmt::format("in {} #{} for {:.1f} s", pending_.front().call, pending_.front().seq,
                       t - pending_.front().started);
  if (last_finished_seq_ == 0) return fmt::format("not in a collective (none finished yet)");
  return fmt::format("not in a collective (last finished #{} {} {:.1f} s ago)", last_finished_seq_,
                     last_finished_call_, t - last_finished_at_);
}

uint64_t Watchdog::waiting_seq() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return pending_.empty() ? 0 : pending_.front().seq;
}

bool Watchdog::fired() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fired_;
}

void Watchdog::run() {
  // Tick often enough that a short test timeout still fires promptly, at most 10 times a second.
  const auto tick = std::chrono::duration<double>(std::clamp(timeout_s_ / 10.0, 0.01, 0.1));
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_) {
    wake_.wait_for(lock, tick, [this] { return stop_; });
    if (stop_) break;
    // Retire polled collectives that completed (in order: they share one stream).
    while (!pending_.empty() && pending_.front().poll && pending_.front().poll()) {
      last_finished_seq_ = pending_.front().seq;
      last_finished_call_ = pending_.front().call;
      last_finished_at_ = now();
      pending_.pop_front();
    }
    std::string message;
    if (!fired_ && !pending_.empty() && now() - pending_.front().started > timeout_s_) {
      const Entry& e = pending_.front();
      message = fmt::format("{}: collective #{} {} has not completed after {:.0f} s (DISPA_DIST_TIMEOUT_S={:g})",
                            who_, e.seq, e.call, now() - e.started, timeout_s_);
      fired_ = true;
    }
    // Callbacks run unlocked: on_tick answers peers with status(), which takes the lock.
    lock.unlock();
    if (on_tick_) on_tick_();
    if (!message.empty()) on_timeout_(message);
    lock.lock();
  }
}

}  // namespace dispa::dist
