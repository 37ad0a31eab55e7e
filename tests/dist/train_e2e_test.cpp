// `dispa train --dist mpi` end to end: real mpirun jobs of the dispa binary on gdsc2-mini with the
// tiny configuration of docs/RELIABILITY.md (3 epochs of 9 steps at batch 32, one fold), dropout
// off (masks are drawn per computed row, so ranks cannot reproduce one process's masks).
//
// Tolerance for "N ranks = one process" (kMetricTolerance, absolute, on test RMSE, Pearson and the
// best validation RMSE): with --sync-batchnorm the ranks compute one process's gradients up to the
// order of the sums (tests/dist/ranks_test.cpp: 1e-5 relative per step); 27 Adam steps carry that
// into the metrics as differences of at most 3.3e-5 (RMSE), 1.3e-4 (Pearson) and 2.1e-5 (best
// validation RMSE) measured with 1, 2 and 4 ranks. 1e-3 leaves 7x headroom, and still fails real mistakes: per-rank BatchNorm instead
// of synchronised moves Pearson by 0.011, --lr 2e-4 by 0.12, another seed by 0.13.
// A resumed run with the same number of ranks repeats the same sums in the same order, so its
// metrics must be bitwise those of the uninterrupted run; resumed with another world size they
// agree within kMetricTolerance.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/dist/mpirun_job.h"
#include "tests/support/shared_data.h"

namespace fs = std::filesystem;
using dispa::test::JobOutcome;

namespace {

constexpr double kMetricTolerance = 1e-3;

fs::path scratch() { return fs::path(DISPA_BINARY_DIR) / "test_tmp" / "dist_train_e2e"; }

// The tiny run's flags (without --out, --batch-size and the parallel flags), or "" to skip.
std::string tiny_args() {
  const fs::path data = dispa::test::shared_path_or_skip("data/gdsc2-mini");
  if (data.empty()) return "";
  return fmt::format("train --data '{}' --gmt '{}' --folds 3 --fold 0 --epochs 3 --embed-dim 16 --ffn-hidden 32 "
                     "--attn-dim 16 --heads 2 --head-dims 16 8 --fingerprint-bits 128 --no-ridge --ffn-dropout 0 "
                     "--head-dropout 0 --quiet",
                     data.string(), (data / "pathways_kegg34.gmt").string());
}

nlohmann::json metrics_of(const fs::path& run) {
  return nlohmann::json::parse(dispa::test::read_file_text(run / "metrics.json"));
}

// Runs (once per test program) `ranks` ranks of the tiny run with `extra` flags into a fresh
// folder; ranks 0 means the plain binary without mpirun and --dist. Returns the run folder.
fs::path tiny_run(int ranks, const std::string& extra) {
  static std::map<std::string, fs::path> done;
  const std::string key = fmt::format("{} {}", ranks, extra);
  if (done.count(key)) return done.at(key);
  const fs::path run = scratch() / fmt::format("run_{}", done.size());
  fs::remove_all(run);
  const std::string args = fmt::format("{} {} --out '{}'", tiny_args(), extra, run.string());
  const JobOutcome o = ranks == 0 ? dispa::test::run_command(scratch(), "", fmt::format("'{}' {}", DISPA_TOOL, args))
                                  : dispa::test::run_job(scratch(), "DISPA_DIST_TIMEOUT_S=30", ranks,
                                                         args + " --dist mpi");
  REQUIRE_MESSAGE(o.status == 0, key << ":\n" << o.err);
  done[key] = run;
  return run;
}

void check_close(const fs::path& got_run, const fs::path& want_run, double tolerance) {
  const nlohmann::json got = metrics_of(got_run), want = metrics_of(want_run);
  for (const char* key : {"rmse", "pearson", "spearman"}) {
    CAPTURE(key);
    // Spearman is a rank statistic: two close predictions that swap move it by a step (4.6e-4
    // measured on 2 ranks), so it is compared only where the runs must be bitwise equal.
    if (std::string(key) == "spearman" && tolerance > 0) continue;
    CHECK(std::abs(got.at(key).get<double>() - want.at(key).get<double>()) <= tolerance);
  }
  const double got_val = got.at("folds").at(0).at("best_val_rmse"), want_val = want.at("folds").at(0).at("best_val_rmse");
  CHECK(std::abs(got_val - want_val) <= tolerance);
  CHECK(got.at("folds").at(0).at("epochs") == want.at("folds").at(0).at("epochs"));
}

}  // namespace

TEST_CASE("train --dist mpi --sync-batchnorm on 2 and 4 ranks gives the one-process metrics") {
  if (tiny_args().empty()) return;
  const fs::path one = tiny_run(0, "--batch-size 32");
  for (int ranks : {2, 4}) {
    CAPTURE(ranks);
    check_close(tiny_run(ranks, "--batch-size 32 --sync-batchnorm"), one, kMetricTolerance);
  }
  // The tolerance can see the difference synchronised BatchNorm makes.
  const nlohmann::json per_rank = metrics_of(tiny_run(2, "--batch-size 32"));
  CHECK(std::abs(per_rank.at("pearson").get<double>() - metrics_of(one).at("pearson").get<double>()) >
        kMetricTolerance);
}

