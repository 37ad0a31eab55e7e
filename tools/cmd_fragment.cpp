// `dispa fragment`: BRICS fragments of drugs (TSV or JSON). Maps flags onto
// chem::FragmentTableOptions and calls chem::run_fragment; reports bad rows with their line
// numbers on stderr. If any row failed it writes nothing and exits 1, unless --skip-invalid: then
// the other rows are written, the bad ones reported as warnings, and it exits 0.
#include <fmt/format.h>

#include "chem/fragment_table.h"
#include "engine/log.h"
#include "tools/command.h"

namespace dispa::tools {
namespace {

CommandRegistration fragment_command("fragment", [](CLI::App& app, int& exit_code) {
  auto options = std::make_shared<chem::FragmentTableOptions>();
  auto components = std::make_shared<std::string>("largest");
  auto quiet = std::make_shared<bool>(false);
  CLI::App* cmd = app.add_subcommand("fragment", "BRICS fragments of drugs (RDKit-compatible labels)");
  auto* drugs = cmd->add_option("--drugs", options->drugs_path, "drugs TSV with columns drug_name and smiles")
                    ->check(CLI::ExistingFile);
  auto* smiles = cmd->add_option("--smiles", options->smiles, "one SMILES instead of a drugs file");
  drugs->excludes(smiles);
  cmd->add_option("--name", options->name, "name of the --smiles molecule (default: the SMILES)")->needs(smiles);
  cmd->add_option("--out", options->out_path, "output file (default: standard output)");
  cmd->add_flag("--json", options->json, "write JSON instead of TSV");
  cmd->add_flag("--unique", options->unique, "each distinct fragment once (default: one per occurrence)");
  cmd->add_flag("--skip-invalid", options->skip_invalid,
                "write the molecules that could be fragmented even if some rows failed (reported as warnings)");
  cmd->add_option("--components", *components,
                  "multi-component SMILES (salts): 'largest' keeps the largest organic component, "
                  "'all' keeps every component as its own fragment")
      ->check(CLI::IsMember({"largest", "all"}));
  cmd->add_flag("--quiet", *quiet, "no progress or dropped-component messages");
  cmd->callback([options, components, quiet, drugs, smiles, &exit_code] {
    if (drugs->count() == 0 && smiles->count() == 0) throw CLI::RequiredError("--drugs or --smiles");
    logging::set_quiet(*quiet);
    options->components = chem::parse_component_policy(*components);
    const chem::FragmentTable table = chem::run_fragment(*options);
    for (const chem::FragmentRow& row : table.rows)
      if (!row.dropped.empty())
        logging::info("{}: kept the largest organic component, dropped {}", row.name, fmt::join(row.dropped, " . "));
    for (const chem::FragmentFailure& f : table.failures) {
      const std::string where = f.line > 0 ? fmt::format("{}:{}: ", table.source, f.line) : std::string();
      if (options->skip_invalid)
        logging::warn("skipped {}{}", where, f.message);
      else
        fmt::print(stderr, "error: {}{}\n", where, f.message);
    }
    logging::info("fragment: {} molecules fragmented, {} failed", table.rows.size(), table.failures.size());
    if (!table.written) {
      fmt::print(stderr, "error: {} of {} molecules failed: {} not written (pass --skip-invalid to write the others)\n",
                 table.failures.size(), table.rows.size() + table.failures.size(),
                 options->out_path.empty() || options->out_path == "-" ? "the table" : options->out_path);
      exit_code = 1;
    }
  });
});

}  // namespace
}  // namespace dispa::tools
