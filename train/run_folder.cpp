// Run folder lock, record, state and option conflicts (see run_folder.h).
#include "train/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <algorithm>
#include <regex>
#include <set>
#include <sstream>
#include <vector>

#include "engine/error.h"
#include "engine/io/atomic_file.h"
#include "engine/log.h"

namespace dispa::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kRecordFile = "run_options.json";
constexpr const char* kRecordFormat = "dispa run options 1";

// Run-defining options by their place in the record, and the flag that sets each. A record leaf
// missing here (set only by library callers) is named by its path in messages.
const std::pair<const char*, const char*> kFlags[] = {
    {"/data/data_dir", "--data"},
    {"/data/gmt", "--gmt"},
    {"/data/min_pathway_size", "--min-pathway-size"},
    {"/data/max_fragments", "--max-fragments"},
    {"/data/fingerprint_bits", "--fingerprint-bits"},
    {"/data/fingerprint_radius", "--fingerprint-radius"},
    {"/data/drug_feature_file", "--drug-features"},
    {"/data/fragment_feature_file", "--fragment-features"},
    {"/split/scheme", "--split"},
    {"/split/folds", "--folds"},
    {"/split/fold", "--fold"},
    {"/split/val_fraction", "--val-fraction"},
    {"/split/split_file", "--split-file"},
    {"/model/embed_dim", "--embed-dim"},
    {"/model/ffn_hidden", "--ffn-hidden"},
    {"/model/attn_dim", "--attn-dim"},
    {"/model/heads", "--heads"},
    {"/model/head_dims", "--head-dims"},
    {"/model/ffn_dropout", "--ffn-dropout"},
    {"/model/head_dropout", "--head-dropout"},
    {"/model/attention", "--attention"},
    {"/model/max_substructures", "--max-fragments"},
    {"/trainer/epochs", "--epochs"},
    {"/trainer/batch_size", "--batch-size"},
    {"/trainer/learning_rate", "--lr"},
    {"/trainer/weight_decay", "--weight-decay"},
    {"/trainer/clip_grad_norm", "--clip-grad-norm"},
    {"/trainer/early_stopping_patience", "--patience"},
    {"/trainer/plateau/patience", "--lr-patience"},
    {"/trainer/plateau/factor", "--lr-factor"},
    {"/trainer/seed", "--seed"},
    {"/trainer/accum", "--accum"},
    {"/trainer/sync_batchnorm", "--sync-batchnorm"},
    {"/no_ridge", "--no-ridge"},
    {"/device", "--device"},
};

std::string flag_of(const std::string& pointer) {
  for (const auto& [p, flag] : kFlags)
    if (pointer == p) return flag;
  return pointer.substr(1);  // "data/descriptors"
}

// Leaves (non-object values) where a and b differ, as JSON pointers.
void differing_leaves(const nlohmann::json& a, const nlohmann::json& b, const std::string& at,
                      std::vector<std::string>& out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const std::string& k : keys)
      differing_leaves(a.contains(k) ? a.at(k) : nlohmann::json(), b.contains(k) ? b.at(k) : nlohmann::json(),
                       at + "/" + k, out);
  } else if (a != b) {
    out.push_back(at);
  }
}

std::string show(const nlohmann::json& v) {
  if (v.is_null()) return "(unset)";
  if (v.is_string()) return v.get<std::string>().empty() ? "''" : v.get<std::string>();
  if (v.is_array()) {
    std::string s;
    for (const auto& x : v) {
      if (!s.empty()) s += ' ';
      s += show(x);
    }
    return s;
  }
  return v.dump();
}

nlohmann::json trainer_json(const TrainerOptions& t) {
  const auto& p = t.plateau;
  return {{"epochs", t.epochs},
          {"batch_size", t.batch_size},
          {"learning_rate", t.learning_rate},
          {"weight_decay", t.weight_decay},
          {"clip_grad_norm", t.clip_grad_norm},
          {"early_stopping_patience", t.early_stopping_patience},
          {"seed", t.seed},
          {"accum", t.accum},
          {"sync_batchnorm", t.sync_batchnorm},
          {"plateau",
           {{"mode", p.mode}, {"factor", p.factor}, {"patience", p.patience}, {"threshold", p.threshold},
            {"threshold_mode", p.threshold_mode}, {"cooldown", p.cooldown}, {"min_lr", p.min_lr}, {"eps", p.eps}}}};
}

TrainerOptions trainer_from_json(const nlohmann::json& j) {
  TrainerOptions t;
  t.epochs = j.at("epochs");
  t.batch_size = j.at("batch_size");
  t.learning_rate = j.at("learning_rate");
  t.weight_decay = j.at("weight_decay");
  t.clip_grad_norm = j.at("clip_grad_norm");
  t.early_stopping_patience = j.at("early_stopping_patience");
  t.seed = j.at("seed");
  t.accum = j.value("accum", 1);  // records written before --accum and --sync-batchnorm existed
  t.sync_batchnorm = j.value("sync_batchnorm", false);
  const auto& p = j.at("plateau");
  t.plateau = {p.at("mode"), p.at("factor"), p.at("patience"), p.at("threshold"), p.at("threshold_mode"),
               p.at("cooldown"), p.at("min_lr"), p.at("eps")};
  return t;
}

