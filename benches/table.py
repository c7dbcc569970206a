#!/usr/bin/env python3
"""Builds the table of benches/README.md from one run of the benchmarks.

    python3 benches/table.py --criterion $CARGO_TARGET_DIR/criterion --numpy numpy.csv \
        --peak 98.5 --bw-l3 70 --bw-dram 24 --l3-mib 32 > table.md

Per (d, n): every glocal kernel and every peer, with time (criterion's median, numpy's median),
GFLOP/s (2 n d^2 / t), GB/s of weight traffic (bytes(W) / t: d^2 x 4 for f32, x 2 for 16-bit),
ratio to the best peer (fastest of nalgebra, matrixmultiply, OpenBLAS via numpy, numpy formula)
and ratio to the floor max(bytes(W) / bandwidth, 2 n d^2 / peak), where bandwidth is the L3
figure when W fits in half the L3, else the DRAM figure.
"""
import argparse
import csv
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", required=True)
    ap.add_argument("--numpy", required=True)
    ap.add_argument("--peak", type=float, required=True, help="GFLOP/s")
    ap.add_argument("--bw-l3", type=float, required=True, help="GB/s")
    ap.add_argument("--bw-dram", type=float, required=True, help="GB/s")
    ap.add_argument("--l3-mib", type=float, default=32)
    a = ap.parse_args()

    times = {}  # (d, n) -> {impl: seconds}
    for group in sorted(os.listdir(a.criterion)):
        if not group.startswith("d") or not group[1:].isdigit():
            continue
        d = int(group[1:])
        for impl in os.listdir(os.path.join(a.criterion, group)):
            for param in os.listdir(os.path.join(a.criterion, group, impl)):
                est = os.path.join(a.criterion, group, impl, param, "new", "estimates.json")
                if not param.startswith("n") or not os.path.exists(est):
                    continue
                with open(est) as f:
                    t = json.load(f)["median"]["point_estimate"] * 1e-9
                times.setdefault((d, int(param[1:])), {})[impl] = t
    with open(a.numpy) as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            times.setdefault((int(row["d"]), int(row["n"])), {})[row["impl"]] = float(row["median_us"]) * 1e-6

    print("| d | n | implementation | us | GFLOP/s | GB/s of W | x best peer | x floor |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|")
    for (d, n) in sorted(times):
        cell = times[(d, n)]
        peers = {k: v for k, v in cell.items() if "glocal" not in k and "__" not in k}
        best_peer = min(peers.values()) if peers else float("nan")
        for impl in sorted(cell, key=lambda k: ("__" not in k, cell[k])):
            t = cell[impl]
            es = 2 if impl.startswith(("f16_", "bf16_")) else 4
            wbytes = d * d * es
            bw = a.bw_l3 if wbytes <= a.l3_mib * 2**20 / 2 else a.bw_dram
            floor = max(wbytes / (bw * 1e9), 2 * n * d * d / (a.peak * 1e9))
            flops = 2 * n * d * d / t / 1e9
            print(f"| {d} | {n} | `{impl}` | {t * 1e6:.1f} | {flops:.1f} | {wbytes / t / 1e9:.1f} | "
                  f"{t / best_peer:.2f} | {t / floor:.2f} |")


if __name__ == "__main__":
    main()
