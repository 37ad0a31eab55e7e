// Learning-rate schedules. ReduceLROnPlateau follows torch.optim.lr_scheduler.ReduceLROnPlateau:
// mode min|max, factor, patience, threshold with threshold_mode rel|abs, cooldown, min_lr, eps
// (a reduction smaller than eps is ignored).
#pragma once
#include <string>

#include "engine/optim/optimizer.h"

namespace dispa {

class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  // Called once per epoch with the monitored metric (ignored by metric-free schedules).
  virtual void step(double metric) = 0;
};

class ReduceLROnPlateau : public LRScheduler {
 public:
  struct Options {
    std::string mode = "min";            // "min" or "max"
    double factor = 0.1;
    int patience = 10;
    double threshold = 1e-4;
    std::string threshold_mode = "rel";  // "rel" or "abs"
    int cooldown = 0;
    double min_lr = 0.0;
    double eps = 1e-8;
  };
  ReduceLROnPlateau(Optimizer& optimizer, Options options);
  void step(double metric) override;
  double best() const { return best_; }
  int bad_epochs() const { return num_bad_epochs_; }
  // For checkpoints: best, num_bad_epochs, cooldown_counter, last_epoch.
  void get_state(double& best, int& bad, int& cooldown_counter, int& last_epoch) const;
  void set_state(double best, int bad, int cooldown_counter, int last_epoch);

 private:
  bool is_better(double a, double best) const;
  Optimizer& optimizer_;
  Options options_;
  double best_;
  int num_bad_epochs_ = 0;
  int cooldown_counter_ = 0;
  int last_epoch_ = 0;
};

}  // namespace dispa
