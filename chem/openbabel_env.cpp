// OpenBabel's plugin and data folders for a relocatable package; see openbabel_env.h.
#include "chem/openbabel_env.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include <openbabel/babelconfig.h>
#include <openbabel/obconversion.h>
#include <openbabel/plugin.h>

namespace dispa::chem {
namespace {

namespace fs = std::filesystem;

// Which of the variables this process set from the package layout (vs. found set by the user).
bool g_set_libdir = false, g_set_datadir = false;

fs::path executable_prefix() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return {};
  return exe.parent_path().parent_path();  // <prefix>/bin/dispa -> <prefix>
}

bool unset(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr || *value == '\0';
}

std::string origin(const char* name, bool set_here) {
  if (set_here) return "package";
  return unset(name) ? "built-in" : name;
}

}  // namespace

void use_packaged_openbabel() {
  const fs::path prefix = executable_prefix();
  if (prefix.empty()) return;
  // The package is recognised by its plugin folder; without it (a system install such as the .deb's
  // /usr/bin/dispa, whose ../share/openbabel is the system's own) nothing is changed.
  std::error_code ec;
  const fs::path plugins = prefix / "lib" / "openbabel" / BABEL_VERSION;
  if (!fs::exists(plugins / ("smilesformat" MODULE_EXTENSION), ec)) return;
  if (unset("BABEL_LIBDIR")) {
    ::setenv("BABEL_LIBDIR", plugins.c_str(), 1);
    g_set_libdir = true;
  }
  const fs::path data = prefix / "share" / "openbabel" / BABEL_VERSION;
  if (unset("BABEL_DATADIR") && fs::is_directory(data, ec)) {
    ::setenv("BABEL_DATADIR", data.c_str(), 1);
    g_set_datadir = true;
  }
}

OpenBabelInfo openbabel_info() {
  OpenBabelInfo info;
  info.version = BABEL_VERSION;
  info.plugin_dir = unset("BABEL_LIBDIR") ? OB_MODULE_PATH : std::getenv("BABEL_LIBDIR");
  info.plugin_dir_origin = origin("BABEL_LIBDIR", g_set_libdir);
  info.data_dir = unset("BABEL_DATADIR") ? BABEL_DATADIR : std::getenv("BABEL_DATADIR");
  info.data_dir_origin = origin("BABEL_DATADIR", g_set_datadir);
  std::vector<std::string> formats;
  // false when no "formats" plugin type exists at all (no plugin was loaded); the list then holds
  // the plugin types instead.
  if (OpenBabel::OBPlugin::ListAsVector("formats", "ids", formats)) info.formats = int(formats.size());
  info.smiles = OpenBabel::OBConversion::FindFormat("smi") != nullptr;
  return info;
}

}  // namespace dispa::chem
