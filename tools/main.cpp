// The dispa command line: a thin shell over the libraries. Every subcommand lives in its own
// cmd_<name>.cpp; this file parses, dispatches and turns dispa::Error into "error: ..." + exit 1.
#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

#include "engine/dist/communicator.h"
#include "engine/error.h"
#include "tools/command.h"

namespace dispa::tools {
std::vector<RegisteredCommand>& registered_commands() {
  static std::vector<RegisteredCommand> commands;
  return commands;
}
CommandRegistration::CommandRegistration(std::string name, CommandSetup setup) {
  registered_commands().push_back({std::move(name), std::move(setup)});
}
}  // namespace dispa::tools

int main(int argc, char** argv) {
  using namespace dispa::tools;
  CLI::App app{"dispa: the DiSPA drug-response model on a from-scratch C++/CUDA deep-learning engine"};
  app.set_version_flag("--version", fmt::format("dispa {}", DISPA_VERSION));
  app.require_subcommand(1);
  int exit_code = 0;
  auto& commands = registered_commands();
  std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  for (auto& command : commands) command.setup(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
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
