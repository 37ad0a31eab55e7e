// Checkpoint save, verify and load (format and layout: checkpoint.h).
#include "train/checkpoint.h"

#include <zlib.h>

#include <cmath>
#include <fstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/fault_injection.h"
#include "engine/io/atomic_file.h"
#include "engine/io/safetensors.h"
#include "engine/log.h"

namespace dispa::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "dispa checkpoint 2";
constexpr const char* kStateFile = "trainer_state.json";
const char* const kTensorFiles[] = {"model.safetensors", "optimizer.safetensors", "best_model.safetensors"};

fs::path sibling(const fs::path& dir, const char* suffix) { return fs::path(dir.string() + suffix); }

std::string hex32(uint32_t v) { return fmt::format("{:08x}", v); }
uint32_t crc_of(std::string_view s) {
  return uint32_t(crc32(0L, reinterpret_cast<const Bytef*>(s.data()), uInt(s.size())));
}

// JSON has no infinity: nlohmann writes it as null, so null reads back as +inf.
double number_or_inf(const nlohmann::json& j) { return j.is_null() ? INFINITY : j.get<double>(); }

nlohmann::json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch}, {"train_loss", r.train_loss}, {"val_loss", r.val_loss}, {"val_rmse", r.val_rmse},
          {"learning_rate", r.learning_rate}, {"seconds", r.seconds}, {"samples_per_second", r.samples_per_second}};
}
EpochRecord epoch_from_json(const nlohmann::json& j) {
  EpochRecord r;
  r.epoch = j.at("epoch");
  r.train_loss = j.at("train_loss");
  r.val_loss = j.at("val_loss");
  r.val_rmse = j.at("val_rmse");
  r.learning_rate = j.at("learning_rate");
  r.seconds = j.at("seconds");
  r.samples_per_second = j.at("samples_per_second");
  return r;
}

std::map<std::string, Tensor> host_state(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> out;
  for (auto& [k, v] : state) out[k] = v.to(Device::cpu());
  return out;
}

nlohmann::json state_json(const TrainingParts& parts, const TrainerState& state) {
  double plateau_best;
  int bad, cooldown, last_epoch;
  parts.plateau.get_state(plateau_best, bad, cooldown, last_epoch);
  nlohmann::json j = {
      {"format", kFormat},
      {"epoch", state.epoch},
      {"position",
       {{"epoch", state.epoch + 1}, {"step", state.step}, {"batch_size", parts.batch_size},
        {"loss_sum", state.loss_sum}, {"loss_count", state.loss_count}, {"seconds", state.epoch_seconds}}},
      {"best_epoch", state.best_epoch},
      {"best_val_rmse", state.best_val_rmse},
      {"epochs_without_improvement", state.epochs_without_improvement},
      {"learning_rate", parts.optimizer.learning_rate()},
      {"dropout_rng", {{"seed", parts.dropout_rng.seed()}, {"offset", parts.dropout_rng.offset()}}},
      {"plateau", {{"best", plateau_best}, {"bad_epochs", bad}, {"cooldown", cooldown}, {"last_epoch", last_epoch}}},
      {"history", nlohmann::json::array()}};
  for (const EpochRecord& r : state.history) j["history"].push_back(to_json(r));
  return j;
}

void write_checkpoint_files(const fs::path& dir, const TrainingParts& parts, const TrainerState& state,
                            const std::map<std::string, Tensor>& best) {
  const std::map<std::string, std::string> meta = {{"epoch", std::to_string(state.epoch)},
                                                    {"step", std::to_string(state.step)}};
  save_safetensors((dir / kTensorFiles[0]).string(), host_state(parts.model.state_dict()), meta);
  fault_point("checkpoint-file");
  save_safetensors((dir / kTensorFiles[1]).string(), host_state(parts.optimizer.state()), meta);
  fault_point("checkpoint-file");
  save_safetensors((dir / kTensorFiles[2]).string(), best, {{"epoch", std::to_string(state.best_epoch)}});
  fault_point("checkpoint-file");
  nlohmann::json j = state_json(parts, state);
  for (const char* name : kTensorFiles)
    j["files"][name] = {{"bytes", fs::file_size(dir / name)}, {"crc32", hex32(file_crc32(dir / name))}};
  j["crc32"] = hex32(crc_of(j.dump()));
  io::write_file_atomically(dir / kStateFile, j.dump(2) + "\n");
  fault_point("checkpoint-file");
  io::fsync_folder(dir);
}