// The options a record describes; what it does not record (expression reading options, the
// out_dir and mode flags) comes from `base`.
TrainRunOptions from_record(const nlohmann::json& r, const TrainRunOptions& base) {
  TrainRunOptions o = base;
  try {
    const auto expression = o.data.expression;
    o.data = DataOptions::from_json(r.at("data"));
    o.data.expression = expression;
    const auto& s = r.at("split");
    o.split = s.at("scheme");
    o.folds = s.at("folds");
    o.fold = s.at("fold").is_null() ? std::nullopt : std::optional<int>(s.at("fold").get<int>());
    o.val_fraction = s.at("val_fraction");
    o.split_file = s.at("split_file").get<std::string>();
    // The recorded config has the data-dependent sizes unset (0; filled from the dataset later),
    // which from_json's validation refuses: parse with placeholders and unset them again.
    nlohmann::json model = r.at("model");
    const char* const data_sizes[] = {"genes", "pathways", "max_genes_per_pathway", "drug_dim"};
    for (const char* key : data_sizes)
      if (model.value(key, int64_t{0}) == 0) model[key] = 1;
    o.model = DispaConfig::from_json(model);
    const nlohmann::json& recorded = r.at("model");
    o.model.genes = recorded.value("genes", int64_t{0});
    o.model.pathways = recorded.value("pathways", int64_t{0});
    o.model.max_genes_per_pathway = recorded.value("max_genes_per_pathway", int64_t{0});
    o.model.drug_dim = recorded.value("drug_dim", int64_t{0});
    o.trainer = trainer_from_json(r.at("trainer"));
    o.ridge_baseline = !r.at("no_ridge").get<bool>();
    o.device = parse_device(r.at("device").get<std::string>());
  } catch (const nlohmann::json::exception& e) {
    fail("{}: the recorded options are incomplete or malformed: {}", kRecordFile, e.what());
  }
  return o;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "?";
  return name;
}

// "pid 123 on host h" from the lock file's "123 h".
std::string describe_owner(const std::string& content) {
  std::istringstream in(content);
  std::string pid, host;
  in >> pid >> host;
  return pid.empty() ? "an unknown process" : fmt::format("pid {} on host {}", pid, host.empty() ? "?" : host);
}

}  // namespace

RunLock::RunLock(const fs::path& run_dir) : file_(run_dir / "lock") {
  // The holder unlinks the file before it lets go, so a lock taken on a file that is no longer the
  // one at the path is worthless: check the inode and try again.
  for (int attempt = 0; attempt < 10; ++attempt) {
    fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    DISPA_CHECK(fd_ >= 0, "cannot lock the run folder {}: cannot create {}: {}", run_dir.string(), file_.string(),
                std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      const std::string owner = read_text(file_);
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        fail("{} is being written by another dispa train ({}); wait for it to end or stop it (lock file {})",
             run_dir.string(), describe_owner(owner), file_.string());
      fail("cannot lock the run folder {} ({}): {}", run_dir.string(), file_.string(), std::strerror(err));
    }
    struct stat held {}, current {};
    if (::fstat(fd_, &held) == 0 && ::stat(file_.c_str(), &current) == 0 && held.st_ino == current.st_ino &&
        held.st_dev == current.st_dev)
      break;
    ::close(fd_);
    fd_ = -1;
  }
  DISPA_CHECK(fd_ >= 0, "cannot lock the run folder {}: {} keeps changing", run_dir.string(), file_.string());
  // A holder removes the file when it ends, so content here was left by a process that died.
  const std::string previous = read_text(file_);
  if (!previous.empty())
    logging::warn("taking over the lock {} left by {} (that process is gone)", file_.string(),
                  describe_owner(previous));
  const std::string mine = fmt::format("{} {}\n", ::getpid(), hostname());
  const bool ok = ::ftruncate(fd_, 0) == 0 && ::pwrite(fd_, mine.data(), mine.size(), 0) == ssize_t(mine.size());
  if (!ok) {
    const int err = errno;
    ::unlink(file_.c_str());
    ::close(fd_);
    fail("cannot lock the run folder {}: cannot write {}: {}", run_dir.string(), file_.string(), std::strerror(err));
  }
}

RunLock::~RunLock() {
  if (fd_ < 0) return;
  ::unlink(file_.c_str());  // before the release: a waiter then never locks a file about to vanish
  ::close(fd_);
}

