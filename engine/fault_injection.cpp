// DISPA_FAULT test hook (see fault_injection.h).
#include "engine/fault_injection.h"

#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string>

#include "engine/dist/launch_env.h"
#include "engine/error.h"

namespace dispa {
namespace {

struct FaultSpec {
  std::string action, point;
  long count = 1;  // act on this pass
  long seen = 0;
};

std::mutex g_mutex;
FaultSpec g_spec;
bool g_loaded = false;

// DISPA_FAULT_RANK: whether this process is the rank the fault is meant for (true when unset).
bool this_rank_selected() {
  const char* env = std::getenv("DISPA_FAULT_RANK");
  if (!env || !*env) return true;
  char* end = nullptr;
  const long rank = std::strtol(env, &end, 10);
  DISPA_CHECK(*end == '\0' && rank >= 0, "DISPA_FAULT_RANK '{}': expected a rank >= 0", env);
  return dist::launch_info_from_environment().rank == rank;
}

FaultSpec parse(std::string_view spec) {
  FaultSpec f;
  if (spec.empty()) return f;
  const size_t at = spec.find('@');
  DISPA_CHECK(at != std::string_view::npos, "DISPA_FAULT '{}': expected <action>@<point>[#<n>]", spec);
  f.action = std::string(spec.substr(0, at));
  std::string_view rest = spec.substr(at + 1);
  const size_t hash = rest.find('#');
  f.point = std::string(rest.substr(0, hash));
  if (hash != std::string_view::npos) {
    const std::string n(rest.substr(hash + 1));
    char* end = nullptr;
    f.count = std::strtol(n.c_str(), &end, 10);
    DISPA_CHECK(!n.empty() && *end == '\0' && f.count >= 1, "DISPA_FAULT '{}': '#{}' is not a count >= 1", spec, n);
  }
  DISPA_CHECK(f.action == "kill" || f.action == "stop" || f.action == "int" || f.action == "term" ||
                  f.action == "fail",
              "DISPA_FAULT '{}': unknown action '{}' (kill, stop, int, term, fail)", spec, f.action);
  return f;
}

}  // namespace

void set_fault_spec(std::string_view spec) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_spec = parse(spec);
  g_loaded = true;
}

void fault_point(std::string_view point) {
  std::unique_lock<std::mutex> lock(g_mutex);
  if (!g_loaded) {
    const char* env = std::getenv("DISPA_FAULT");
    g_loaded = true;
    g_spec = parse(env ? env : "");
    if (!g_spec.point.empty() && !this_rank_selected()) g_spec = FaultSpec();
  }
  if (g_spec.point.empty() || g_spec.point != point || ++g_spec.seen != g_spec.count) return;
  const std::string action = g_spec.action;
  lock.unlock();
  if (action == "kill") std::raise(SIGKILL);
  if (action == "stop") std::raise(SIGSTOP);
  if (action == "int") std::raise(SIGINT);
  if (action == "term") std::raise(SIGTERM);
  if (action == "fail") fail("injected fault at {}", point);
}

}  // namespace dispa
