// ReduceLROnPlateau, line for line torch.optim.lr_scheduler.ReduceLROnPlateau.step():
//   better -> best = metric, bad = 0;  otherwise bad += 1
//   in cooldown (counter > 0) -> counter -= 1, bad = 0   (bad epochs in cooldown are ignored)
//   bad > patience -> new = max(lr * factor, min_lr), applied only if lr - new > eps;
//                     counter = cooldown, bad = 0
// "better" (is_better): min/rel a < best * (1 - threshold); min/abs a < best - threshold;
// max/rel a > best * (1 + threshold); max/abs a > best + threshold. best starts at +inf (min) or
// -inf (max), so the first finite metric is always an improvement; a NaN metric never is.
#include "engine/optim/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace dispa {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, Options options)
    : optimizer_(optimizer), options_(std::move(options)) {
  const Options& o = options_;
  DISPA_CHECK(o.mode == "min" || o.mode == "max", "ReduceLROnPlateau: mode must be 'min' or 'max', got '{}'", o.mode);
  DISPA_CHECK(o.threshold_mode == "rel" || o.threshold_mode == "abs",
              "ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got '{}'", o.threshold_mode);
  DISPA_CHECK(o.factor < 1.0 && o.factor >= 0.0, "ReduceLROnPlateau: factor must be in [0, 1), got {}", o.factor);
  DISPA_CHECK(o.patience >= 0, "ReduceLROnPlateau: patience must be >= 0, got {}", o.patience);
  DISPA_CHECK(o.cooldown >= 0, "ReduceLROnPlateau: cooldown must be >= 0, got {}", o.cooldown);
  DISPA_CHECK(o.min_lr >= 0, "ReduceLROnPlateau: min_lr must be >= 0, got {}", o.min_lr);
  DISPA_CHECK(o.threshold >= 0, "ReduceLROnPlateau: threshold must be >= 0, got {}", o.threshold);
  best_ = o.mode == "min" ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
  const bool rel = options_.threshold_mode == "rel";
  if (options_.mode == "min") return rel ? a < best * (1.0 - options_.threshold) : a < best - options_.threshold;
  return rel ? a > best * (options_.threshold + 1.0) : a > best + options_.threshold;
}

void ReduceLROnPlateau::step(double metric) {
  ++last_epoch_;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    ++num_bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    num_bad_epochs_ = 0;
  }
  if (num_bad_epochs_ > options_.patience) {
    const double old_lr = optimizer_.learning_rate();
    const double new_lr = std::max(old_lr * options_.factor, options_.min_lr);
    if (old_lr - new_lr > options_.eps) optimizer_.set_learning_rate(new_lr);
    cooldown_counter_ = options_.cooldown;
    num_bad_epochs_ = 0;
  }
}

void ReduceLROnPlateau::get_state(double& best, int& bad, int& cooldown_counter, int& last_epoch) const {
  best = best_;
  bad = num_bad_epochs_;
  cooldown_counter = cooldown_counter_;
  last_epoch = last_epoch_;
}

void ReduceLROnPlateau::set_state(double best, int bad, int cooldown_counter, int last_epoch) {
  DISPA_CHECK(bad >= 0 && cooldown_counter >= 0 && last_epoch >= 0,
              "ReduceLROnPlateau::set_state: counters must be >= 0 (bad {}, cooldown {}, epoch {})", bad,
              cooldown_counter, last_epoch);
  best_ = best;
  num_bad_epochs_ = bad;
  cooldown_counter_ = cooldown_counter;
  last_epoch_ = last_epoch;
}

}  // namespace dispa
