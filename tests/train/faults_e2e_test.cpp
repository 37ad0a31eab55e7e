// The dispa binary under faults (label faults, e2e), on gdsc2-mini with a tiny model (fold 0 of 3,
// 3 epochs of 9 steps; a run takes well under a second): kill -9 during an epoch, during
// evaluation and during a checkpoint write, Ctrl-C and SIGTERM, a second signal, two processes on
// one run folder, a corrupted checkpoint, a full and a read-only disk. After each, `--resume`
// must end with metrics.json and predictions.tsv byte-identical to an uninterrupted run with the
// same seed and thread count. Faults are placed exactly with the DISPA_FAULT hook
// (engine/fault_injection.h), not with timers.
#include <doctest/doctest.h>

#include <filesystem>

#include "tests/support/shared_data.h"
#include "tests/train/fault_support.h"
#include "train/checkpoint.h"

namespace fs = std::filesystem;
using dispa::test::DispaProcess;
using dispa::test::read_text;

namespace {

const fs::path& work_dir() {
  static const fs::path dir = [] {
    const fs::path d = fs::path(DISPA_BINARY_DIR) / "test_tmp" / "faults_e2e";
    dispa::test::Tmpfs::unmount_stale(d / "small_disk");
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
  }();
  return dir;
}

std::string tool() {
  const char* env = std::getenv("DISPA_TEST_BINARY");  // to run these tests against another build
  return env && *env ? env : DISPA_TOOL;
}

std::vector<std::string> train_args(const fs::path& data, const fs::path& out, int epochs, int seed = 0) {
  return {"train", "--data", data.string(), "--gmt", (data / "pathways_kegg34.gmt").string(), "--folds", "3",
          "--fold", "0", "--epochs", std::to_string(epochs), "--seed", std::to_string(seed), "--batch-size", "32",
          "--embed-dim", "16", "--ffn-hidden", "32", "--attn-dim", "16", "--heads", "2", "--head-dims", "16", "8",
          "--fingerprint-bits", "128", "--no-ridge", "--quiet", "--out", out.string()};
}
std::vector<std::string> resume_args(const fs::path& out) { return {"train", "--resume", "--quiet", "--out", out.string()}; }

// Runs dispa to the end; returns the exit code (-signal when killed), stderr in *err.
int run(const std::vector<std::string>& args, const std::string& fault = "", std::string* err = nullptr) {
  static int n = 0;
  std::map<std::string, std::string> env = {{"OMP_NUM_THREADS", "1"}};
  if (!fault.empty()) env["DISPA_FAULT"] = fault;
  DispaProcess p(tool(), args, env, work_dir() / fmt::format("stderr_{}.txt", n++));
  const int status = p.wait();
  if (err) *err = p.err();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

DispaProcess start(const std::vector<std::string>& args, const std::string& fault) {
  static int n = 0;
  return DispaProcess(tool(), args, {{"OMP_NUM_THREADS", "1"}, {"DISPA_FAULT", fault}},
                      work_dir() / fmt::format("stderr_bg_{}.txt", n++));
}

// The uninterrupted reference run with `epochs` epochs (trained once per epochs value).
const fs::path& reference(const fs::path& data, int epochs) {
  static std::map<int, fs::path> runs;
  if (!runs.count(epochs)) {
    const fs::path out = work_dir() / fmt::format("reference_{}", epochs);
    std::string err;
    REQUIRE_MESSAGE(run(train_args(data, out, epochs), "", &err) == 0, err);
    runs[epochs] = out;
  }
  return runs.at(epochs);
}

// The resumed run ended exactly where the uninterrupted one did.
void check_same_result(const fs::path& run_dir, const fs::path& ref) {
  CHECK(read_text(run_dir / "metrics.json") == read_text(ref / "metrics.json"));
  CHECK(read_text(run_dir / "fold_0" / "metrics.json") == read_text(ref / "fold_0" / "metrics.json"));
  CHECK(read_text(run_dir / "fold_0" / "predictions.tsv") == read_text(ref / "fold_0" / "predictions.tsv"));
  CHECK(read_text(run_dir / "fold_0" / "model.safetensors") == read_text(ref / "fold_0" / "model.safetensors"));
  CHECK(!fs::exists(run_dir / "lock"));
  CHECK(dispa::test::leftover_temporaries(run_dir).empty());
}

// Kills the training with `fault`, checks it died by SIGKILL, resumes and compares.
void kill_and_resume(const std::string& name, const std::string& fault) {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  const fs::path out = work_dir() / name;
  CHECK(run(train_args(data, out, 3), fault) == -SIGKILL);
  std::string err;
  REQUIRE_MESSAGE(run(resume_args(out), "", &err) == 0, err);
  check_same_result(out, reference(data, 3));
}

}  // namespace

TEST_CASE("faults: same seed and thread count give byte-identical results; another seed does not") {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  const fs::path again = work_dir() / "again", other = work_dir() / "other_seed";
  REQUIRE(run(train_args(data, again, 3)) == 0);
  check_same_result(again, reference(data, 3));
  REQUIRE(run(train_args(data, other, 3, 1)) == 0);
  CHECK(read_text(other / "metrics.json") != read_text(again / "metrics.json"));
}

TEST_CASE("faults: kill -9 during an epoch, then --resume ends as if never killed") {
  kill_and_resume("kill_epoch", "kill@train-step#14");  // epoch 2, step 5 of 9
}

TEST_CASE("faults: kill -9 during evaluation, then --resume ends as if never killed") {
  kill_and_resume("kill_eval", "kill@eval-batch#2");  // validation after epoch 2
}

TEST_CASE("faults: kill -9 while a checkpoint is written or published, then --resume ends as if never killed") {
  kill_and_resume("kill_checkpoint_write", "kill@checkpoint-file#6");  // epoch 2's optimizer file written
  kill_and_resume("kill_checkpoint_swap", "kill@checkpoint-swap#2");   // epoch 2's: old moved aside, new not in place
}

TEST_CASE("faults: Ctrl-C saves a mid-epoch checkpoint, prints the resume command and exits 130") {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  const fs::path out = work_dir() / "sigint";
  DispaProcess p = start(train_args(data, out, 3), "stop@train-step#13");  // epoch 2, step 4 of 9
  REQUIRE(p.wait_stopped());
  p.signal(SIGINT);  // as the terminal's Ctrl-C, delivered when the process continues
  p.signal(SIGCONT);
  CHECK(p.exit_code() == 130);
  CHECK(p.err() == fmt::format("interrupted by SIGINT in epoch 2 after step 4 of 9; checkpoint saved in {}; resume "
                               "with: OMP_NUM_THREADS=1 dispa train --resume --out '{}'\n",
                               (out / "fold_0" / "checkpoint").string(), out.string()));
  CHECK(read_text(out / "fold_0" / "checkpoint" / "trainer_state.json").find("\"step\": 4") != std::string::npos);
  CHECK(!fs::exists(out / "lock"));
  std::string err;
  REQUIRE_MESSAGE(run(resume_args(out), "", &err) == 0, err);
  check_same_result(out, reference(data, 3));
}

TEST_CASE("faults: SIGTERM exits 143 after a checkpoint; a second signal exits at once") {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  const fs::path out = work_dir() / "sigterm";
  std::string err;
  CHECK(run(train_args(data, out, 3), "term@train-step#22", &err) == 143);  // epoch 3, step 4
  CHECK(err.starts_with("interrupted by SIGTERM in epoch 3 after step 4 of 9; checkpoint saved in "));
  const std::string saved = read_text(out / "fold_0" / "checkpoint" / "trainer_state.json");

  // Interrupted again: the resumed process gets two signals; it ends by the signal, saving nothing.
  DispaProcess p = start(resume_args(out), "stop@train-step#3");
  REQUIRE(p.wait_stopped());
  p.signal(SIGINT);
  p.signal(SIGTERM);
  p.signal(SIGCONT);
  const int sig = p.killed_by();
  CHECK((sig == SIGINT || sig == SIGTERM));
  CHECK(p.err().find("interrupted again: exiting now") != std::string::npos);
  CHECK(read_text(out / "fold_0" / "checkpoint" / "trainer_state.json") == saved);
  REQUIRE_MESSAGE(run(resume_args(out), "", &err) == 0, err);  // the stale lock is taken over
  CHECK(err.find("taking over the lock") != std::string::npos);
  check_same_result(out, reference(data, 3));
}

TEST_CASE("faults: two trainings on one folder: the second is refused; a dead owner's lock is taken over") {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  const fs::path out = work_dir() / "two_writers";
  DispaProcess first = start(train_args(data, out, 3), "stop@train-step#3");
  REQUIRE(first.wait_stopped());
  std::string err;
  CHECK(run(resume_args(out), "", &err) == 1);
  CHECK(err.find(fmt::format("is being written by another dispa train (pid {} on host", first.pid())) !=
        std::string::npos);
  CHECK(run(train_args(data, out, 3), "", &err) == 1);  // also without --resume
  first.signal(SIGKILL);
  CHECK(first.killed_by() == SIGKILL);
  REQUIRE_MESSAGE(run(resume_args(out), "", &err) == 0, err);
  CHECK(err.find(fmt::format("taking over the lock {} left by pid {}", (out / "lock").string(), first.pid())) !=
        std::string::npos);
  check_same_result(out, reference(data, 3));
}

TEST_CASE("faults: an existing run is refused without --resume or --overwrite; a finished run resumes to itself") {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  const fs::path out = work_dir() / "existing";
  CHECK(run(train_args(data, out, 3), "kill@train-step#12") == -SIGKILL);
  const std::string checkpoint = read_text(out / "fold_0" / "checkpoint" / "trainer_state.json");
  std::string err;
  CHECK(run(train_args(data, out, 3), "", &err) == 1);
  CHECK(err.find("holds an unfinished run (killed or interrupted): pass --resume") != std::string::npos);
  CHECK(read_text(out / "fold_0" / "checkpoint" / "trainer_state.json") == checkpoint);  // not discarded
  REQUIRE_MESSAGE(run(resume_args(out), "", &err) == 0, err);
  CHECK(run(train_args(data, out, 3), "", &err) == 1);
  CHECK(err.find("holds a finished run: pass --overwrite") != std::string::npos);
  CHECK(run(resume_args(out), "", &err) == 0);
  CHECK(err.empty());  // --quiet: "is finished" is information only
  std::vector<std::string> conflicting = resume_args(out);
  conflicting.insert(conflicting.end(), {"--seed", "1", "--embed-dim", "32"});
  CHECK(run(conflicting, "", &err) == 1);
  CHECK(err == "error: run was trained with --embed-dim 16, --seed 0; this command asks for --embed-dim 32, --seed 1 "
               "(on --resume only --epochs (to extend the run) and --device may change; use another --out, or "
               "--overwrite, to train a different run)\n");
  std::vector<std::string> overwrite = train_args(data, out, 3);
  overwrite.push_back("--overwrite");
  CHECK(run(overwrite, "", &err) == 0);
  CHECK(err.find("warning: --overwrite: removed the earlier run") != std::string::npos);
  check_same_result(out, reference(data, 3));
}

TEST_CASE("faults: a corrupted checkpoint is named and the previous one used; --resume still ends the same") {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  const fs::path out = work_dir() / "corrupt";
  CHECK(run(train_args(data, out, 3), "kill@train-step#23") == -SIGKILL);  // in epoch 3: checkpoints 2 and 1
  const fs::path model = out / "fold_0" / "checkpoint" / "model.safetensors";
  std::string bytes = read_text(model);
  bytes[bytes.size() - 5] = char(bytes[bytes.size() - 5] ^ 1);
  dispa::test::write_text(model, bytes);
  std::string err;
  REQUIRE_MESSAGE(run(resume_args(out), "", &err) == 0, err);
  CHECK(err.find(fmt::format("warning: {}: CRC-32 mismatch (the file is corrupted); resuming from the previous "
                             "checkpoint {} instead (epoch 1)",
                             model.string(), (out / "fold_0" / "checkpoint.prev").string())) != std::string::npos);
  check_same_result(out, reference(data, 3));
}

TEST_CASE("faults: a full disk fails with the file and the OS error, keeps the last checkpoint; so does a read-only one") {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return;
  dispa::test::Tmpfs disk(work_dir() / "small_disk", "3m");
  if (!disk.ok()) {
    MESSAGE("skipping: " << disk.why());
    return;
  }
  const fs::path out = work_dir() / "small_disk" / "run", filler = work_dir() / "small_disk" / "filler";
  REQUIRE(run(train_args(data, out, 1)) == 0);
  const fs::path state = out / "fold_0" / "checkpoint" / "trainer_state.json";
  std::vector<std::string> extend = resume_args(out);
  extend.insert(extend.end(), {"--epochs", "2"});
  // The disk fills up while the process is stopped at a named point; then it continues.
  auto fill_at = [&](const std::vector<std::string>& args, const std::string& point, const std::string& expect) {
    CAPTURE(point);
    DispaProcess p = start(args, "stop@" + point);
    REQUIRE(p.wait_stopped());
    disk.fill(filler);
    p.signal(SIGCONT);
    CHECK(p.exit_code() == 1);
    const std::string err = p.err();
    CHECK_MESSAGE(err.find(expect) != std::string::npos, err);
    CHECK_MESSAGE(err.find("No space left on device") != std::string::npos, err);
    CHECK(dispa::test::leftover_temporaries(out).empty());
    CHECK(dispa::train::verify_checkpoint(out / "fold_0" / "checkpoint") == "");
    fs::remove(filler);
  };
  fill_at(extend, "train-step#1", "error: checkpoint after epoch 2 not saved (" +
                                      (out / "fold_0" / "checkpoint").string() + " keeps the previous one): cannot write '");
  CHECK(read_text(state).find("\"epoch\": 1,") != std::string::npos);
  fill_at(resume_args(out), "fold-trained#1", "error: cannot write '" + (out / "fold_0" / "model.safetensors").string());
  fill_at(resume_args(out), "run-end#1", "error: cannot write '" + (out / "metrics.json").string());
  std::string err;
  REQUIRE_MESSAGE(run(resume_args(out), "", &err) == 0, err);
  check_same_result(out, reference(data, 2));

  REQUIRE(disk.set_read_only(true));
  CHECK(run(extend, "", &err) == 1);
  CHECK(err == fmt::format("error: cannot lock the run folder {}: cannot create {}: Read-only file system\n",
                           out.string(), (out / "lock").string()));
  disk.set_read_only(false);
}
