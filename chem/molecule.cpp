// Molecules through OpenBabel: SMILES parsing with a documented component rule, canonical SMILES
// with dummy labels in the ranking, connected components and their extraction. See molecule.h.
#include "chem/molecule.h"

#include <algorithm>
#include <mutex>
#include <sstream>

#include <openbabel/atom.h>
#include <openbabel/bitvec.h>
#include <openbabel/bond.h>
#include <openbabel/mol.h>
#include <openbabel/obconversion.h>
#include <openbabel/oberror.h>
#include <openbabel/obiter.h>

#include "chem/smiles_syntax.h"
#include "engine/error.h"
#include "engine/io/text.h"

namespace dispa::chem {
namespace {

using OpenBabel::OBAtom;
using OpenBabel::OBConversion;
using OpenBabel::OBMol;

std::mutex& parse_mutex() {
  static std::mutex m;
  return m;
}

// OpenBabel reports problems through the global obErrorLog and prints them to stderr by default.
// Library code must not print, so its output goes nowhere; parse_smiles reads the stored messages
// to build its own error.
void quiet_openbabel_log() {
  static std::once_flag once;
  std::call_once(once, [] {
    static std::ostream null_stream(nullptr);
    OpenBabel::obErrorLog.SetOutputStream(&null_stream);
    OpenBabel::obErrorLog.SetMaxLogEntries(64);
    OpenBabel::obErrorLog.StartLogging();
  });
}

OBConversion& smiles_reader() {
  thread_local OBConversion conv = [] {
    OBConversion c;
    DISPA_CHECK(c.SetInFormat("smi"), "chem: OpenBabel has no SMILES reader (is the 'smi' plugin installed?)");
    return c;
  }();
  return conv;
}

OBConversion& canonical_writer() {
  thread_local OBConversion conv = [] {
    OBConversion c;
    DISPA_CHECK(c.SetOutFormat("can"), "chem: OpenBabel has no canonical SMILES writer");
    c.AddOption("n", OBConversion::OUTOPTIONS);  // no title after the SMILES
    return c;
  }();
  return conv;
}

// OpenBabel's stored messages look like "====\n*** Open Babel Error  in ParseSimple\n  text\n====";
// keep only the text lines.
std::string openbabel_diagnosis() {
  std::string out;
  for (auto level : {OpenBabel::obError, OpenBabel::obWarning}) {
    for (const std::string& message : OpenBabel::obErrorLog.GetMessagesOfLevel(level)) {
      std::istringstream lines(message);
      std::string line;
      while (std::getline(lines, line)) {
        const size_t start = line.find_first_not_of(" \t");
        if (start == std::string::npos || line[start] == '=' || line.compare(start, 3, "***") == 0) continue;
        if (!out.empty()) out += "; ";
        out += line.substr(start);
      }
    }
  }
  return out;
}

std::string describe(std::string_view name) {
  return name.empty() ? std::string("molecule") : fmt::format("drug '{}'", io::shorten(name));
}

bool has_carbon(const OBMol& mol, const std::vector<int>& atoms) {
  for (int idx : atoms)
    if (const_cast<OBMol&>(mol).GetAtom(idx)->GetAtomicNum() == 6) return true;
  return false;
}

int heavy_count(const OBMol& mol, const std::vector<int>& atoms) {
  int n = 0;
  for (int idx : atoms)
    if (const_cast<OBMol&>(mol).GetAtom(idx)->GetAtomicNum() > 1) ++n;
  return n;
}

// Index into `components` of the one to keep under largest_organic.
size_t choose_component(const OBMol& mol, const std::vector<std::vector<int>>& components) {
  bool any_organic = false;
  for (const auto& c : components) any_organic = any_organic || has_carbon(mol, c);
  size_t best = 0;
  int best_heavy = -1;
  for (size_t i = 0; i < components.size(); ++i) {
    if (any_organic && !has_carbon(mol, components[i])) continue;
    const int heavy = heavy_count(mol, components[i]);
    if (heavy > best_heavy) {  // strict: ties keep the first component in SMILES order
      best = i;
      best_heavy = heavy;
    }
  }
  return best;
}

}  // namespace

ComponentPolicy parse_component_policy(std::string_view text) {
  if (text == "largest") return ComponentPolicy::largest_organic;
  if (text == "all") return ComponentPolicy::keep_all;
  fail("chem: unknown component policy '{}' (expected 'largest' or 'all')", text);
}

std::string_view component_policy_name(ComponentPolicy policy) {
  return policy == ComponentPolicy::keep_all ? "all" : "largest";
}

// ---- Molecule ------------------------------------------------------------------------------------

Molecule::Molecule() : mol_(std::make_unique<OBMol>()) { quiet_openbabel_log(); }
Molecule::Molecule(const OBMol& mol) : mol_(std::make_unique<OBMol>(mol)) {}
Molecule::~Molecule() = default;
Molecule::Molecule(const Molecule& other) : mol_(std::make_unique<OBMol>(*other.mol_)) {}
Molecule& Molecule::operator=(const Molecule& other) {
  if (this != &other) mol_ = std::make_unique<OBMol>(*other.mol_);
  return *this;
}
Molecule::Molecule(Molecule&& other) noexcept = default;
Molecule& Molecule::operator=(Molecule&& other) noexcept = default;

int Molecule::num_atoms() const { return static_cast<int>(mol_->NumAtoms()); }

int Molecule::num_heavy_atoms() const {
  int n = 0;
  FOR_ATOMS_OF_MOL(atom, *mol_) if (atom->GetAtomicNum() > 1) ++n;
  return n;
}

int Molecule::num_components() const { return static_cast<int>(connected_components(*mol_).size()); }

std::string Molecule::smiles() const { return write_canonical_smiles(*mol_); }

// ---- functions -----------------------------------------------------------------------------------

std::vector<std::vector<int>> connected_components(const OBMol& mol_in) {
  OBMol& mol = const_cast<OBMol&>(mol_in);  // OpenBabel's accessors are not const
  const int n = static_cast<int>(mol.NumAtoms());
  std::vector<int> component(n + 1, -1);
  std::vector<std::vector<int>> components;
  std::vector<int> stack;
  for (int start = 1; start <= n; ++start) {
    if (component[start] >= 0) continue;
    const int id = static_cast<int>(components.size());
    components.emplace_back();
    component[start] = id;
    stack.assign(1, start);
    while (!stack.empty()) {
      const int idx = stack.back();
      stack.pop_back();
      components[id].push_back(idx);
      FOR_NBORS_OF_ATOM(nbr, mol.GetAtom(idx)) {
        if (component[nbr->GetIdx()] < 0) {
          component[nbr->GetIdx()] = id;
          stack.push_back(static_cast<int>(nbr->GetIdx()));
        }
      }
    }
    std::sort(components[id].begin(), components[id].end());
  }
  return components;
}

// OpenBabel's canonical ranking and stereo perception ignore isotopes of dummy atoms, so
// "[1*]C(=O)C([4*])[8*]" and "[1*]C(=O)C([8*])[4*]" stay two strings for one fragment and the
// centre of "[4*][C@H](O)[5*]" looks non-stereogenic. To make the labels count, the dummies are
// written with their label's rank among the molecule's distinct labels encoded as a formal charge
// (+1..+8, then -1..-7; charge is one of OpenBabel's atom invariants), and the bracket tokens are
// then rewritten to "[label*]". The rank is a function of the molecule, so the result is canonical.
namespace {

int rank_to_charge(size_t rank) { return rank < 8 ? static_cast<int>(rank) + 1 : 7 - static_cast<int>(rank); }

// Rewrites "[*+2]" style tokens to "[16*]" using the charge -> label table.
std::string restore_dummy_labels(const std::string& smiles, const std::vector<std::pair<int, unsigned>>& charge_label) {
  std::string out;
  out.reserve(smiles.size() + 8);
  size_t i = 0;
  while (i < smiles.size()) {
    if (smiles.compare(i, 2, "[*") == 0) {
      const size_t close = smiles.find(']', i);
      const std::string body = smiles.substr(i + 2, close - i - 2);  // "+", "+2", "-", "-3"
      int charge = 0;
      if (!body.empty() && (body[0] == '+' || body[0] == '-')) {
        const int magnitude = body.size() > 1 ? std::stoi(body.substr(1)) : 1;
        charge = body[0] == '+' ? magnitude : -magnitude;
      }
      for (const auto& [c, label] : charge_label)
        if (c == charge) out += fmt::format("[{}*]", label);
      i = close + 1;
    } else {
      out += smiles[i++];
    }
  }
  return out;
}

}  // namespace

std::string write_canonical_smiles(const OBMol& mol_in, bool isomeric) {
  if (!isomeric) {  // no stereo, no isotopes (so no dummy labels either): nothing to rank
    OBConversion& conv = canonical_writer();
    conv.AddOption("i", OBConversion::OUTOPTIONS);
    std::string out = conv.WriteString(const_cast<OBMol*>(&mol_in), true);
    conv.RemoveOption("i", OBConversion::OUTOPTIONS);
    return out;
  }
  // The writer perceives stereo (and may drop marks on centres that are not stereogenic): a
  // mutation of perceived data only, hence the const_cast.
  OBMol& mol = const_cast<OBMol&>(mol_in);
  std::vector<OBAtom*> dummies;
  std::vector<unsigned> labels;
  bool charged = false;
  FOR_ATOMS_OF_MOL(atom, mol) {
    if (atom->GetAtomicNum() != 0) continue;
    dummies.push_back(&*atom);
    labels.push_back(atom->GetIsotope());
    charged = charged || atom->GetFormalCharge() != 0;
  }
  std::vector<unsigned> distinct = labels;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  if (distinct.size() < 2 || distinct.size() > 15 || charged)  // no tie to break, or cannot encode
    return canonical_writer().WriteString(&mol, true);

  mol.GetAtom(1)->IsAromatic();  // perceive aromaticity before the charges exist
  std::vector<std::pair<int, unsigned>> charge_label;
  for (size_t r = 0; r < distinct.size(); ++r) charge_label.emplace_back(rank_to_charge(r), distinct[r]);
  for (size_t k = 0; k < dummies.size(); ++k) {
    const size_t rank = std::lower_bound(distinct.begin(), distinct.end(), labels[k]) - distinct.begin();
    dummies[k]->SetIsotope(0);
    dummies[k]->SetFormalCharge(rank_to_charge(rank));
  }
  const std::string encoded = canonical_writer().WriteString(&mol, true);
  for (size_t k = 0; k < dummies.size(); ++k) {
    dummies[k]->SetIsotope(labels[k]);
    dummies[k]->SetFormalCharge(0);
  }
  return restore_dummy_labels(encoded, charge_label);
}

Molecule extract_atoms(const OBMol& mol, const std::vector<int>& atoms) {
  OpenBabel::OBBitVec include(static_cast<unsigned>(mol.NumAtoms()) + 1);
  for (int idx : atoms) include.SetBitOn(static_cast<unsigned>(idx));
  Molecule out;
  // correctvalence = 0: the atoms are a whole component, no bond is broken, hydrogen counts stay.
  DISPA_CHECK(const_cast<OBMol&>(mol).CopySubstructure(out.ob(), &include, nullptr, 0),
              "chem: cannot copy a substructure of {} atoms", atoms.size());
  return out;
}

ParsedMolecule parse_smiles(std::string_view smiles, std::string_view name, ComponentPolicy policy,
                            const SmilesLimits& limits) {
  quiet_openbabel_log();
  // OpenBabel reads "SMILES title": anything after a space or tab would silently become the title.
  if (name == smiles) name = {};  // `dispa fragment --smiles` names a molecule by its SMILES: say it once
  DISPA_CHECK(!smiles.empty(), "chem: {} has an empty SMILES", describe(name));
  DISPA_CHECK(smiles.find_first_of(" \t\r\n") == std::string_view::npos,
              "chem: {} has a SMILES with whitespace inside: '{}'", describe(name), io::shorten(smiles));
  // Our own syntax and size check first: OpenBabel accepts some malformed strings and overflows
  // its stack on huge molecules (smiles_syntax.h).
  try {
    check_smiles_syntax(smiles, limits);
  } catch (const Error& e) {
    fail("chem: {} has an invalid SMILES '{}': {}", describe(name), io::shorten(smiles), e.what());
  }
  ParsedMolecule result;
  OBMol& mol = result.molecule.ob();
  {
    std::lock_guard<std::mutex> lock(parse_mutex());
    OpenBabel::obErrorLog.ClearLog();
    const bool ok = smiles_reader().ReadString(&mol, std::string(smiles));
    if (!ok || mol.NumAtoms() == 0) {
      const std::string why = openbabel_diagnosis();
      fail("chem: cannot parse the SMILES of {}: '{}'{}{}", describe(name), io::shorten(smiles),
           why.empty() ? "" : ": ", io::shorten(why, 300));
    }
  }
  // RDKit drops ordinary explicit hydrogens; so do we, so that atom degrees (BRICS's D) agree.
  bool has_h = false;
  FOR_ATOMS_OF_MOL(atom, mol) has_h = has_h || atom->GetAtomicNum() == 1;
  if (has_h) mol.DeleteHydrogens();

  const auto components = connected_components(mol);
  if (policy == ComponentPolicy::largest_organic && components.size() > 1) {
    const size_t keep = choose_component(mol, components);
    for (size_t i = 0; i < components.size(); ++i)
      if (i != keep) result.dropped.push_back(extract_atoms(mol, components[i]).smiles());
    Molecule kept = extract_atoms(mol, components[keep]);
    result.molecule = std::move(kept);  // `mol` refers to the replaced molecule from here on
  }
  return result;
}

std::string canonical_smiles(std::string_view smiles) {
  return parse_smiles(smiles, {}, ComponentPolicy::keep_all).molecule.smiles();
}

}  // namespace dispa::chem
