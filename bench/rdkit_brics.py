#!/usr/bin/env python3
"""RDKit's BRICS on the GDSC drugs, timed the way bench/brics_bench.cpp times ours.

Stages (molecules per second, CPU time of this process, best of --repeats):
  parse                     Chem.MolFromSmiles
  parse_brics_decompose     + BRICS.BRICSDecompose(mol)          (the call the issue names)
  parse_brics               + BRICS.BreakBRICSBonds + GetMolFrags + MolToSmiles per fragment
                              (the same output as ours: one canonical SMILES per fragment)
  parse_brics_fingerprints  + Morgan count fingerprints (radius 2, 2048 bits) of the molecule and
                              of every fragment (the same work as ours)
Prints one JSON object per stage on stdout.
With --check OURS.tsv (the output of `dispa fragment --components all`), instead compares our
fragment multisets with RDKit's, both canonicalised by RDKit, and prints the agreement.
"""
import argparse
import json
import time

from rdkit import Chem, RDLogger
from rdkit.Chem import BRICS, rdMolDescriptors

RDLogger.DisableLog("rdApp.*")


def read_smiles(path):
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        col = header.index("smiles")
        return [line.rstrip("\n").split("\t")[col] for line in f if line.strip()]


def parse(smiles):
    for s in smiles:
        Chem.MolFromSmiles(s)


def parse_brics_decompose(smiles):
    for s in smiles:
        BRICS.BRICSDecompose(Chem.MolFromSmiles(s))


def fragments(mol):
    return Chem.GetMolFrags(BRICS.BreakBRICSBonds(mol), asMols=True)


def parse_brics(smiles):
    for s in smiles:
        [Chem.MolToSmiles(f) for f in fragments(Chem.MolFromSmiles(s))]


def parse_brics_fingerprints(smiles):
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        frags = fragments(mol)
        [Chem.MolToSmiles(f) for f in frags]
        rdMolDescriptors.GetHashedMorganFingerprint(mol, 2, nBits=2048)
        for f in frags:
            rdMolDescriptors.GetHashedMorganFingerprint(f, 2, nBits=2048)


def check(smiles_path, ours_path):
    with open(smiles_path) as f:
        header = f.readline().rstrip("\n").split("\t")
        name_col, smiles_col = header.index("drug_name"), header.index("smiles")
        drugs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    ours = {}
    with open(ours_path) as f:
        f.readline()
        for line in f:
            name, _, frags = line.rstrip("\n").split("\t")
            ours[name] = frags.split(" . ")
    canon = lambda s: Chem.MolToSmiles(Chem.MolFromSmiles(s)) if Chem.MolFromSmiles(s) else "unparsable:" + s
    agree, differ = 0, []
    for row in drugs:
        name = row[name_col]
        theirs = sorted(Chem.MolToSmiles(f) for f in fragments(Chem.MolFromSmiles(row[smiles_col])))
        mine = sorted(canon(s) for s in ours.get(name, []))
        if mine == theirs:
            agree += 1
        else:
            differ.append(name)
    print(f"fragment multisets identical to RDKit BreakBRICSBonds (canonicalised by RDKit): "
          f"{agree} / {len(drugs)}" + (f"; differ: {', '.join(differ)}" if differ else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("drugs", help="TSV with a 'smiles' column (../shared/data/gdsc2/drugs.tsv)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=1.0, help="per repeat")
    ap.add_argument("--check", metavar="OURS_TSV", help="compare `dispa fragment` output instead of timing")
    args = ap.parse_args()
    if args.check:
        check(args.drugs, args.check)
        return
    smiles = read_smiles(args.drugs)
    for stage in (parse, parse_brics_decompose, parse_brics, parse_brics_fingerprints):
        stage(smiles)  # warm-up
        best = None
        for _ in range(args.repeats):
            start, n = time.process_time(), 0
            while True:
                stage(smiles)
                n += len(smiles)
                elapsed = time.process_time() - start
                if elapsed >= args.min_seconds:
                    break
            rate = n / elapsed
            best = rate if best is None else max(best, rate)
        print(json.dumps({"stage": stage.__name__, "molecules": len(smiles), "molecules_per_second": best,
                          "rdkit": Chem.rdBase.rdkitVersion}), flush=True)


if __name__ == "__main__":
    main()
