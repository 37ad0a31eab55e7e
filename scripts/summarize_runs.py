#!/usr/bin/env python3
"""Summarise dispa run folders (each holding metrics.json) into a Markdown table: one row per fold
for the model and every baseline, then mean and sample sd over folds. Used to write
docs/RESULTS.md when folds were trained as separate processes (`dispa train --fold K`).

    scripts/summarize_runs.py RUN_DIR [RUN_DIR ...]
"""
import json
import math
import sys
from pathlib import Path

KEYS = ["rmse", "mae", "pearson", "spearman", "r2", "per_drug_pearson_mean", "per_drug_pearson_median"]


def fold_records(run_dir: Path):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return metrics["folds"]


def mean_sd(values):
    values = [v for v in values if v is not None]
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, sd


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    folds = sorted((f for d in argv[1:] for f in fold_records(Path(d))), key=lambda f: f["fold"])
    models = ["model"] + list(folds[0]["baselines"].keys())
    get = lambda f, m, k: f[k] if m == "model" else f["baselines"][m].get(k)
    print("| fold | model | " + " | ".join(KEYS) + " | epochs (best) |")
    print("|" + "---|" * (len(KEYS) + 3))
    for f in folds:
        for m in models:
            cells = " | ".join("n/a" if get(f, m, k) is None else f"{get(f, m, k):.4f}" for k in KEYS)
            extra = f"{f['epochs']} ({f['best_epoch']})" if m == "model" else ""
            print(f"| {f['fold']} | {'DiSPA' if m == 'model' else m} | {cells} | {extra} |")
    print()
    print("| model (mean ± sd over %d folds) | " % len(folds) + " | ".join(KEYS) + " |")
    print("|" + "---|" * (len(KEYS) + 1))
    for m in models:
        cells = " | ".join("%.4f ± %.4f" % mean_sd([get(f, m, k) for f in folds]) for k in KEYS)
        print(f"| {'DiSPA' if m == 'model' else m} | {cells} |")


if __name__ == "__main__":
    main(sys.argv)
