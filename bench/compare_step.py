#!/usr/bin/env python3
"""Side-by-side table of training-step / eval-forward times from one JSON-lines file written by
`dispa bench-step --json F` and `bench/torch_dispa.py time --json F` on the same machine (see
scripts/gpu_check.sh, step `step`). Prints, per (mode, attention), each dispa variant's median
against PyTorch eager's median as a speed-up (PyTorch time / dispa time; > 1 means dispa is faster).
Usage: bench/compare_step.py step.jsonl"""
import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    torch_rows = {(r["mode"], r["attention"], r["tf32"]): r for r in rows
                  if r["impl"] == "pytorch" and not r.get("compile")}
    print(f"{'mode':13} {'attention':12} {'variant':22} {'median ms':>10} {'p10-p90 ms':>16} "
          f"{'samples/s':>10} {'vs PyTorch':>10}")
    for r in rows:
        variant = r["impl"]
        if r["impl"] == "dispa":
            variant += "" if r.get("dedup", True) else " no-dedup"
            variant += "" if r.get("fused_attention", True) else " unfused"
        elif r.get("compile"):
            variant += " compile"
        variant += " tf32" if r["tf32"] else ""
        ref = torch_rows.get((r["mode"], r["attention"], r["tf32"]))
        ratio = f"{ref['median_ms'] / r['median_ms']:.2f}x" if ref else "-"
        print(f"{r['mode']:13} {r['attention']:12} {variant:22} {r['median_ms']:10.3f} "
              f"{r['p10_ms']:7.3f}-{r['p90_ms']:<8.3f} {r['samples_per_s']:10.0f} {ratio:>10}")
    devices = sorted({r["device"] for r in rows})
    print("device(s):", ", ".join(devices))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
