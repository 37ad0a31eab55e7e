// Training checkpoints: everything a stopped training needs to continue and end with the same
// numbers as an uninterrupted run (same seed, same thread count), written so that a kill -9 or a
// full disk at any moment leaves at least one complete, verifiable checkpoint.
//
// Layout (one per fold, FOLD_DIR/):
//   checkpoint/        the latest checkpoint
//   checkpoint.prev/   the one before it, used when checkpoint/ fails verification
//   checkpoint.tmp/    a checkpoint being written (ignored when loading, replaced by the next save)
// Each folder holds model.safetensors (the model's state dict: parameters and BatchNorm running
// statistics), optimizer.safetensors (Adam moments and step count), best_model.safetensors (the
// best weights so far by validation RMSE) and trainer_state.json:
//   format "dispa checkpoint 2"; epoch (completed epochs); position {epoch, step, batch_size,
//   loss_sum, loss_count, seconds}: when step > 0 the checkpoint was taken inside epoch
//   position.epoch after `step` optimizer steps of `batch_size` pairs, with that epoch's loss
//   accumulators; best_epoch, best_val_rmse, epochs_without_improvement, learning_rate,
//   dropout_rng {seed, offset} (Philox), plateau {best, bad_epochs, cooldown, last_epoch}, history
//   (one record per completed epoch), files {name: {bytes, crc32}} and crc32 (CRC-32, 8 hex digits,
//   of this JSON's compact dump without the crc32 key). Infinite values are written as null.
// Saving: files go to checkpoint.tmp/ (each written atomically and fsync'ed), then checkpoint/
// becomes checkpoint.prev/ and checkpoint.tmp/ becomes checkpoint/. Loading verifies sizes and
// CRCs before touching the model; a failed checkpoint/ is reported (file and reason) and
// checkpoint.prev/ used instead.
// Position counts global steps of the global batch, and the state is the whole (replicated)
// model, so a data-parallel trainer can have rank 0 write it and resume with any rank count.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/generator.h"
#include "engine/optim/optimizer.h"
#include "engine/optim/schedule.h"
#include "model/dispa.h"
#include "train/trainer.h"

namespace dispa::train {

// The trainer's own progress (everything but model, optimizer, schedule and RNG).
struct TrainerState {
  int epoch = 0;                      // epochs completed
  int64_t step = 0;                   // optimizer steps done in epoch `epoch + 1` (0 = at a boundary)
  double loss_sum = 0;                // that epoch's loss accumulators (sum of loss x pairs, pairs)
  int64_t loss_count = 0;
  double epoch_seconds = 0;           // time spent in that epoch before the checkpoint
  int best_epoch = 0;
  double best_val_rmse = INFINITY;
  int epochs_without_improvement = 0;
  std::vector<EpochRecord> history;
};

// The live objects a checkpoint captures.
struct TrainingParts {
  Dispa& model;
  Adam& optimizer;
  ReduceLROnPlateau& plateau;
  Generator& dropout_rng;
  int64_t batch_size;
};

// Writes a checkpoint of `parts`, `state` and `best` (host tensors) as FOLD_DIR/checkpoint/.
// On failure (full disk, read-only folder) the previous checkpoint is left as it was and the error
// says so, naming the file and the OS error.
void save_checkpoint(const std::filesystem::path& fold_dir, const TrainingParts& parts, const TrainerState& state,
                     const std::map<std::string, Tensor>& best);

// Loads the newest checkpoint of FOLD_DIR that verifies into `parts`, `state` and `best`; returns
// the folder used, or nothing when FOLD_DIR has no checkpoint. Throws when checkpoints exist but
// none verifies (each named with its reason).
std::optional<std::filesystem::path> load_checkpoint(const std::filesystem::path& fold_dir, TrainingParts parts,
                                                     TrainerState& state, std::map<std::string, Tensor>& best);

// Why the checkpoint folder `dir` would be refused ("" when it verifies): missing or truncated
// files, CRC mismatches, malformed JSON. Reads the files; loads nothing.
std::string verify_checkpoint(const std::filesystem::path& dir);

// CRC-32 (zlib) of a file's bytes.
uint32_t file_crc32(const std::filesystem::path& file);

}  // namespace dispa::train