// Reads and checks trainer_state.json of `dir`; on a problem returns "" and sets `why`.
nlohmann::json read_state(const fs::path& dir, std::string& why) {
  const fs::path file = dir / kStateFile;
  if (!fs::exists(file)) {
    why = fmt::format("{} is missing", file.string());
    return {};
  }
  nlohmann::json j;
  try {
    std::ifstream in(file);
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    why = fmt::format("{} is not valid JSON (truncated?): {}", file.string(), e.what());
    return {};
  }
  if (!j.is_object()) {
    why = fmt::format("{} is not a JSON object", file.string());
    return {};
  }
  if (!j.contains("format")) return j;  // written before checksums existed: accepted unverified
  if (j.value("format", "") != kFormat) {
    why = fmt::format("{}: unknown format '{}'", file.string(), j.value("format", "?"));
    return {};
  }
  nlohmann::json body = j;
  body.erase("crc32");
  if (!j.contains("crc32") || j.at("crc32") != hex32(crc_of(body.dump()))) {
    why = fmt::format("{}: CRC-32 mismatch (the file is corrupted)", file.string());
    return {};
  }
  return j;
}

std::string verify_files(const fs::path& dir, const nlohmann::json& j) {
  if (!j.contains("files")) return "";
  for (const char* name : kTensorFiles) {
    const fs::path file = dir / name;
    if (!j.at("files").contains(name)) return fmt::format("{} does not list {}", (dir / kStateFile).string(), name);
    const auto& entry = j.at("files").at(name);
    std::error_code ec;
    const uintmax_t bytes = fs::file_size(file, ec);
    if (ec) return fmt::format("{} is missing", file.string());
    if (bytes != entry.at("bytes").get<uintmax_t>())
      return fmt::format("{} has {} bytes, the checkpoint recorded {} (truncated?)", file.string(), bytes,
                         entry.at("bytes").get<uintmax_t>());
    if (hex32(file_crc32(file)) != entry.at("crc32").get<std::string>())
      return fmt::format("{}: CRC-32 mismatch (the file is corrupted)", file.string());
  }
  return "";
}

// Loads `dir` into the parts; returns "" or why it was refused (nothing has been changed then).
std::string load_from(const fs::path& dir, TrainingParts& parts, TrainerState& state,
                      std::map<std::string, Tensor>& best) {
  std::string why;
  const nlohmann::json j = read_state(dir, why);
  if (!why.empty()) return why;
  if ((why = verify_files(dir, j)) != "") return why;
  if (!j.contains("format"))
    logging::warn("{} has no checksums (written by an older dispa): loaded without verification", dir.string());
  const Device device = parts.model.parameters().front().device();
  auto to_device = [&](std::map<std::string, Tensor> m) {
    for (auto& [k, v] : m) v = v.to(device);
    return m;
  };
  std::map<std::string, Tensor> model_state, optimizer_state, best_state;
  try {  // every file parsed before anything is applied
    model_state = to_device(load_safetensors((dir / kTensorFiles[0]).string()).tensors);
    optimizer_state = to_device(load_safetensors((dir / kTensorFiles[1]).string()).tensors);
    best_state = load_safetensors((dir / kTensorFiles[2]).string()).tensors;
  } catch (const Error& e) {
    return e.what();
  }
  TrainerState s;
  try {
    s.epoch = j.at("epoch");
    s.best_epoch = j.at("best_epoch");
    s.best_val_rmse = number_or_inf(j.at("best_val_rmse"));
    s.epochs_without_improvement = j.at("epochs_without_improvement");
    for (const auto& r : j.at("history")) s.history.push_back(epoch_from_json(r));
    if (j.contains("position")) {
      const auto& p = j.at("position");
      s.step = p.at("step");
      s.loss_sum = p.at("loss_sum");
      s.loss_count = p.at("loss_count");
      s.epoch_seconds = p.at("seconds");
      DISPA_CHECK(s.step == 0 || p.at("batch_size").get<int64_t>() == parts.batch_size,
                  "{}: taken inside an epoch with batch size {}; this run uses {}", (dir / kStateFile).string(),
                  p.at("batch_size").get<int64_t>(), parts.batch_size);
    }
    parts.model.load_state_dict(model_state);
    parts.optimizer.load_state(optimizer_state);
    parts.optimizer.set_learning_rate(j.at("learning_rate"));
    parts.dropout_rng.set_state(j.at("dropout_rng").at("seed"), j.at("dropout_rng").at("offset"));
    const auto& pl = j.at("plateau");
    parts.plateau.set_state(number_or_inf(pl.at("best")), pl.at("bad_epochs"), pl.at("cooldown"), pl.at("last_epoch"));
  } catch (const nlohmann::json::exception& e) {
    fail("{}: malformed checkpoint state: {}", (dir / kStateFile).string(), e.what());
  }
  state = std::move(s);
  best = std::move(best_state);
  return "";
}

}  // namespace

