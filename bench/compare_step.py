#!/usr/bin/env python3
"""Side-by-side table of training-step / eval-forward times from one JSON-lines file written by
`dispa bench-step --json F` and `bench/torch_dispa.py time --json F` on the same machine (see
scripts/gpu_check.sh, step `step`). Prints, per (mode, attention), each dispa variant's median
against PyTorch eager's median as a speed-up (PyTorch time / dispa time; > 1 means dispa is faster).
Usage: bench/compare_step.py step.jsonl
       bench/compare_step.py --markdown step.jsonl   (bench/compare_torch.sh: rounds interleaved in
       one file; a markdown table per mode, dispa's default path against PyTorch eager, and the last
       line `speedup train <x>x eval <y>x`)"""
import json
import statistics
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


def markdown(path):
    """Rounds are the records of one (impl, mode) in file order; ratios are PyTorch / dispa per round
    (both measured in that round), summarised by their median over rounds."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    dispa = [r for r in rows if r["impl"] == "dispa" and r.get("dedup", True) and r.get("fused_attention", True)
             and not r["tf32"]]
    torch = [r for r in rows if r["impl"] == "pytorch" and not r.get("compile") and not r["tf32"]]
    fmt_ms = lambda r: f"{r['median_ms']:.1f} ({r['p10_ms']:.1f}-{r['p90_ms']:.1f})"
    cpu = lambda r: f"{r['median_cpu_ms']:.0f}" if "median_cpu_ms" in r else "-"
    print("| mode | round | dispa median ms (p10-p90) | PyTorch median ms (p10-p90) | dispa CPU ms | PyTorch CPU ms "
          "| dispa/s | PyTorch/s | speed-up (wall) | speed-up (CPU) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    speedup = {}
    for mode in ("train_step", "eval_forward", "screen"):
        d = [r for r in dispa if r["mode"] == mode]
        t = [r for r in torch if r["mode"] == mode]
        ratios = []
        for i, (a, b) in enumerate(zip(d, t), start=1):
            ratio = b["median_ms"] / a["median_ms"]
            ratios.append(ratio)
            cpu_ratio = (f"{b['median_cpu_ms'] / a['median_cpu_ms']:.2f}x"
                         if "median_cpu_ms" in a and "median_cpu_ms" in b else "-")
            unit = "pairs" if mode == "screen" else "samples"
            print(f"| {mode} | {i} | {fmt_ms(a)} | {fmt_ms(b)} | {cpu(a)} | {cpu(b)} | {a['samples_per_s']:.0f} {unit} "
                  f"| {b['samples_per_s']:.0f} {unit} | {ratio:.2f}x | {cpu_ratio} |")
        if ratios:
            speedup[mode] = statistics.median(ratios)
    devices = sorted({r["device"] for r in rows})
    versions = sorted({r.get("torch", "") for r in torch} - {""})
    print()
    print(f"device(s): {', '.join(devices)}; PyTorch {', '.join(versions)}; speed-up = PyTorch median / dispa median"
          " (> 1: dispa faster), median over rounds; screen = every cell x drug pair (dispa: cell-major screen of"
          " dispa predict; PyTorch: batch inference over the same pairs)")
    if "screen" in speedup:
        print(f"screening speed-up {speedup['screen']:.2f}x")
    print(f"speedup train {speedup.get('train_step', float('nan')):.2f}x eval {speedup.get('eval_forward', float('nan')):.2f}x")
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--markdown":
        sys.exit(markdown(sys.argv[2]))
    sys.exit(main(sys.argv[1]))
