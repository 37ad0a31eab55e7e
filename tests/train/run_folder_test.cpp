// The run folder (train/run_folder.h) and dispa train's refusals as library calls: the lock, what
// a folder holds, --overwrite, --resume with recorded options (conflicts listed by flag in one
// message), and the checks made before any work (--epochs 0, --fold out of range).
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>

#include "engine/fault_injection.h"
#include "engine/log.h"
#include "tests/support/error_of.h"
#include "tests/support/shared_data.h"
#include "tests/train/fault_support.h"
#include "tests/train/temp_dir.h"
#include "tests/train/tiny_run.h"
#include "train/run_folder.h"

using namespace dispa;
using namespace dispa::train;
namespace fs = std::filesystem;

namespace {

std::string host() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

// A 3-fold split of gdsc2-mini, fold 0 only, a tiny model: a run takes well under a second.
TrainRunOptions tiny_run(const fs::path& data, const fs::path& out) {
  TrainRunOptions o;
  o.data.data_dir = data;
  o.data.gmt = data / "pathways_kegg34.gmt";
  o.data.drugs.fingerprint = {2, 128};
  o.folds = 3;
  o.fold = 0;
  o.trainer.epochs = 2;
  o.trainer.batch_size = 32;
  test::use_tiny_model(o);
  o.out_dir = out;
  return o;
}

// Runs f with the log going to a file; returns what was logged.
template <typename F>
std::string logged(const fs::path& file, F f) {
  logging::set_log_file(file.string());
  f();
  logging::set_log_file("");
  return test::read_text(file);
}

}  // namespace

TEST_CASE("run lock: a second writer is refused naming the holder; the lock file goes with the holder") {
  test::TempDir tmp("run_lock");
  {
    RunLock first(tmp.path());
    CHECK(test::read_text(tmp.path() / "lock") == fmt::format("{} {}\n", ::getpid(), host()));
    const std::string err = test::error_of([&] { RunLock second(tmp.path()); });
    CHECK(err == fmt::format("{} is being written by another dispa train (pid {} on host {}); wait for it to end or "
                             "stop it (lock file {})",
                             tmp.path().string(), ::getpid(), host(), (tmp.path() / "lock").string()));
  }
  CHECK(!fs::exists(tmp.path() / "lock"));
  RunLock again(tmp.path());
}

TEST_CASE("run lock: a lock left by a dead process is taken over with a warning") {
  test::TempDir tmp("run_lock_stale");
  test::write_text(tmp.path() / "lock", "4000000 gone-host\n");  // no process holds it
  const std::string log = logged(tmp.path() / "log.txt", [&] { RunLock lock(tmp.path()); });
  CHECK(log.find(fmt::format("warning: taking over the lock {} left by pid 4000000 on host gone-host (that process "
                             "is gone)",
                             (tmp.path() / "lock").string())) != std::string::npos);
}

TEST_CASE("run folder: what a folder holds, and --overwrite removes only run files") {
  test::TempDir tmp("run_state");
  CHECK(inspect_run(tmp.path()).state == RunState::empty);
  test::write_text(tmp.path() / "notes.txt", "mine");
  CHECK(inspect_run(tmp.path()).state == RunState::empty);
  fs::create_directories(tmp.path() / "fold_0" / "checkpoint");
  CHECK(inspect_run(tmp.path()).state == RunState::unfinished);  // an older dispa's run, killed
  test::write_text(tmp.path() / "metrics.json", "{}");
  CHECK(inspect_run(tmp.path()).state == RunState::finished);
  CHECK(!inspect_run(tmp.path()).record);
  TrainRunOptions o;
  write_run_record(tmp.path(), o, RunState::unfinished);
  RunStatus status = inspect_run(tmp.path());
  CHECK(status.state == RunState::unfinished);  // the record wins over metrics.json
  REQUIRE(status.record);
  CHECK(*status.record == options_record(o));
  write_run_record(tmp.path(), o, RunState::finished);
  CHECK(inspect_run(tmp.path()).state == RunState::finished);
  clear_run(tmp.path());
  CHECK(inspect_run(tmp.path()).state == RunState::empty);
  CHECK(!fs::exists(tmp.path() / "fold_0"));
  CHECK(test::read_text(tmp.path() / "notes.txt") == "mine");

  // What a kill -9 in the middle of a write leaves; a resumed run removes it.
  fs::create_directories(tmp.path() / "fold_1" / "checkpoint.tmp");
  test::write_text(tmp.path() / "fold_1" / "checkpoint.tmp" / "model.safetensors", "half");
  test::write_text(tmp.path() / "fold_1" / "predictions.tsv.tmp.Ab3xYz", "half");
  test::write_text(tmp.path() / "notes.tmp.txt", "mine");
  remove_stale_temporaries(tmp.path());
  CHECK(!fs::exists(tmp.path() / "fold_1" / "checkpoint.tmp"));
  CHECK(!fs::exists(tmp.path() / "fold_1" / "predictions.tsv.tmp.Ab3xYz"));
  CHECK(fs::exists(tmp.path() / "notes.tmp.txt"));
}