TEST_CASE("--accum 2 on 2 ranks equals --accum 2 in one process; the run record keeps accum and sync BN") {
  // Accumulation itself (K batches of B = one batch of K*B) is exact only without BatchNorm, whose
  // statistics are per micro-batch: ranks_test.cpp checks it on a BatchNorm-free DiSPA (1e-5).
  if (tiny_args().empty()) return;
  const fs::path one = tiny_run(0, "--batch-size 16 --accum 2");
  const fs::path two = tiny_run(2, "--batch-size 16 --accum 2 --sync-batchnorm");
  check_close(two, one, kMetricTolerance);
  const nlohmann::json record = nlohmann::json::parse(dispa::test::read_file_text(two / "run_options.json"));
  CHECK(record.at("options").at("trainer").at("accum") == 2);
  CHECK(record.at("options").at("trainer").at("sync_batchnorm") == true);
  CHECK_FALSE(record.dump().find("world") != std::string::npos);  // the number of ranks is not recorded
}

TEST_CASE("only rank 0 writes: a rank started in another working directory leaves nothing there") {
  if (tiny_args().empty()) return;
  const fs::path dir0 = scratch() / "writer_rank0", dir1 = scratch() / "writer_rank1";
  fs::remove_all(dir0);
  fs::remove_all(dir1);
  fs::create_directories(dir0);
  fs::create_directories(dir1);
  // --out is relative: each rank would resolve it in its own working directory.
  const std::string app = fmt::format("'{}' {} --batch-size 32 --dist mpi --out run", DISPA_TOOL, tiny_args());
  const JobOutcome o = dispa::test::run_command(
      scratch(), "DISPA_DIST_TIMEOUT_S=30",
      fmt::format("{} -np 1 -wdir '{}' {} : -np 1 -wdir '{}' {}", dispa::test::mpirun_prefix(), dir0.string(), app,
                  dir1.string(), app));
  REQUIRE_MESSAGE(o.status == 0, o.err);
  CHECK(fs::exists(dir0 / "run" / "metrics.json"));
  CHECK(fs::exists(dir0 / "run" / "fold_0" / "checkpoint" / "trainer_state.json"));
  CHECK(fs::exists(dir0 / "run" / "fold_0" / "predictions.tsv"));
  CHECK(fs::is_empty(dir1));
  // and it is the same training as the ranks in one folder
  check_close(dir0 / "run", tiny_run(2, "--batch-size 32"), 0.0);
}

TEST_CASE("a rank killed mid-epoch ends the job naming it; --resume on 2 ranks or 1 process finishes the run") {
  if (tiny_args().empty()) return;
  const fs::path killed = scratch() / "killed";
  fs::remove_all(killed);
  const std::string args = fmt::format("{} --batch-size 32 --sync-batchnorm --dist mpi --out '{}'", tiny_args(),
                                       killed.string());
  // Step 14 of 27: the middle of epoch 2, after epoch 1's checkpoint.
  const JobOutcome o = dispa::test::run_job(
      scratch(), "DISPA_DIST_TIMEOUT_S=20 DISPA_FAULT=kill@train-step#14 DISPA_FAULT_RANK=1", 2, args);
  CHECK(o.status != 0);
  CHECK_MESSAGE(o.status != 124, "the job did not end by itself:\n" << o.err);
  CHECK_MESSAGE(o.err.find("process rank 1") != std::string::npos, o.err);
  REQUIRE(fs::exists(killed / "fold_0" / "checkpoint" / "trainer_state.json"));
  CHECK_FALSE(fs::exists(killed / "metrics.json"));
  const fs::path killed_copy = scratch() / "killed_copy";
  fs::remove_all(killed_copy);
  fs::copy(killed, killed_copy, fs::copy_options::recursive);

  const fs::path uninterrupted = tiny_run(2, "--batch-size 32 --sync-batchnorm");
  const JobOutcome resumed = dispa::test::run_job(scratch(), "DISPA_DIST_TIMEOUT_S=30", 2,
                                                  fmt::format("train --resume --dist mpi --quiet --out '{}'", killed.string()));
  REQUIRE_MESSAGE(resumed.status == 0, resumed.err);
  check_close(killed, uninterrupted, 0.0);  // same ranks, same sums: bitwise

  const JobOutcome alone = dispa::test::run_command(
      scratch(), "", fmt::format("'{}' train --resume --quiet --out '{}'", DISPA_TOOL, killed_copy.string()));
  REQUIRE_MESSAGE(alone.status == 0, alone.err);
  check_close(killed_copy, uninterrupted, kMetricTolerance);
}

