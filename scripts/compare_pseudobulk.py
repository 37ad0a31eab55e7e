#!/usr/bin/env python3
# The single-cell check of docs/TRANSFER.md (Python standard library only): per-line predictions
# from single cells (dispa transfer --pool pseudobulk, or its summary_by_label.tsv) against the same
# lines' bulk predictions (dispa predict on their rows of gdsc2/expression.tsv) and measured GDSC2
# ln IC50: Pearson over drugs per line, and drug-centred 3 x 3 correlations (are the lines told apart?).
# usage: compare_pseudobulk.py PSEUDOBULK.tsv BULK_PREDICTIONS.tsv gdsc2/response.tsv [VALUE_COLUMN]
import csv, sys, math
lines = {"H1975": "ACH-000587", "H2228": "ACH-000447", "HCC827": "ACH-000012"}
def read(path, key, val):
    out = {}
    for r in csv.DictReader(open(path), delimiter="\t"):
        out[(r[key], r["drug_name"])] = float(r[val])
    return out
def pearson(a, b):
    n = len(a); ma = sum(a) / n; mb = sum(b) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return sab / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
pb = read(sys.argv[1], "label", sys.argv[4] if len(sys.argv) > 4 else "prediction")  # pseudobulk predictions.tsv, or summary_by_label.tsv with mean_prediction
bulk = read(sys.argv[2], "cell_id", "prediction")       # dispa predict on the three rows of expression.tsv
meas = read(sys.argv[3], "cell_id", "ln_ic50")          # gdsc2/response.tsv
drugs = sorted({d for (_, d) in pb})
def centred(table, ids):  # drug-centred over the three lines: what differs between lines
    out = {}
    for d in drugs:
        vals = [table[(i, d)] for i in ids]
        m = sum(vals) / len(vals)
        for i, v in zip(ids, vals): out[(i, d)] = v - m
    return out
print("line    r(pseudobulk, bulk pred)  r(pseudobulk, measured)  n_measured  r(bulk pred, measured)")
for name, ach in lines.items():
    p = [pb[(name, d)] for d in drugs]; b = [bulk[(ach, d)] for d in drugs]
    md = [d for d in drugs if (ach, d) in meas]
    print(f"{name:7s} {pearson(p, b):25.3f} {pearson([pb[(name, d)] for d in md], [meas[(ach, d)] for d in md]):24.3f} {len(md):11d} {pearson([bulk[(ach, d)] for d in md], [meas[(ach, d)] for d in md]):23.3f}")
pc = centred(pb, list(lines)); bc = centred(bulk, list(lines.values()))
print("drug-centred r (rows: pseudobulk line, columns: bulk prediction of line)")
print("        " + " ".join(f"{n:>8s}" for n in lines))
for name in lines:
    print(f"{name:7s} " + " ".join(f"{pearson([pc[(name, d)] for d in drugs], [bc[(a, d)] for d in drugs]):8.3f}" for a in lines.values()))
common = [d for d in drugs if all((a, d) in meas for a in lines.values())]
mc = {}
for d in common:
    m = sum(meas[(a, d)] for a in lines.values()) / 3
    for a in lines.values(): mc[(a, d)] = meas[(a, d)] - m
print(f"drug-centred r against measured GDSC2 ln IC50 ({len(common)} drugs measured in all three lines; rows: pseudobulk line, columns: measured line; last row: bulk prediction)")
print("        " + " ".join(f"{n:>8s}" for n in lines))
for name in lines:
    print(f"{name:7s} " + " ".join(f"{pearson([pc[(name, d)] for d in common], [mc[(a, d)] for d in common]):8.3f}" for a in lines.values()))
print("bulk    " + " ".join(f"{pearson([bc[(a, d)] for d in common], [mc[(a, d)] for d in common]):8.3f}" for a in lines.values()))
