#!/usr/bin/env bash
# End-to-end `glocal align` on 1 and 2 threads (issue 8: 16384 x 768 float32 features, f16
# weights, >= 1.35x faster with --threads 2 than with --threads 1, file I/O included).
#
#   bash benches/threads_e2e.sh            # RUNS=5 runs per thread count, interleaved
#   RUNS=9 ROWS=16384 D=768 bash benches/threads_e2e.sh
#
# Builds the release CLI, writes synthetic features (.npy, float32) and a synthetic
# diagonal-dominant 768-d transform.npz shaped like gLocal's (numpy, seeded; nothing from
# ../shared), packs it as f16, then times `glocal align` wall-clock (process start to exit:
# mapping the features, the transform, writing, fsync and rename of the output) alternately
# with --threads 1 and --threads 2, checks both outputs are byte-identical, and prints every
# time, the best and median per thread count, their ratio, and the load average before and
# after. The kernel alone is `cargo bench -p glocal-benches --bench parallel`.
#
# The numbers mean something only on a quiet machine: any other busy process takes a core
# from the 2-thread run. The script prints `uptime` so a reader can judge.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
ROWS=${ROWS:-16384}
D=${D:-768}
target=${CARGO_TARGET_DIR:-$PWD/target}

python3 -c 'import numpy' 2>/dev/null || { echo "threads_e2e: needs python3 with numpy"; exit 1; }
cargo build -q --release -p glocal-cli
glocal=$target/release/glocal
work=$(mktemp -d "${TMPDIR:-/tmp}/glocal-threads-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

python3 - "$work" "$ROWS" "$D" <<'PY'
import sys
import numpy as np
work, rows, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(8)
# gLocal-like: diagonal about 0.06-0.12, off-diagonal |w| about 3e-4.
w = rng.normal(0.0, 3e-4, (d, d)) + np.diag(rng.uniform(0.06, 0.12, d))
np.savez(f"{work}/transform.npz", weights=w.astype(np.float32),
         bias=rng.normal(0.0, 0.01, d).astype(np.float32), mean=np.float32(0.02), std=np.float32(0.9))
np.save(f"{work}/x.npy", rng.normal(0.0, 1.0, (rows, d)).astype(np.float32))
PY
"$glocal" pack "$work/transform.npz" -o "$work/t.glw" --dtype f16
echo "features: $ROWS x $D float32 ($(stat -c %s "$work/x.npy") bytes), weights: f16 ($(stat -c %s "$work/t.glw") bytes)"
echo "kernel:   $("$glocal" inspect "$work/t.glw" | sed -n 's/^kernel *//p' | head -1)"
echo "load before: $(uptime)"

# Milliseconds of one run.
run() {
  local t0 t1
  t0=$(date +%s%N)
  "$glocal" align "$work/t.glw" "$work/x.npy" -o "$work/y$1.npy" --threads "$1" --quiet
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}

run 1 >/dev/null # warm the page cache and the binary
t1s=() t2s=()
for _ in $(seq "$RUNS"); do
  t1s+=("$(run 1)")
  t2s+=("$(run 2)")
done
cmp "$work/y1.npy" "$work/y2.npy" || { echo "threads_e2e: --threads 2 output differs from --threads 1"; exit 1; }
echo "load after:  $(uptime)"

stats() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "best %d ms, median %d ms", a[1], a[int((NR+1)/2)]}'; }
best() { printf '%s\n' "$@" | sort -n | head -1; }
echo "--threads 1: ${t1s[*]} ms -> $(stats "${t1s[@]}")"
echo "--threads 2: ${t2s[*]} ms -> $(stats "${t2s[@]}")"
b1=$(best "${t1s[@]}") b2=$(best "${t2s[@]}")
awk -v a="$b1" -v b="$b2" 'BEGIN {printf "speed-up (best of each): %.2fx (target >= 1.35x)\n", a / b}'
