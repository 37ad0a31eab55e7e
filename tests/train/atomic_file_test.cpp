// engine/io/atomic_file: the target appears whole or not at all; failures name the target and the
// OS error and leave neither a temporary file nor a damaged old version behind, on a full and on a
// read-only file system (a tmpfs mounted by the test; skipped with a message without root).
#include <doctest/doctest.h>

#include <filesystem>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "tests/support/error_of.h"
#include "tests/train/fault_support.h"
#include "tests/train/temp_dir.h"

using namespace dispa;
namespace fs = std::filesystem;

TEST_CASE("atomic_file: writes and replaces a file, no temporary left") {
  test::TempDir tmp("atomic_file_basic");
  const fs::path target = tmp.path() / "a.txt";
  io::write_file_atomically(target, "first\n");
  CHECK(test::read_text(target) == "first\n");
  {
    io::AtomicFile f(target);
    f.write("second ");
    f.write(std::string(3 << 20, 'z'));  // larger than the buffer: written straight through
    f.commit();
    CHECK(f.bytes_written() == 7 + (3u << 20));
  }
  CHECK(test::read_text(target).substr(0, 7) == "second ");
  CHECK(test::leftover_temporaries(tmp.path()).empty());
}

TEST_CASE("atomic_file: without commit (an error unwinding) the old file stays and the temporary goes") {
  test::TempDir tmp("atomic_file_abandon");
  const fs::path target = tmp.path() / "metrics.json";
  io::write_file_atomically(target, "old");
  try {
    io::AtomicFile f(target);
    f.write("half of the new ");
    throw Error("something failed while writing");
  } catch (const Error&) {
  }
  CHECK(test::read_text(target) == "old");
  CHECK(test::leftover_temporaries(tmp.path()).empty());
}

TEST_CASE("atomic_file: a folder as the output path is refused before anything is written") {
  test::TempDir tmp("atomic_file_folder");
  const fs::path dir = tmp.path() / "out";
  fs::create_directories(dir);
  CHECK(test::error_of([&] { io::check_output_file(dir, "--out"); }) ==
        fmt::format("--out '{}' is a folder; give a file name", dir.string()));
  CHECK(test::error_of([&] { io::write_file_atomically(dir, "x"); }).find("is a folder") != std::string::npos);
  CHECK(test::error_of([&] { io::check_output_folder(tmp.path() / "none" / "x", "--out"); }) == "(no error)");
  io::write_file_atomically(tmp.path() / "file", "x");
  CHECK(test::error_of([&] { io::check_output_folder(tmp.path() / "file", "--out"); }).find("is a file") !=
        std::string::npos);
  CHECK(test::leftover_temporaries(tmp.path()).empty());
  const std::string missing = test::error_of([&] { io::write_file_atomically(tmp.path() / "no" / "f.tsv", "x"); });
  CHECK(missing.find("cannot write '" + (tmp.path() / "no" / "f.tsv").string() + "': No such file or directory") !=
        std::string::npos);
}

TEST_CASE("atomic_file: a full disk and a read-only disk give the OS error and keep the old file") {
  test::Tmpfs::unmount_stale(fs::path(DISPA_BINARY_DIR) / "test_tmp" / "atomic_file_tmpfs" / "mnt");
  test::TempDir tmp("atomic_file_tmpfs");
  test::Tmpfs fs_small(tmp.path() / "mnt", "256k");
  if (!fs_small.ok()) {
    MESSAGE("skipping: " << fs_small.why());
    return;
  }
  const fs::path target = tmp.path() / "mnt" / "predictions.tsv";
  io::write_file_atomically(target, "the earlier predictions\n");
  const std::string big(1 << 20, 'p');  // 1 MiB into 256 KiB
  const std::string full = test::error_of([&] { io::write_file_atomically(target, big); });
  CHECK(full == fmt::format("cannot write '{}': No space left on device", target.string()));
  CHECK(test::read_text(target) == "the earlier predictions\n");
  CHECK(test::leftover_temporaries(tmp.path() / "mnt").empty());
  // Safetensors (checkpoints, model files) go through the same writer.
  const std::string st = test::error_of([&] {
    save_safetensors((tmp.path() / "mnt" / "model.safetensors").string(),
                     {{"w", Tensor::zeros({300000}, DType::f32, Device::cpu())}});
  });
  CHECK(st.find("No space left on device") != std::string::npos);
  CHECK(st.find("model.safetensors") != std::string::npos);
  CHECK(test::leftover_temporaries(tmp.path() / "mnt").empty());

  REQUIRE(fs_small.set_read_only(true));
  const std::string ro = test::error_of([&] { io::write_file_atomically(target, "new"); });
  CHECK(ro == fmt::format("cannot write '{}': Read-only file system", target.string()));
  CHECK(test::read_text(target) == "the earlier predictions\n");
  fs_small.set_read_only(false);
}
