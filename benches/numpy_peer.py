#!/usr/bin/env python3
"""numpy / OpenBLAS peers for benches/README.md, on the shapes of benches/kernels.rs.

Single thread: run it as
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
        python3 benches/numpy_peer.py [--quick]
(the two unset variables pin OpenBLAS to a core type / cache size on some images; the run must
use OpenBLAS's own detection). Needs numpy (pip install numpy); threadpoolctl, if installed,
reports the BLAS library, version, kernel (core type) and thread count actually used.

Per shape (d x d, n rows; n = 1 means a single vector) it times
  formula : ((x - mean) / std) @ W + b      numpy's expression, unfolded W, as thingsvision does
  blas    : x @ W' (out= preallocated)       one sgemv (n = 1) or sgemm call on the folded W'
            (no bias add: a strict lower bound for "sgemv with y preset to the bias")
Reported: median and best per-call time over repeats, in microseconds, as CSV on stdout.
"""
import os
import sys
import time

import numpy as np

DIMS = [512, 768, 1024, 2048, 4096]
BATCHES = [1, 8, 64, 1024]


def timeit(fn, budget=1.0, min_reps=5):
    fn()
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    inner = max(1, int(0.02 / one))  # calls per sample: ~20 ms per sample
    samples = []
    end = time.perf_counter() + budget
    while len(samples) < min_reps or time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner)
        if len(samples) >= 200:
            break
    samples.sort()
    return samples[len(samples) // 2], samples[0]


def main():
    quick = "--quick" in sys.argv
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            sys.exit(f"unset {var} for this run (see the docstring)")
    if os.environ.get("OPENBLAS_NUM_THREADS") != "1":
        sys.exit("set OPENBLAS_NUM_THREADS=1 (single-thread comparison)")
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            print("# " + ", ".join(f"{k}={info.get(k)}" for k in
                                   ("internal_api", "version", "architecture", "num_threads", "filepath")))
    except ImportError:
        print("# threadpoolctl not installed: BLAS kernel not reported")
    print(f"# numpy {np.__version__}")
    print("d,n,impl,median_us,best_us")
    rng = np.random.default_rng(0)
    for d in DIMS:
        w = (rng.uniform(-0.05, 0.05, (d, d))).astype(np.float32)
        b = rng.uniform(-0.1, 0.1, d).astype(np.float32)
        mean, std = np.float32(0.01), np.float32(0.5)
        wf = (w / std).astype(np.float32)
        for n in BATCHES:
            if d == 4096 and n == 1024:
                continue
            x = rng.uniform(-1, 1, (n, d) if n > 1 else (d,)).astype(np.float32)
            out = np.empty((n, d) if n > 1 else (d,), dtype=np.float32)
            budget = 0.3 if quick else 1.0
            med, best = timeit(lambda: ((x - mean) / std) @ w + b, budget)
            print(f"{d},{n},numpy_formula,{med * 1e6:.2f},{best * 1e6:.2f}", flush=True)
            med, best = timeit(lambda: np.matmul(x, wf, out=out), budget)
            name = "openblas_sgemv" if n == 1 else "openblas_sgemm"
            print(f"{d},{n},{name},{med * 1e6:.2f},{best * 1e6:.2f}", flush=True)


if __name__ == "__main__":
    main()
