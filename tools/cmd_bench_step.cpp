// dispa bench-step: time a DiSPA training step and an eval forward at the paper's configuration on
// GDSC2-sized synthetic data (train/step_bench.h); one JSON line per measurement on stdout, in the
// format of bench/torch_dispa.py, so bench/compare_torch.sh can put the two side by side.
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/cuda/runtime.h"
#include "engine/error.h"
#include "engine/log.h"
#include "tools/command.h"
#include "train/step_bench.h"

namespace {
dispa::tools::CommandRegistration registration("bench-step", [](CLI::App& app, int& exit_code) {
  auto o = std::make_shared<dispa::train::StepBenchOptions>();
  auto device = std::make_shared<std::string>("cpu");
  auto json_path = std::make_shared<std::string>();
  auto no_dedup = std::make_shared<bool>(false);
  auto unfused = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand(
      "bench-step", "Time a training step and an eval forward (paper config, GDSC2-sized synthetic data)");
  cmd->add_option("--device", *device, "cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch", o->batch, "pairs per batch")->capture_default_str();
  cmd->add_option("--steps", o->steps, "timed steps (median, p10, p90 over these)")->capture_default_str();
  cmd->add_option("--warmup", o->warmup, "untimed steps first")->capture_default_str();
  cmd->add_option("--attention", o->attention, "differential or vanilla")->capture_default_str();
  cmd->add_flag("--tf32", o->tf32, "TF32 tensor-core GEMMs on CUDA (default fp32)");
  cmd->add_flag("--no-dedup", *no_dedup, "one row per pair instead of de-duplicated cells and drugs");
  cmd->add_flag("--unfused", *unfused, "unfused differential attention (engine ops) instead of the fused op");
  auto only = std::make_shared<std::string>();
  cmd->add_option("--only", *only, "time only this step measurement (train_step or eval_forward; screens as asked)")
      ->check(CLI::IsMember({"train_step", "eval_forward"}));
  cmd->add_flag("--screen", o->screen,
                "also time a whole screen: every cell x drug pair with the cell-major path of dispa predict");
  cmd->add_flag("--screen-baseline", o->screen_baseline,
                "also time the screen batch by batch (make_batch + forward per batch: each batch encodes its own cells and drugs)");
  cmd->add_option("--cells", o->cells, "cells of the synthetic data (GDSC2: 580)")->capture_default_str();
  cmd->add_option("--drugs", o->drugs, "drugs of the synthetic data (GDSC2: 170)")->capture_default_str();
  cmd->add_option("--screen-reps", o->screen_reps, "timed screens per path")->capture_default_str();
  cmd->add_option("--screen-batch", o->screen_batch, "pairs per batch in the screen")->capture_default_str();
  cmd->add_option("--json", *json_path, "also append the JSON lines to this file");
  cmd->callback([o, device, json_path, no_dedup, unfused, only, &exit_code] {
    if (!only->empty()) {
      o->time_train = *only == "train_step";
      o->time_eval = *only == "eval_forward";
    }
    o->device = dispa::parse_device(*device);
    o->dedup = !*no_dedup;
    o->fused_attention = !*unfused;
    const std::string device_name = o->device.is_cuda() ? dispa::cuda::device_info(o->device.index).name : "cpu";
    std::string lines;
    for (const auto& r : dispa::train::run_step_bench(*o)) {
      nlohmann::json j = {{"impl", "dispa"}, {"device", device_name}, {"mode", r.mode}, {"attention", o->attention},
                          {"batch", r.mode.rfind("screen", 0) == 0 ? o->screen_batch : o->batch},
                          {"tf32", o->tf32}, {"dedup", o->dedup},
                          {"fused_attention", o->fused_attention}, {"median_ms", r.median_ms},
                          {"p10_ms", r.p10_ms}, {"p90_ms", r.p90_ms}, {"samples_per_s", r.samples_per_s}};
      j["host_allocations_during_timing"] = r.host_allocations_during_timing;
      j["median_cpu_ms"] = r.median_cpu_ms;
      if (r.mode.rfind("screen", 0) == 0) j["pairs"] = o->cells * o->drugs;
      if (o->device.is_cuda()) {
        j["device_mallocs_during_timing"] = r.device_mallocs_during_timing;
        j["peak_device_mib"] = double(r.peak_device_bytes) / (1 << 20);
      }
      lines += j.dump() + "\n";
    }
    std::fputs(lines.c_str(), stdout);
    if (!json_path->empty()) {
      std::ofstream out(*json_path, std::ios::app);
      DISPA_CHECK(out.good(), "bench-step: cannot open {} for appending", *json_path);
      out << lines;
    }
    exit_code = 0;
  });
});
}  // namespace
