#!/usr/bin/env python3
"""The four-setting table of docs/RESULTS.md from the runs of scripts/gdsc_settings.sh.

    scripts/settings_table.py OUT_ROOT

Reads OUT_ROOT/<setting>-<attention>/fold<k>/metrics.json (finished runs only) and prints, per
setting, DiSPA with differential and with vanilla attention and every baseline of the same runs:
test RMSE, Pearson and per-drug Pearson (mean over drugs with >= 3 test pairs) as mean +- sample sd
over the folds present, the folds used, and the paired difference differential - vanilla in RMSE
over the folds both kinds finished. Baselines come from the differential runs (the vanilla runs
skip ridge; drug-mean, cell-mean and additive are identical in both because the split is).
"""
import json
import math
import sys
from pathlib import Path

SETTINGS = ["random", "cell-blind", "drug-blind", "disjoint"]
ATTENTIONS = ["differential", "vanilla"]
BASELINES = ["drug_mean", "cell_mean", "additive", "ridge"]
KEYS = [("rmse", "RMSE"), ("pearson", "Pearson"), ("per_drug_pearson_mean", "per-drug Pearson")]


def finished_folds(run_root: Path):
    """fold index -> that fold's metrics (the one fold a `--fold K` run holds)."""
    out = {}
    for metrics_file in sorted(run_root.glob("fold*/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        for fold in metrics["folds"]:
            out[fold["fold"]] = fold
    return out


def mean_sd(values):
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return None, None
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else float("nan")
    return m, sd


def cell(values):
    m, sd = mean_sd(values)
    if m is None:
        return "n/a"
    return f"{m:.3f}" if math.isnan(sd) else f"{m:.3f} ± {sd:.3f}"


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    root = Path(argv[1])
    print("| setting | model | folds | " + " | ".join(label for _, label in KEYS) + " |")
    print("|---|---|---|" + "---|" * len(KEYS))
    paired = []
    for setting in SETTINGS:
        runs = {a: finished_folds(root / f"{setting}-{a}") for a in ATTENTIONS}
        if not any(runs.values()):
            continue
        for attention in ATTENTIONS:
            folds = runs[attention]
            if folds:
                values = {k: [f[k] for f in folds.values()] for k, _ in KEYS}
                print(f"| {setting} | DiSPA ({attention}) | {','.join(map(str, sorted(folds)))} | "
                      + " | ".join(cell(values[k]) for k, _ in KEYS) + " |")
        base_runs = runs["differential"] or runs["vanilla"]
        for baseline in BASELINES:
            rows = [f["baselines"].get(baseline) for f in base_runs.values()]
            rows = [r for r in rows if r]
            if not rows:
                continue
            print(f"| {setting} | {baseline} | {len(rows)} folds | "
                  + " | ".join(cell([r.get(k) for r in rows]) for k, _ in KEYS) + " |")
        both = sorted(set(runs["differential"]) & set(runs["vanilla"]))
        if both:
            d = [runs["differential"][k]["rmse"] - runs["vanilla"][k]["rmse"] for k in both]
            paired.append((setting, both, d))
    if paired:
        print()
        print("| setting | folds | RMSE differential − vanilla (per fold) | mean |")
        print("|---|---|---|---|")
        for setting, both, d in paired:
            print(f"| {setting} | {','.join(map(str, both))} | {', '.join(f'{x:+.3f}' for x in d)} | "
                  f"{sum(d) / len(d):+.3f} |")


if __name__ == "__main__":
    main(sys.argv)
