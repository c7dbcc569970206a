#!/usr/bin/env bash
# Miri over the core's unsafe code: the byte-to-slice views and every SIMD kernel, on a targeted
# list of small shapes that reaches every path of the kernel drivers (tests/kernels_small.rs,
# MIRI_CASES), plus the malformed-input cases that go through the views. Two runs:
#
#   x86_64, -C target-cpu=haswell: the AVX2/FMA/F16C kernels (f32, f16, bf16 and q8 weights) with the
#     F16C widening (vcvtph2ps) interpreted as written, on every MIRI_CASES shape
#     (GLOCAL_SMALL_ISAS=avx2); the byte views at a 4-byte offset through every kernel
#     (scalar and i8d included); misaligned blobs, wrong-width features and NaN rows.
#     The portable kernels (scalar.rs, i8d.rs) contain no unsafe code: Miri adds nothing over
#     the native tests there beyond the views, so they do not run on every shape.
#   aarch64-unknown-linux-gnu: the NEON kernels (f32, f16, bf16 and q8 weights) on the same cases
#     (GLOCAL_SMALL_ISAS=neon), and the views again. Inline asm (FCVTL, PRFM) cannot run under
#     Miri: the kernels use their cfg(miri) alternatives there.
#
# The AVX-512 kernels are not run under Miri (the haswell build has no AVX-512; they run natively
# in the test step and with GLOCAL_FORCE_ISA=avx512 in 10-isa.sh, on a CPU that has them).
#
# Selection is by test target and module, never by test name: every test of
# tests/kernels_small.rs and tests/malformed_features.rs, and the `in_place` module of
# tests/malformed_blob.rs. Each run's libtest summaries are checked: one per selected target,
# each with at least one test run and none failed, so a renamed module or file fails here
# instead of passing with zero tests. GLOCAL_EXPECT_ISA makes a run fail if its SIMD kernels
# did not run. The coverage table (which shape reached which path, with the kernels and
# conversions that ran it) is printed by the test itself from MIRI_CASES.
set -euo pipefail
cd "$(dirname "$0")/../.."
# A cross runner would make cargo-miri hand its pseudo-binary to qemu (toolchain.md gotcha 7).
unset CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER
unset GLOCAL_FORCE_ISA RUSTFLAGS GLOCAL_SMALL_ISAS GLOCAL_EXPECT_ISA
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
# The haswell build has other RUSTFLAGS than every other build in CI: its own target dir, so
# neither evicts the other's artifacts.
haswell_target="${CARGO_TARGET_DIR:-target}/miri-haswell"
# Interpreting the selection takes a few minutes; a run still going after 40 min is hung.
limit=2400

# checked_run LABEL TARGETS -- COMMAND...: runs COMMAND (a `cargo miri test` selecting TARGETS
# test targets) and fails unless it passes with exactly TARGETS libtest summaries, each with
# at least one test passed.
checked_run() {
  local label=$1 want=$2 t0 rc=0 log
  shift 3
  t0=$(date +%s)
  log=$(mktemp /tmp/glocal-miri-run.XXXXXX)
  timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 || rc=$?
  cat "$log"
  local secs=$(( $(date +%s) - t0 ))
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    echo "miri: $label TIMEOUT: no result after $limit s"; rm -f "$log"; return 1
  fi
  if [ "$rc" != 0 ]; then
    echo "miri: $label FAILED (exit $rc, $secs s)"; rm -f "$log"; return "$rc"
  fi
  # libtest: "test result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 2 filtered out; ..."
  local summary
  summary=$( (grep -E '^test result: ' "$log" || true) |
    sed -E 's/^test result: [A-Za-z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/')
  rm -f "$log"
  local n=0 bad=0 counts=""
  while read -r passed failed; do
    [ -n "$passed" ] || continue
    n=$((n + 1)); counts+="${counts:+, }$passed"
    if [ "$passed" -lt 1 ] || [ "$failed" != 0 ]; then bad=1; fi
  done <<<"$summary"
  if [ "$n" != "$want" ] || [ "$bad" != 0 ]; then
    echo "miri: $label FAILED: expected $want test targets each running at least one test, got $n summaries with ${counts:-no} tests passed (a renamed test file or module selects nothing)"
    return 1
  fi
  echo "miri: $label ok ($secs s; tests per target: $counts)"
}

# The two runs are independent (own target directories) and Miri interprets on one thread, so
# they run side by side on the two cores: about the time of the longer one instead of the sum.
x86_log=$(mktemp /tmp/glocal-miri-x86.XXXXXX)
neon_log=$(mktemp /tmp/glocal-miri-neon.XXXXXX)
trap 'rm -f "$x86_log" "$neon_log"' EXIT
x86_run() {
  export CARGO_TARGET_DIR="$haswell_target" RUSTFLAGS="-C target-cpu=haswell" GLOCAL_EXPECT_ISA=avx2 \
    GLOCAL_SMALL_ISAS=avx2
  checked_run "x86_64 haswell: kernels_small + malformed_features (avx2 kernels; views of every kernel)" 2 -- \
    cargo +nightly miri test -p glocal --test kernels_small --test malformed_features -- --nocapture &&
  checked_run "x86_64 haswell: malformed_blob, module in_place" 1 -- \
    cargo +nightly miri test -p glocal --test malformed_blob -- in_place::
}
x86_run >"$x86_log" 2>&1 &
x86_pid=$!

neon_status=0
GLOCAL_SMALL_ISAS=neon GLOCAL_EXPECT_ISA=neon \
  checked_run "aarch64: kernels_small (neon kernels; views of every kernel)" 1 -- \
  cargo +nightly miri test -p glocal --target aarch64-unknown-linux-gnu --test kernels_small -- --nocapture \
  >"$neon_log" 2>&1 || neon_status=$?

x86_status=0
wait "$x86_pid" || x86_status=$?
for run in x86_64:"$x86_log" aarch64:"$neon_log"; do
  echo "--- Miri, ${run%%:*}:"
  cat "${run#*:}"
done
echo "--- coverage under Miri (printed by tests/kernels_small.rs from MIRI_CASES: shape, conversions, kernels, paths)"
for run in x86_64:"$x86_log" aarch64:"$neon_log"; do
  # (the first line can follow libtest's "test every_kernel_small_shapes_exact ... " on one line)
  grep -o 'miri-case | .*' "${run#*:}" | sed "s/^miri-case | /${run%%:*} | /"
done
grep -h '^miri: ' "$x86_log" "$neon_log"
if [ "$x86_status" != 0 ] || [ "$neon_status" != 0 ]; then
  echo "miri: FAILED (x86_64 exit $x86_status, aarch64 exit $neon_status)"
  exit 1
fi
