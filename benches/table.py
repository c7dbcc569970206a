#!/usr/bin/env python3
"""Builds the table of benches/README.md from one run of the benchmarks.

    python3 benches/table.py --criterion $CARGO_TARGET_DIR/criterion --numpy numpy.csv \
        --peak 97.2 --bw 1024:59.8,2048:58.4,4096:54.0,8192:31.3,16384:9.2,524288:8.7 > table.md

Per (d, n): every glocal kernel and every peer, with time (criterion's median, numpy's median),
GFLOP/s (2 n d^2 / t), GB/s of weight traffic (bytes(W) / t: d^2 x 4 for f32, x 2 for 16-bit,
x 1 for i8d plus its scales and diagonal, 8 d bytes),
ratio to the best peer (fastest of nalgebra, matrixmultiply, OpenBLAS via numpy, numpy formula)
and ratio to the floor max(bytes(W) / bandwidth, 2 n d^2 / peak), where bandwidth is the
measured read bandwidth for a buffer of bytes(W), interpolated in log size between the
measured buffer sizes (benches/machine.rs). `x f16` (i8d rows only): time / the f16 kernel's
time in the same cell (issue 8's batch-1 target: <= 0.6 for d >= 768). `--numpy` is optional
(without it the best peer is the fastest Rust peer).

With `--key`, it prints instead the key-ratio table of benches/README.md: per (d, n), each glocal
kernel's time over OpenBLAS's (sgemv for n = 1, sgemm otherwise, f32 weights, loaded into the
criterion process with GLOCAL_BENCH_OPENBLAS), i8d over f16, and GFLOP/s with the fraction of
`--peak`.
"""
import argparse
import bisect
import math
import csv
import json
import os


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--criterion", required=True)
    ap.add_argument("--numpy")
    ap.add_argument("--peak", type=float, required=True, help="GFLOP/s")
    ap.add_argument("--bw", required=True,
                    help="read bandwidth curve from benches/machine.rs: KiB:GB/s,KiB:GB/s,...")
    ap.add_argument("--key", action="store_true", help="print the key-ratio table instead")
    a = ap.parse_args()

    curve = sorted((float(k) * 1024, float(v)) for k, v in (p.split(":") for p in a.bw.split(",")))

    def bandwidth(nbytes):
        """GB/s for a working set of nbytes: log-size interpolation of the measured curve."""
        sizes = [s for s, _ in curve]
        i = bisect.bisect_left(sizes, nbytes)
        if i == 0:
            return curve[0][1]
        if i == len(curve):
            return curve[-1][1]
        (s0, b0), (s1, b1) = curve[i - 1], curve[i]
        f = math.log(nbytes / s0) / math.log(s1 / s0)
        return b0 + f * (b1 - b0)

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
    if a.numpy:
        with open(a.numpy) as f:
            for row in csv.DictReader(line for line in f if not line.startswith("#")):
                times.setdefault((int(row["d"]), int(row["n"])), {})[row["impl"]] = float(row["median_us"]) * 1e-6

    def weight_bytes(impl, d):
        if impl.startswith("i8d_"):
            return d * d + 8 * d  # int8 panels + f32 scales and diagonal
        return d * d * (2 if impl.startswith(("f16_", "bf16_")) else 4)

    if a.key:
        key_table(times, a.peak)
        return

    print("| d | n | implementation | us | GFLOP/s | GB/s of W | x best peer | x floor | x f16 |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for (d, n) in sorted(times):
        cell = times[(d, n)]
        peers = {k: v for k, v in cell.items() if "glocal" not in k and "__" not in k}
        best_peer = min(peers.values()) if peers else float("nan")
        f16 = [v for k, v in cell.items() if k.startswith("f16_") and "__" in k]
        for impl in sorted(cell, key=lambda k: ("__" not in k, cell[k])):
            t = cell[impl]
            wbytes = weight_bytes(impl, d)
            bw = bandwidth(wbytes)
            floor = max(wbytes / (bw * 1e9), 2 * n * d * d / (a.peak * 1e9))
            flops = 2 * n * d * d / t / 1e9
            x_f16 = f"{t / f16[0]:.2f}" if impl.startswith("i8d_") and len(f16) == 1 else "-"
            print(f"| {d} | {n} | `{impl}` | {t * 1e6:.1f} | {flops:.1f} | {wbytes / t / 1e9:.1f} | "
                  f"{t / best_peer:.2f} | {t / floor:.2f} | {x_f16} |")


def key_table(times, peak):
    """glocal's kernels over OpenBLAS (f32 weights) per (d, n), and their GFLOP/s."""
    print(f"| d | n | OpenBLAS us | f32 x OB | f16 x OB | bf16 x OB | i8d x f16 | "
          f"f32 / f16 / bf16 GFLOP/s (x peak {peak}) | OpenBLAS GFLOP/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|---:|")
    for (d, n) in sorted(times):
        cell = times[(d, n)]
        ob = cell.get("openblas_sgemv_f32" if n == 1 else "openblas_sgemm_f32")
        ours = {dt: next((v for k, v in cell.items() if k.startswith(dt + "_") and "__" in k), None)
                for dt in ("f32", "f16", "bf16", "i8d")}
        if ob is None or None in ours.values():
            continue
        gflops = lambda t: 2 * n * d * d / t / 1e9
        rate = " / ".join(f"{gflops(ours[dt]):.0f} ({gflops(ours[dt]) / peak:.2f})" for dt in ("f32", "f16", "bf16"))
        print(f"| {d} | {n} | {ob * 1e6:.1f} | {ours['f32'] / ob:.2f} | {ours['f16'] / ob:.2f} | "
              f"{ours['bf16'] / ob:.2f} | {ours['i8d'] / ours['f16']:.2f} | {rate} | "
              f"{gflops(ob):.0f} ({gflops(ob) / peak:.2f}) |")


if __name__ == "__main__":
    main()