TEST_CASE("a rank that hangs mid-training: the watchdog ends the job with status 75, naming the rank") {
  if (tiny_args().empty()) return;
  const fs::path run = scratch() / "hung";
  fs::remove_all(run);
  // Collective #250 falls in epoch 1's steps (about 200 start-up collectives, 3 per step). 5 s,
  // not less: rank 1 waits in a collective while rank 0 prepares the data and writes the split.
  const JobOutcome o = dispa::test::run_job(
      scratch(), "DISPA_DIST_TIMEOUT_S=5 DISPA_DIST_TEST_HANG=1:250", 2,
      fmt::format("{} --batch-size 32 --dist mpi --out '{}'", tiny_args(), run.string()));
  CHECK_MESSAGE(o.status == 75, o.err);
  CHECK(o.err.find("DISPA_DIST_TEST_HANG: hanging before collective #250") != std::string::npos);
  CHECK(o.err.find("has not completed after") != std::string::npos);
  CHECK(o.err.find("  rank 1 is not in a collective (last finished #249 ") != std::string::npos);
}

TEST_CASE("SIGINT on one rank stops every rank after the same step; --resume finishes bitwise") {
  if (tiny_args().empty()) return;
  const fs::path run = scratch() / "interrupted";
  fs::remove_all(run);
  const JobOutcome o = dispa::test::run_job(
      scratch(), "DISPA_DIST_TIMEOUT_S=20 DISPA_FAULT=int@train-step#5 DISPA_FAULT_RANK=1", 2,
      fmt::format("{} --batch-size 32 --sync-batchnorm --dist mpi --out '{}'", tiny_args(), run.string()));
  CHECK(o.status == 130);
  CHECK_MESSAGE(o.err.find("interrupted by SIGINT in epoch 1 after step 6 of 9; checkpoint saved in") !=
                    std::string::npos,
                o.err);
  CHECK(o.err.find("resume with: mpirun -np 2 -x OMP_NUM_THREADS=1 dispa train --resume --dist mpi --out") !=
        std::string::npos);
  const JobOutcome resumed = dispa::test::run_job(scratch(), "DISPA_DIST_TIMEOUT_S=30", 2,
                                                  fmt::format("train --resume --dist mpi --quiet --out '{}'", run.string()));
  REQUIRE_MESSAGE(resumed.status == 0, resumed.err);
  check_close(run, tiny_run(2, "--batch-size 32 --sync-batchnorm"), 0.0);
}

TEST_CASE("a rank started with another configuration fails at start-up, naming the difference") {
  if (tiny_args().empty()) return;
  const fs::path run = scratch() / "mismatch";
  fs::remove_all(run);
  const std::string app = fmt::format("'{}' {} --batch-size 32 --dist mpi --out '{}'", DISPA_TOOL, tiny_args(),
                                      run.string());
  const JobOutcome o = dispa::test::run_command(
      scratch(), "DISPA_DIST_TIMEOUT_S=20",
      fmt::format("{} -np 1 {} : -np 1 {} --lr 0.001", dispa::test::mpirun_prefix(), app, app));
  CHECK(o.status == 1);
  CHECK_MESSAGE(o.err.find("error: start-up check: the dispa train command line differs between ranks: rank 1 has "
                           "'/trainer/learning_rate' = '0.001' where rank 0 has '0.0001'") != std::string::npos,
                o.err);
  CHECK_FALSE(fs::exists(run));  // checked before rank 0 touched the folder
}

TEST_CASE("--parallel-folds 2 trains each fold exactly as one fold at a time") {
  if (tiny_args().empty()) return;
  std::string args = tiny_args();
  args.replace(args.find("--fold 0 --epochs 3"), 19, "--epochs 2");  // all 3 folds
  const fs::path one = scratch() / "folds_one_at_a_time", two = scratch() / "folds_two_at_a_time";
  fs::remove_all(one);
  fs::remove_all(two);
  const JobOutcome a = dispa::test::run_command(
      scratch(), "", fmt::format("'{}' {} --batch-size 32 --out '{}'", DISPA_TOOL, args, one.string()));
  REQUIRE_MESSAGE(a.status == 0, a.err);
  const JobOutcome b = dispa::test::run_command(
      scratch(), "OMP_NUM_THREADS=2",  // shared out: one OpenMP thread per fold, as in the run above
      fmt::format("'{}' {} --batch-size 32 --parallel-folds 2 --out '{}'", DISPA_TOOL, args, two.string()));
  REQUIRE_MESSAGE(b.status == 0, b.err);
  const nlohmann::json ma = metrics_of(one), mb = metrics_of(two);
  REQUIRE(mb.at("folds").size() == 3);
  for (size_t f = 0; f < 3; ++f) {
    CAPTURE(f);
    CHECK(mb.at("folds").at(f).at("fold") == ma.at("folds").at(f).at("fold"));
    CHECK(mb.at("folds").at(f).at("rmse") == ma.at("folds").at(f).at("rmse"));
    CHECK(mb.at("folds").at(f).at("best_val_rmse") == ma.at("folds").at(f).at("best_val_rmse"));
  }
  const JobOutcome c = dispa::test::run_job(scratch(), "", 2,
                                            fmt::format("{} --batch-size 32 --dist mpi --parallel-folds 2 --out '{}'",
                                                        args, (scratch() / "folds_and_ranks").string()));
  CHECK(c.status != 0);
  CHECK(c.err.find("--parallel-folds and --dist mpi do not combine") != std::string::npos);
}
