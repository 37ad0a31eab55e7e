// ReduceLROnPlateau against hand traces of torch.optim.lr_scheduler.ReduceLROnPlateau.step()
// (better -> best, bad = 0; else bad += 1; in cooldown: counter -= 1, bad = 0; bad > patience ->
// lr = max(lr * factor, min_lr) if the drop exceeds eps, counter = cooldown, bad = 0).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/optim/schedule.h"

using namespace dispa;

namespace {

struct Expect {
  double metric, lr, best;
  int bad, cooldown;
};

void run_trace(double lr0, const ReduceLROnPlateau::Options& options, const std::vector<Expect>& trace) {
  Tensor p = Tensor::zeros({1});
  SGD opt({{"p", p}}, lr0);
  ReduceLROnPlateau sched(opt, options);
  int epoch = 0;
  for (const Expect& e : trace) {
    ++epoch;
    CAPTURE(epoch);
    CAPTURE(e.metric);
    sched.step(e.metric);
    double best;
    int bad, cooldown, last_epoch;
    sched.get_state(best, bad, cooldown, last_epoch);
    CHECK(opt.learning_rate() == doctest::Approx(e.lr).epsilon(1e-15));
    CHECK(best == e.best);
    CHECK(bad == e.bad);
    CHECK(cooldown == e.cooldown);
    CHECK(last_epoch == epoch);
  }
}

}  // namespace

TEST_CASE("ReduceLROnPlateau: min/rel with patience, cooldown and min_lr (hand trace)") {
  ReduceLROnPlateau::Options o;
  o.factor = 0.5;
  o.patience = 2;
  o.threshold = 0.1;  // an improvement must beat best * 0.9
  o.cooldown = 1;
  o.min_lr = 0.02;
  run_trace(0.1, o,
            {
                {1.0, 0.1, 1.0, 0, 0},     // first metric always improves on +inf
                {0.95, 0.1, 1.0, 1, 0},    // 0.95 is not < 0.9
                {0.89, 0.1, 0.89, 0, 0},   // 0.89 < 0.9
                {0.85, 0.1, 0.89, 1, 0},   // not < 0.801
                {0.85, 0.1, 0.89, 2, 0},
                {0.85, 0.05, 0.89, 0, 1},  // 3 bad > patience 2: halve, start cooldown
                {0.5, 0.05, 0.5, 0, 0},    // improvement; cooldown ticks down
                {0.6, 0.05, 0.5, 1, 0},
                {0.6, 0.05, 0.5, 2, 0},
                {0.6, 0.025, 0.5, 0, 1},
                {0.6, 0.025, 0.5, 0, 0},   // bad epoch in cooldown is forgotten
                {0.6, 0.025, 0.5, 1, 0},
                {0.6, 0.025, 0.5, 2, 0},
                {0.6, 0.02, 0.5, 0, 1},    // 0.0125 clamped to min_lr 0.02
                {0.6, 0.02, 0.5, 0, 0},
                {0.6, 0.02, 0.5, 1, 0},
                {0.6, 0.02, 0.5, 2, 0},
                {0.6, 0.02, 0.5, 0, 1},    // at min_lr: no change, but counters still reset
            });
}

TEST_CASE("ReduceLROnPlateau: max/abs and min/abs thresholds") {
  ReduceLROnPlateau::Options max_abs;
  max_abs.mode = "max";
  max_abs.threshold_mode = "abs";
  max_abs.threshold = 0.5;
  max_abs.patience = 1;
  run_trace(1.0, max_abs,
            {
                {1.0, 1.0, 1.0, 0, 0},
                {1.4, 1.0, 1.0, 1, 0},  // must exceed best + 0.5
                {1.6, 1.0, 1.6, 0, 0},
                {1.6, 1.0, 1.6, 1, 0},
                {2.0, 0.1, 1.6, 0, 0},  // 2.0 is not > 2.1: second bad epoch, reduce (factor 0.1)
                {2.2, 0.1, 2.2, 0, 0},
            });
  ReduceLROnPlateau::Options min_abs;
  min_abs.threshold_mode = "abs";
  min_abs.threshold = 0.5;
  min_abs.patience = 0;
  min_abs.factor = 0.5;
  run_trace(1.0, min_abs,
            {
                {3.0, 1.0, 3.0, 0, 0},
                {2.6, 0.5, 3.0, 0, 0},  // not < 2.5: bad, patience 0 reduces at once
                {2.4, 0.5, 2.4, 0, 0},
                {2.4, 0.25, 2.4, 0, 0},
            });
}

TEST_CASE("ReduceLROnPlateau: max/rel; a NaN metric is a bad epoch") {
  ReduceLROnPlateau::Options o;
  o.mode = "max";
  o.threshold = 0.1;
  o.patience = 0;
  Tensor p = Tensor::zeros({1});
  SGD opt({{"p", p}}, 1.0);
  ReduceLROnPlateau sched(opt, o);
  sched.step(10.0);
  CHECK(opt.learning_rate() == 1.0);
  sched.step(10.5);  // not > 11
  CHECK(opt.learning_rate() == doctest::Approx(0.1));
  sched.step(11.1);
  CHECK(sched.best() == 11.1);
  sched.step(std::nan(""));
  CHECK(opt.learning_rate() == doctest::Approx(0.01));
  CHECK(sched.best() == 11.1);
}

TEST_CASE("ReduceLROnPlateau: reductions smaller than eps are ignored; state round trip") {
  ReduceLROnPlateau::Options o;
  o.factor = 0.5;
  o.patience = 0;
  Tensor p = Tensor::zeros({1});
  SGD opt({{"p", p}}, 1.5e-8);
  ReduceLROnPlateau sched(opt, o);
  sched.step(1.0);
  sched.step(2.0);  // would drop by 7.5e-9 < eps 1e-8
  CHECK(opt.learning_rate() == 1.5e-8);

  SGD opt2({{"p", p}}, 1.0);
  ReduceLROnPlateau restored(opt2, o);
  restored.set_state(0.25, 0, 3, 17);
  double best;
  int bad, cooldown, epoch;
  restored.get_state(best, bad, cooldown, epoch);
  CHECK(best == 0.25);
  CHECK(cooldown == 3);
  CHECK(epoch == 17);
  restored.step(1.0);  // bad, but in cooldown
  CHECK(opt2.learning_rate() == 1.0);
  CHECK(restored.bad_epochs() == 0);
}

TEST_CASE("ReduceLROnPlateau: invalid options are rejected") {
  Tensor p = Tensor::zeros({1});
  SGD opt({{"p", p}}, 1.0);
  ReduceLROnPlateau::Options o;
  o.mode = "lowest";
  CHECK_THROWS_WITH_AS(ReduceLROnPlateau(opt, o), doctest::Contains("mode must be 'min' or 'max'"), Error);
  o = {};
  o.factor = 1.0;
  CHECK_THROWS_WITH_AS(ReduceLROnPlateau(opt, o), doctest::Contains("factor must be in [0, 1)"), Error);
  o = {};
  o.threshold_mode = "relative";
  CHECK_THROWS_WITH_AS(ReduceLROnPlateau(opt, o), doctest::Contains("threshold_mode"), Error);
}
