#!/usr/bin/env python3
"""Sums Nsight Compute's per-launch gpu__time_duration over kernel names (CSV from
`ncu --metrics gpu__time_duration.sum --csv --log-file F ...`, see scripts/gpu_check.sh profile) and
prints the kernels by total device time, with launch counts and shares.
Usage: bench/ncu_summary.py ncu.csv"""
import csv
import re
import sys
from collections import defaultdict


def main(path):
    lines = open(path, errors="replace").read().splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith('"ID"')), None)
    if start is None:
        print("no ncu CSV table in", path)
        return 1
    total = defaultdict(float)
    count = defaultdict(int)
    for row in csv.DictReader(lines[start:]):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        name = re.sub(r"\(.*", "", row["Kernel Name"]).strip()  # drop the argument list
        value = float(row["Metric Value"].replace(",", ""))
        unit = row.get("Metric Unit", "nsecond")
        scale = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "second": 1e6}.get(unit, 1e-3)
        total[name] += value * scale
        count[name] += 1
    grand = sum(total.values())
    print(f"{'kernel':70} {'launches':>8} {'total us':>10} {'share':>6}")
    for name, us in sorted(total.items(), key=lambda kv: -kv[1]):
        print(f"{name[:70]:70} {count[name]:8d} {us:10.1f} {100 * us / grand:5.1f}%")
    print(f"{'all kernels':70} {sum(count.values()):8d} {grand:10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
