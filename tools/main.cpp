// The dispa command line: a thin shell over the libraries. Every subcommand lives in its own
// cmd_<name>.cpp; this file parses, dispatches and turns dispa::Error into "error: ..." + exit 1,
// and dispa::Interrupted (a command stopped by Ctrl-C/SIGTERM after saving) into its message +
// exit 128 + signal.
#include <algorithm>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "chem/openbabel_env.h"
#include "engine/build_info.h"
#include "engine/cpu_features.h"
#include "engine/dist/communicator.h"
#include "engine/error.h"
#include "engine/interrupt.h"
#include "tools/command.h"

namespace dispa::tools {
std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}
CommandRegistration::CommandRegistration(std::string name, CommandSetup setup) {
  registered_commands().push_back({std::move(name), std::move(setup)});
}
namespace {

// `dispa --version`: engine/build_info.h's lines plus where OpenBabel's plugins and data come from.
std::string version_text() {
  std::string text = fmt::format("dispa {}\n", dispa::dispa_version());
  for (const auto& [label, value] : dispa::build_info())
    if (label != "version") text += fmt::format("  {:<10} {}\n", label, value);
  const dispa::chem::OpenBabelInfo ob = dispa::chem::openbabel_info();
  text += fmt::format("  {:<10} {}; plugins {} ({}), {} formats{}; data {} ({})", "openbabel", ob.version, ob.plugin_dir,
                      ob.plugin_dir_origin, ob.formats, ob.smiles ? "" : ", NO SMILES READER", ob.data_dir,
                      ob.data_dir_origin);
  return text;
}

}  // namespace
}  // namespace dispa::tools

int main(int argc, char** argv) {
  using namespace dispa::tools;
  // Before anything touches OpenBabel or starts a thread: a relocated package finds its plugins.
  dispa::chem::use_packaged_openbabel();
  CLI::App app{"dispa: the DiSPA drug-response model on a from-scratch C++/CUDA deep-learning engine"};
  app.set_version_flag("--version", [] { return version_text(); });
  app.require_subcommand(1);
  int exit_code = 0;
  auto& commands = registered_commands();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& command : commands) command.setup(app, exit_code);
  try {
    dispa::cpu_level();  // a bad DISPA_CPU fails here, with a message, before any kernel runs
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const dispa::Interrupted& e) {
    std::fflush(stdout);
    fmt::print(stderr, "{}\n", e.what());
    return e.exit_code();
  } catch (const dispa::Error& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    dispa::dist::abort_job_after_error(1);  // other ranks may be waiting for this one
    return 1;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    fmt::print(stderr, "error: {}\n", e.what());
    dispa::dist::abort_job_after_error(1);
    return 1;
  }
  return exit_code;
}
