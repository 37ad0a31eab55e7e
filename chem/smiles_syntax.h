// A syntactic check of SMILES (OpenSMILES grammar, http://opensmiles.org/opensmiles.html) run
// before OpenBabel sees the string, and the size limits that protect the parser and BRICS.
//
// Why: OpenBabel 3.1 accepts some malformed strings silently ("C(" parses as methane,
// "[C@@@@@H]" as a carbon with made-up stereo), and its recursive graph code overflows the stack on
// very long chains (a 100,000-atom chain crashed `dispa fragment`; 10,000 atoms took 54 s first).
// Checked here, in one left-to-right pass without recursion:
//   * characters: organic-subset atoms (B C N O P S F Cl Br I, aromatic b c n o p s, *), bracket
//     atoms, bonds - = # $ : / \, branches ( ), ring-bond digits and %nn, dots;
//   * bracket atoms [isotope? symbol chirality? hcount? charge? class?]: a known element (or
//     aromatic b c n o p s se as te, or *), chirality @ or @@ (or @TH1-2, @AL1-2, @SP1-3, @TB1-20,
//     @OH1-30), H with at most one digit, charge + - ++ -- or +n/-n with |n| <= 15, :class;
//   * every branch and every bond follows an atom; a bond is followed by an atom or a ring bond;
//     parentheses balance and no branch is empty; dots separate non-empty components;
//   * ring bonds close: each opened number is closed, never on the atom that opened it, never twice
//     between the same two atoms, and with the same bond symbol on both ends when both give one;
//   * size: at most SmilesLimits::max_length characters and max_atoms atoms (defaults with a wide
//     margin over real drugs: the largest GDSC drug, bleomycin, has 96 atoms in 228 characters).
// A violation throws dispa::Error saying what is wrong and at which 1-based character position.
#pragma once
#include <cstddef>
#include <string_view>

namespace dispa::chem {

struct SmilesLimits {
  size_t max_length = 4000;  // characters, checked before anything else is read
  int max_atoms = 1000;      // atoms written in the string (bracket [H] included, implicit H not)
};

// Throws dispa::Error ("position N: ...") on the first violation; returns the number of atoms.
int check_smiles_syntax(std::string_view smiles, const SmilesLimits& limits = {});

}  // namespace dispa::chem
