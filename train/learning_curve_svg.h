// Learning curves as a standalone SVG (plain text, no plotting library): two panels side by side,
// left the per-epoch training and validation loss, right the validation RMSE with the best epoch
// marked (the one early stopping keeps). Missing values (NaN, e.g. no validation set) break a line
// instead of drawing it to zero. Axes use "nice" ticks (1, 2, 5 x 10^k).
#pragma once
#include <filesystem>
#include <span>
#include <string>

namespace dispa::train {

// One point per epoch (the trainer's EpochRecord carries these fields and more).
struct LearningCurvePoint {
  int epoch = 0;          // 1-based, as printed by the trainer
  double train_loss = 0;  // mean training loss (MSE) over the epoch
  double val_loss = 0;    // validation loss; NaN when there is none
  double val_rmse = 0;    // validation RMSE; NaN when there is none
};

struct LearningCurveOptions {
  std::string title = "learning curve";
  int width = 960;   // pixels, whole figure
  int height = 380;
};

// Throws when records is empty or epochs are not strictly increasing.
std::string learning_curve_svg(std::span<const LearningCurvePoint> records, const LearningCurveOptions& options = {});
void write_learning_curve_svg(const std::filesystem::path& file, std::span<const LearningCurvePoint> records,
                              const LearningCurveOptions& options = {});

}  // namespace dispa::train
