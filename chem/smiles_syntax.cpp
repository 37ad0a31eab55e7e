// The SMILES syntax check (rules in smiles_syntax.h): one pass over the characters with a small
// state (what the previous token was, the branch depth, the open ring bonds). No recursion, so
// the check itself is safe on any input.
#include "chem/smiles_syntax.h"

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/error.h"
#include "engine/io/text.h"

namespace dispa::chem {
namespace {

// Every element symbol (Z = 1..118).
constexpr std::array<std::string_view, 118> kElements{
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar",
    "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db", "Sg", "Bh", "Hs",
    "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};

bool is_element(std::string_view s) {
  for (std::string_view e : kElements)
    if (e == s) return true;
  return false;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_bond(char c) { return c == '-' || c == '=' || c == '#' || c == '$' || c == ':' || c == '/' || c == '\\'; }

// What came just before the current character.
enum class Prev { start, atom, bond, open, close, ring, dot };

class Checker {
 public:
  Checker(std::string_view s, const SmilesLimits& limits) : s_(s), limits_(limits) {}

  int run() {
    DISPA_CHECK(!s_.empty(), "empty SMILES");
    DISPA_CHECK(s_.size() <= limits_.max_length,
                "the SMILES has {} characters, more than the limit of {} (molecules of that size are not drugs this "
                "model can featurise)", s_.size(), limits_.max_length);
    while (i_ < s_.size()) step();
    DISPA_CHECK(depth_ == 0, "{} branch(es) opened with '(' are never closed (position {} is the last open one)",
                depth_, open_at_.back() + 1);
    DISPA_CHECK(prev_ == Prev::atom || prev_ == Prev::ring || prev_ == Prev::close,
                "position {}: the SMILES ends with '{}', which must be followed by an atom", s_.size(), s_.back());
    for (size_t n = 0; n < ring_.size(); ++n)
      DISPA_CHECK(ring_[n].atom < 0, "ring bond {} (position {}) is opened but never closed", n, ring_[n].position + 1);
    return atoms_;
  }

 private:
  struct OpenRing {
    int atom = -1;  // the atom that opened it, -1 when the number is free
    char bond = 0;  // bond symbol written at the opening, 0 if none
    size_t position = 0;
  };

  [[noreturn]] void error(size_t at, const std::string& what) const { fail("position {}: {}", at + 1, what); }

  std::string shown(char c) const { return io::shorten(std::string_view(&c, 1)); }

  void step() {
    const char c = s_[i_];
    if (c == '(') return open_branch();
    if (c == ')') return close_branch();
    if (c == '.') return dot();
    if (is_bond(c)) return bond();
    if (is_digit(c) || c == '%') return ring_bond();
    if (c == '[') return bracket_atom();
    organic_atom();
  }

  void atom_seen(size_t at) {
    ++atoms_;
    DISPA_CHECK(atoms_ <= limits_.max_atoms,
                "position {}: more than {} atoms (the limit; the largest GDSC drug has 96): molecules of that size "
                "are not drugs this model can featurise", at + 1, limits_.max_atoms);
    current_atom_ = atoms_ - 1;
    prev_ = Prev::atom;
    pending_bond_ = 0;
  }

  void organic_atom() {
    const size_t at = i_;
    const char c = s_[i_++];
    switch (c) {
      case 'B':
        if (i_ < s_.size() && s_[i_] == 'r') ++i_;
        break;
      case 'C':
        if (i_ < s_.size() && s_[i_] == 'l') ++i_;
        break;
      case 'N': case 'O': case 'P': case 'S': case 'F': case 'I':
      case 'b': case 'c': case 'n': case 'o': case 'p': case 's': case '*':
        break;
      default:
        error(at, fmt::format("unexpected character '{}' (atoms outside brackets are B C N O P S F Cl Br I, "
                              "aromatic b c n o p s, or *; others need brackets, e.g. [Na])", shown(c)));
    }
    atom_seen(at);
  }

  void bracket_atom() {
    const size_t at = i_++;
    const size_t close = s_.find(']', i_);
    if (close == std::string_view::npos) error(at, "'[' without a closing ']'");
    const std::string_view body = s_.substr(i_, close - i_);
    if (body.find('[') != std::string_view::npos) error(at, "'[' inside a bracket atom");
    size_t k = 0;
    auto here = [&] { return i_ + k; };
    size_t digits = 0;
    while (k < body.size() && is_digit(body[k])) ++k, ++digits;
    if (digits > 3) error(at + 1, "an isotope has at most 3 digits");
    // Symbol: *, an aromatic symbol, or an element (two letters when that is an element).
    if (k >= body.size()) error(here(), "a bracket atom needs an element symbol");
    if (body[k] == '*') {
      ++k;
    } else if (body.substr(k, 2) == "se" || body.substr(k, 2) == "as" || body.substr(k, 2) == "te") {
      k += 2;
    } else if (std::string_view("bcnops").find(body[k]) != std::string_view::npos) {
      ++k;
    } else if (body[k] >= 'A' && body[k] <= 'Z') {
      if (k + 1 < body.size() && body[k + 1] >= 'a' && body[k + 1] <= 'z' && is_element(body.substr(k, 2)))
        k += 2;
      else if (is_element(body.substr(k, 1)))
        ++k;
      else
        error(here(), fmt::format("'{}' is not an element symbol", io::shorten(body.substr(k, 2))));
    } else {
      error(here(), fmt::format("'{}' is not an element symbol", shown(body[k])));
    }
    // Chirality.
    if (k < body.size() && body[k] == '@') {
      ++k;
      if (k < body.size() && body[k] == '@') {
        ++k;
      } else if (k + 1 < body.size() && (body.substr(k, 2) == "TH" || body.substr(k, 2) == "AL" ||
                                         body.substr(k, 2) == "SP" || body.substr(k, 2) == "TB" ||
                                         body.substr(k, 2) == "OH")) {
        const std::string_view cls = body.substr(k, 2);
        k += 2;
        int n = 0, nd = 0;
        while (k < body.size() && is_digit(body[k]) && nd < 3) n = n * 10 + (body[k++] - '0'), ++nd;
        const int hi = cls == "TH" || cls == "AL" ? 2 : cls == "SP" ? 3 : cls == "TB" ? 20 : 30;
        if (n < 1 || n > hi) error(here(), fmt::format("chirality @{} takes a number from 1 to {}", cls, hi));
      }
      if (k < body.size() && body[k] == '@') error(here(), "chirality is @ or @@ (more '@' marks are not SMILES)");
    }
    // Hydrogen count.
    if (k < body.size() && body[k] == 'H') {
      ++k;
      if (k < body.size() && is_digit(body[k])) ++k;
    }
    // Charge.
    if (k < body.size() && (body[k] == '+' || body[k] == '-')) {
      const char sign = body[k++];
      if (k < body.size() && body[k] == sign) {
        ++k;  // "++" / "--" (OpenSMILES accepts them, deprecated)
      } else if (k < body.size() && is_digit(body[k])) {
        int n = 0, nd = 0;
        while (k < body.size() && is_digit(body[k])) n = n * 10 + (body[k++] - '0'), ++nd;
        if (nd > 2 || n > 15) error(here(), "a charge is at most 15");
      }
    }
    // Atom class.
    if (k < body.size() && body[k] == ':') {
      ++k;
      size_t nd = 0;
      while (k < body.size() && is_digit(body[k])) ++k, ++nd;
      if (nd == 0) error(here(), "an atom class ':' needs a number");
    }
    if (k != body.size())
      error(here(), fmt::format("unexpected '{}' in the bracket atom '[{}]'", shown(body[k]), io::shorten(body, 20)));
    i_ = close + 1;
    atom_seen(at);
  }

  void bond() {
    const size_t at = i_;
    const char c = s_[i_++];
    if (prev_ == Prev::start || prev_ == Prev::dot) error(at, fmt::format("bond '{}' before any atom", c));
    if (prev_ == Prev::bond) error(at, fmt::format("two bonds in a row ('{}{}')", s_[at - 1], c));
    bond_after_atom_ = prev_ == Prev::atom || prev_ == Prev::ring;
    pending_bond_ = c;
    prev_ = Prev::bond;
  }

  void ring_bond() {
    const size_t at = i_;
    size_t number = 0;
    if (s_[i_] == '%') {
      if (i_ + 2 >= s_.size() || !is_digit(s_[i_ + 1]) || !is_digit(s_[i_ + 2]))
        error(at, "'%' must be followed by two digits (ring bonds %10 to %99)");
      number = size_t(s_[i_ + 1] - '0') * 10 + size_t(s_[i_ + 2] - '0');
      i_ += 3;
    } else {
      number = size_t(s_[i_++] - '0');
    }
    const bool after_atom = prev_ == Prev::atom || prev_ == Prev::ring || (prev_ == Prev::bond && bond_after_atom_);
    if (!after_atom) error(at, fmt::format("ring bond {} must follow an atom", number));
    const char bond_symbol = prev_ == Prev::bond ? pending_bond_ : 0;
    OpenRing& r = ring_[number];
    if (r.atom < 0) {
      r = {current_atom_, bond_symbol, at};
    } else {
      if (r.atom == current_atom_) error(at, fmt::format("ring bond {} closes on the atom that opened it", number));
      auto plain = [](char b) { return b != 0 && b != '/' && b != '\\'; };
      if (plain(r.bond) && plain(bond_symbol) && r.bond != bond_symbol)
        error(at, fmt::format("ring bond {} is opened with '{}' and closed with '{}'", number, r.bond, bond_symbol));
      const std::pair<int, int> pair = std::minmax(r.atom, current_atom_);
      if (!ring_pairs_.insert(pair).second)
        error(at, fmt::format("ring bond {} joins two atoms a ring bond already joins", number));
      r = OpenRing{};
    }
    prev_ = Prev::ring;
  }

  void open_branch() {
    if (prev_ != Prev::atom && prev_ != Prev::ring && prev_ != Prev::close)
      error(i_, "'(' must follow an atom (a branch hangs off the atom before it)");
    open_at_.push_back(i_);
    ++depth_;
    ++i_;
    prev_ = Prev::open;
  }

  void close_branch() {
    if (depth_ == 0) error(i_, "')' without a matching '('");
    if (prev_ == Prev::open) error(i_, "empty branch '()'");
    if (prev_ != Prev::atom && prev_ != Prev::ring && prev_ != Prev::close)
      error(i_, "a branch must end with an atom");
    open_at_.pop_back();
    --depth_;
    ++i_;
    prev_ = Prev::close;
  }

  void dot() {
    if (prev_ == Prev::start || prev_ == Prev::dot || prev_ == Prev::bond)
      error(i_, "'.' must separate two components (no empty component, no bond before it)");
    ++i_;
    prev_ = Prev::dot;
  }

  std::string_view s_;
  const SmilesLimits& limits_;
  size_t i_ = 0;
  Prev prev_ = Prev::start;
  bool bond_after_atom_ = false;  // the pending bond directly follows an atom (or ring bond)
  char pending_bond_ = 0;
  int atoms_ = 0, current_atom_ = -1, depth_ = 0;
  std::vector<size_t> open_at_;
  std::array<OpenRing, 100> ring_{};
  std::set<std::pair<int, int>> ring_pairs_;
};

}  // namespace

int check_smiles_syntax(std::string_view smiles, const SmilesLimits& limits) {
  return Checker(smiles, limits).run();
}

}  // namespace dispa::chem
