// Subcommand registry: each tools/cmd_<name>.cpp defines one static CommandRegistration that adds
// its CLI11 subcommand, maps flags onto the library's options struct and calls one library
// function. main.cpp owns parsing and the single catch that prints errors.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace dispa::tools {

// Setup adds a subcommand to `app`; its callback may set `exit_code` (0 = success).
using CommandSetup = std::function<void(CLI::App& app, int& exit_code)>;

struct CommandRegistration {
  CommandRegistration(std::string name, CommandSetup setup);
};

struct RegisteredCommand {
  std::string name;
  CommandSetup setup;
};
std::vector<RegisteredCommand>& registered_commands();

}  // namespace dispa::tools