uint32_t file_crc32(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  DISPA_CHECK(in.good(), "cannot read '{}'", file.string());
  std::vector<char> buffer(size_t(1) << 20);
  uLong crc = crc32(0L, Z_NULL, 0);
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    const std::streamsize n = in.gcount();
    if (n > 0) crc = crc32(crc, reinterpret_cast<const Bytef*>(buffer.data()), uInt(n));
  }
  DISPA_CHECK(in.eof(), "error reading '{}'", file.string());
  return uint32_t(crc);
}

std::string verify_checkpoint(const fs::path& dir) {
  std::string why;
  const nlohmann::json j = read_state(dir, why);
  return why.empty() ? verify_files(dir, j) : why;
}

void save_checkpoint(const fs::path& fold_dir, const TrainingParts& parts, const TrainerState& state,
                     const std::map<std::string, Tensor>& best) {
  const fs::path dir = fold_dir / "checkpoint", fresh = sibling(dir, ".tmp"), prev = sibling(dir, ".prev");
  std::error_code ec;
  fs::remove_all(fresh, ec);
  try {
    fs::create_directories(fresh);
    write_checkpoint_files(fresh, parts, state, best);
  } catch (const std::exception& e) {
    fs::remove_all(fresh, ec);  // best effort: a half-written checkpoint must not use the space
    const std::string at = state.step > 0 ? fmt::format("in epoch {} at step {}", state.epoch + 1, state.step)
                                          : fmt::format("after epoch {}", state.epoch);
    fail("checkpoint {} not saved ({} keeps the previous one): {}", at, dir.string(), e.what());
  }
  // Publish: the old checkpoint becomes the fallback, the new one the checkpoint. A kill between
  // the two renames leaves checkpoint.prev/ (complete) and no checkpoint/: loading handles that.
  try {
    fs::remove_all(prev);
    if (fs::exists(dir)) fs::rename(dir, prev);
    fault_point("checkpoint-swap");
    fs::rename(fresh, dir);
  } catch (const fs::filesystem_error& e) {
    fail("cannot publish the checkpoint {}: {}", dir.string(), e.code().message());
  }
  io::fsync_folder(fold_dir);
}

std::optional<fs::path> load_checkpoint(const fs::path& fold_dir, TrainingParts parts, TrainerState& state,
                                        std::map<std::string, Tensor>& best) {
  const fs::path dir = fold_dir / "checkpoint";
  std::vector<std::string> refused;
  for (const fs::path& candidate : {dir, sibling(dir, ".prev")}) {
    if (!fs::exists(candidate)) continue;
    const std::string why = load_from(candidate, parts, state, best);
    if (why.empty()) {
      if (!refused.empty())
        logging::warn("{}; resuming from the previous checkpoint {} instead (epoch {})", refused.front(),
                      candidate.string(), state.epoch);
      return candidate;
    }
    refused.push_back(why);
  }
  if (refused.empty()) return std::nullopt;
  fail("cannot resume from {}: {}", fold_dir.string(), fmt::join(refused, "; "));
}

}  // namespace dispa::train