RunStatus inspect_run(const fs::path& run_dir) {
  RunStatus status;
  const fs::path record = run_dir / kRecordFile;
  if (fs::exists(record)) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_text(record));
      DISPA_CHECK(j.value("format", "") == kRecordFormat && j.contains("options") && j.contains("state"),
                  "{}: not a dispa run record", record.string());
    } catch (const nlohmann::json::exception& e) {
      fail("{} is damaged ({}); move the folder aside or pass --overwrite", record.string(), e.what());
    }
    status.record = j.at("options");
    status.state = j.at("state") == "finished" ? RunState::finished : RunState::unfinished;
    return status;
  }
  if (fs::exists(run_dir / "metrics.json")) {
    status.state = RunState::finished;
  } else if (fs::exists(run_dir / "split.tsv")) {
    status.state = RunState::unfinished;
  } else if (fs::is_directory(run_dir)) {
    static const std::regex fold_dir("fold_[0-9]+");
    for (const auto& entry : fs::directory_iterator(run_dir))
      if (entry.is_directory() && std::regex_match(entry.path().filename().string(), fold_dir))
        status.state = RunState::unfinished;
  }
  return status;
}

void clear_run(const fs::path& run_dir) {
  static const std::regex fold_dir("fold_[0-9]+");
  static const std::set<std::string> files = {kRecordFile, "split.tsv", "metrics.json", "train.log"};
  std::vector<fs::path> doomed;
  for (const auto& entry : fs::directory_iterator(run_dir)) {
    const std::string name = entry.path().filename().string();
    if (files.count(name) || (entry.is_directory() && std::regex_match(name, fold_dir))) doomed.push_back(entry.path());
  }
  for (const fs::path& p : doomed) fs::remove_all(p);
  io::fsync_folder(run_dir);
}

void remove_stale_temporaries(const fs::path& run_dir) {
  static const std::regex temporary(R"(.+\.tmp\.[A-Za-z0-9]{6}|checkpoint\.tmp)");
  std::vector<fs::path> stale;
  for (const auto& entry : fs::recursive_directory_iterator(run_dir))
    if (std::regex_match(entry.path().filename().string(), temporary)) stale.push_back(entry.path());
  for (const fs::path& p : stale) fs::remove_all(p);
  if (!stale.empty())
    logging::info("removed {} temporary file(s) left by a process killed while writing, e.g. {}", stale.size(),
                  stale.front().string());
}

nlohmann::json options_record(const TrainRunOptions& o) {
  return {{"data", o.data.to_json()},
          {"split",
           {{"scheme", o.split}, {"folds", o.folds}, {"fold", o.fold ? nlohmann::json(*o.fold) : nlohmann::json()},
            {"val_fraction", o.val_fraction}, {"split_file", o.split_file.string()}}},
          {"model", o.model.to_json()},
          {"trainer", trainer_json(o.trainer)},
          {"no_ridge", !o.ridge_baseline},
          {"device", o.device.str()}};
}

void write_run_record(const fs::path& run_dir, const TrainRunOptions& options, RunState state) {
  const nlohmann::json j = {{"format", kRecordFormat},
                            {"state", state == RunState::finished ? "finished" : "running"},
                            {"options", options_record(options)}};
  io::write_file_atomically(run_dir / kRecordFile, j.dump(2) + "\n");
}

TrainRunOptions resume_options(const nlohmann::json& record, const TrainRunOptions& requested) {
  const auto given = [&](const std::string& flag) {
    return !requested.given_flags || requested.given_flags->count(flag) > 0;
  };
  TrainRunOptions resumed = from_record(record, requested);
  const nlohmann::json asked = options_record(requested);
  std::vector<std::string> differing;
  differing_leaves(record, asked, "", differing);
  std::vector<std::string> was, now, flags_seen;
  for (const std::string& pointer : differing) {
    const std::string flag = flag_of(pointer);
    if (pointer == "/device") continue;  // may change: the device does not define the run
    if (!given(flag) || std::find(flags_seen.begin(), flags_seen.end(), flag) != flags_seen.end()) continue;
    const nlohmann::json::json_pointer p(pointer);
    const nlohmann::json recorded = record.contains(p) ? record.at(p) : nlohmann::json();
    const nlohmann::json wanted = asked.contains(p) ? asked.at(p) : nlohmann::json();
    if (pointer == "/trainer/epochs" && recorded.is_number() && wanted.get<int>() >= recorded.get<int>())
      continue;  // extends the run
    flags_seen.push_back(flag);
    was.push_back(flag + " " + show(recorded));
    now.push_back(flag + " " + show(wanted));
  }
  if (!was.empty())
    fail("run was trained with {}; this command asks for {} (on --resume only --epochs (to extend the run) and "
         "--device may change; use another --out, or --overwrite, to train a different run)",
         fmt::join(was, ", "), fmt::join(now, ", "));
  if (given("--epochs")) resumed.trainer.epochs = std::max(resumed.trainer.epochs, requested.trainer.epochs);
  if (given("--device")) resumed.device = requested.device;
  return resumed;
}

}  // namespace dispa::train
