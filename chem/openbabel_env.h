// Where OpenBabel finds its plugins (format readers such as SMILES, descriptors, fingerprints) and
// data files. A system install has them at compiled-in paths; the relocatable package of
// scripts/package.sh carries them beside the binary:
//   <prefix>/bin/dispa
//   <prefix>/lib/openbabel/<OpenBabel version>/*.so     plugins   (BABEL_LIBDIR)
//   <prefix>/share/openbabel/<OpenBabel version>/       data      (BABEL_DATADIR)
// OpenBabel reads BABEL_LIBDIR and BABEL_DATADIR when it first loads plugins, so the binary sets
// them itself, before any OpenBabel use: no wrapper script and no environment for the user.
#pragma once
#include <string>

namespace dispa::chem {

// Sets BABEL_LIBDIR / BABEL_DATADIR to the package's folders when the running executable
// (/proc/self/exe) sits in that layout (recognised by <prefix>/lib/openbabel/<version>/
// smilesformat.so) and the user has not set them; otherwise changes nothing.
// Call first thing in main(), before any thread starts (it calls setenv).
void use_packaged_openbabel();

struct OpenBabelInfo {
  std::string version;            // OpenBabel's release, e.g. "3.1.1"
  std::string plugin_dir;         // where plugins are loaded from
  std::string plugin_dir_origin;  // "package", "BABEL_LIBDIR" (set by the user) or "built-in"
  std::string data_dir;
  std::string data_dir_origin;
  int formats = 0;                // file formats found (loads the plugins); 0 means none were found
  bool smiles = false;            // the SMILES reader dispa needs is among them
};
OpenBabelInfo openbabel_info();

}  // namespace dispa::chem