TEST_CASE("resume_options: one message lists every conflict by flag; --epochs may grow and --device change") {
  TrainRunOptions recorded;
  recorded.model.embed_dim = 64;
  recorded.trainer.epochs = 5;
  const nlohmann::json record = options_record(recorded);

  TrainRunOptions asked = recorded;
  asked.trainer.seed = 1;
  asked.model.embed_dim = 32;
  asked.trainer.learning_rate = 0.5;  // differs, but not given on the command line: the record's is kept
  asked.given_flags = std::set<std::string>{"--seed", "--embed-dim", "--out", "--resume"};
  CHECK(test::error_of([&] { resume_options(record, asked); }) ==
        "run was trained with --embed-dim 64, --seed 0; this command asks for --embed-dim 32, --seed 1 (on --resume "
        "only --epochs (to extend the run) and --device may change; use another --out, or --overwrite, to train a "
        "different run)");

  asked.given_flags = std::set<std::string>{"--out", "--resume"};  // `dispa train --resume --out RUN`
  TrainRunOptions resumed = resume_options(record, asked);
  CHECK(resumed.trainer.seed == 0);
  CHECK(resumed.model.embed_dim == 64);
  CHECK(resumed.trainer.learning_rate == recorded.trainer.learning_rate);
  CHECK(resumed.trainer.epochs == 5);

  asked = recorded;
  asked.trainer.epochs = 8;
  asked.device = Device::cuda(1);
  asked.given_flags = std::set<std::string>{"--epochs", "--device"};
  resumed = resume_options(record, asked);
  CHECK(resumed.trainer.epochs == 8);
  CHECK(resumed.device == Device::cuda(1));
  asked.trainer.epochs = 4;
  CHECK(test::error_of([&] { resume_options(record, asked); }).starts_with(
      "run was trained with --epochs 5; this command asks for --epochs 4"));

  asked = recorded;  // library callers: the whole struct is meant, every run-defining option compared
  asked.given_flags.reset();
  asked.data.drugs.descriptors = false;
  asked.split = "drug-blind";
  CHECK(test::error_of([&] { resume_options(record, asked); })
            .starts_with("run was trained with data/descriptors true, --split random; this command asks for "
                         "data/descriptors false, --split drug-blind"));
}

TEST_CASE("train run: options that cannot train are refused before the folder changes") {
  const fs::path data = test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  test::TempDir tmp("run_validation");
  TrainRunOptions o = tiny_run(data, tmp.path() / "run");
  o.trainer.epochs = 0;
  CHECK(test::error_of([&] { run_training(o); }) ==
        "train: --epochs must be at least 1, got 0 (an untrained model is not DiSPA)");
  o.trainer.epochs = 1;
  o.fold = -1;
  CHECK(test::error_of([&] { run_training(o); }) ==
        "train: --fold -1 is outside [0, 3); leave --fold out to train every fold");
  o.fold = 3;
  CHECK(test::error_of([&] { run_training(o); }).starts_with("train: --fold 3 is outside [0, 3)"));
  o.fold = 0;
  o.resume = o.overwrite = true;
  CHECK(test::error_of([&] { run_training(o); }) == "train: --resume and --overwrite contradict each other");
  CHECK(inspect_run(o.out_dir).state == RunState::empty);
  test::write_text(tmp.path() / "file", "");
  o.out_dir = tmp.path() / "file";
  o.resume = o.overwrite = false;
  CHECK(test::error_of([&] { run_training(o); }).ends_with("is a file; give a folder"));
}

TEST_CASE("train run: an existing run is kept unless --overwrite; --resume reuses its options and split") {
  const fs::path data = test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  logging::set_quiet(true);
  test::TempDir tmp("run_reuse");
  const fs::path run = tmp.path() / "run";
  TrainRunOptions o = tiny_run(data, run);
  o.trainer.seed = 3;
  // A run killed in epoch 2 (after 9 + 3 steps of 32 pairs): checkpoint of epoch 1 on disk.
  set_fault_spec("fail@train-step#12");
  CHECK(test::error_of([&] { run_training(o); }) == "injected fault at train-step");
  set_fault_spec("");
  const std::string split = test::read_text(run / "split.tsv");
  const std::string checkpoint = test::read_text(run / "fold_0/checkpoint/trainer_state.json");
  REQUIRE(!checkpoint.empty());

  // Rerunning without --resume would discard the checkpoint: refused.
  CHECK(test::error_of([&] { run_training(o); }) ==
        fmt::format("{} holds an unfinished run (killed or interrupted): pass --resume to continue it, or "
                    "--overwrite to discard it and start again",
                    run.string()));
  // Resuming with another seed would test on pairs the checkpoint trained on: refused, split kept.
  TrainRunOptions other = o;
  other.resume = true;
  other.trainer.seed = 4;
  CHECK(test::error_of([&] { run_training(other); })
            .starts_with("run was trained with --seed 3; this command asks for --seed 4"));
  CHECK(test::read_text(run / "split.tsv") == split);
  CHECK(test::read_text(run / "fold_0/checkpoint/trainer_state.json") == checkpoint);

  // `dispa train --resume --out RUN`: everything else comes from the record.
  TrainRunOptions resume;
  resume.out_dir = run;
  resume.resume = true;
  resume.given_flags = std::set<std::string>{"--resume", "--out"};
  const nlohmann::json resumed = run_training(resume);
  CHECK(test::read_text(run / "split.tsv") == split);
  CHECK(inspect_run(run).state == RunState::finished);
  CHECK(resumed.at("folds").at(0).at("epochs") == 2);

  // Finished: --resume has nothing to do and returns the metrics; a new run needs --overwrite.
  CHECK(run_training(resume) == resumed);
  CHECK(test::error_of([&] { run_training(o); }) ==
        fmt::format("{} holds a finished run: pass --overwrite to replace it, or choose another --out", run.string()));
  o.overwrite = true;
  o.trainer.seed = 0;
  const std::string log = logged(tmp.path() / "log.txt", [&] { run_training(o); });
  CHECK(log.find(fmt::format("warning: --overwrite: removed the earlier run in {}", run.string())) != std::string::npos);
  CHECK(test::read_text(run / "split.tsv") != split);  // seed 0's split
  logging::set_quiet(false);
}
