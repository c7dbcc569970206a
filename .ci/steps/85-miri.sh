#!/usr/bin/env bash
# Miri over the core's unsafe code: the byte-to-slice views and every SIMD kernel, on a targeted
# list of small shapes that reaches every path of the kernel drivers (tests/kernels_small.rs,
# MIRI_CASES), plus the part of the malformed-input suite that goes through the views. Two runs:
#
#   x86_64, -C target-cpu=haswell: the AVX2/FMA/F16C kernels (f32, f16, bf16 weights) with the
#     F16C widening (vcvtph2ps) interpreted as written, on every MIRI_CASES shape
#     (GLOCAL_SMALL_ISAS=avx2); the byte views (at a 4-byte offset, every dtype, through every
#     kernel including scalar and i8d, 17 x 16, 7 rows), misaligned blobs, wrong-width features
#     and NaN rows (AVX2 batch path). The portable kernels (scalar.rs, i8d.rs) contain no unsafe
#     code (forbid(unsafe_code) / safe slices): Miri adds nothing over the native tests there
#     beyond the views, so they are not run on every shape.
#   aarch64-unknown-linux-gnu: the NEON kernels (f32, f16, bf16 weights) on the same cases
#     (GLOCAL_SMALL_ISAS=neon), and the views again.
#     FCVTL and PRFM are inline asm, which Miri cannot run: under cfg(miri) the kernel widens
#     f16 in software and skips the prefetch (src/kernel/aarch64/neon.rs); all else is as written.
#
# The AVX-512 kernels are not run under Miri (the haswell build has no AVX-512; they run natively
# in the test step and with GLOCAL_FORCE_ISA=avx512 in 10-isa.sh, on a CPU that has them).
# There is no separate x86_64 run without target features: it would interpret the same MIR for
# every kernel it can run (the scalar ones), which the haswell run already runs on the views.
# GLOCAL_EXPECT_ISA makes a run fail if its SIMD kernels did not run. f32 -> f16 rounding runs in
# software under Miri (Miri cannot interpret vcvtps2ph; see src/dtype.rs f16_from_f32).
set -euo pipefail
cd "$(dirname "$0")/../.."
# A cross runner would make cargo-miri hand its pseudo-binary to qemu (toolchain.md gotcha 7).
unset CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER
unset GLOCAL_FORCE_ISA RUSTFLAGS GLOCAL_SMALL_ISAS GLOCAL_EXPECT_ISA
export MIRIFLAGS="${MIRIFLAGS:--Zmiri-disable-isolation}"
# The haswell build has other RUSTFLAGS than every other build in CI: its own target dir, so
# neither evicts the other's artifacts.
haswell_target="${CARGO_TARGET_DIR:-target}/miri-haswell"

# The views and the apply path on valid, misaligned and NaN inputs (the header-field cases are
# CRC-bound and add nothing Miri can see; they run natively in `cargo test`).
malformed=(baseline_blob_is_valid misaligned_blobs_are_rejected features_of_the_wrong_width
           nan_rows_give_nan_rows_only)

timed() {
  local label=$1; shift
  local t0 rc=0; t0=$(date +%s)
  "$@" || rc=$?
  if [ "$rc" = 0 ]; then
    echo "miri: $label ok ($(( $(date +%s) - t0 )) s)"
  else
    echo "miri: $label FAILED (exit $rc, $(( $(date +%s) - t0 )) s)"
  fi
  return "$rc"
}

# The two runs are independent (own target directories) and Miri interprets on one thread, so
# they run side by side on the two cores: about the time of the longer one instead of the sum.
x86_log=$(mktemp /tmp/glocal-miri-x86.XXXXXX)
trap 'rm -f "$x86_log"' EXIT
x86_run() {
  if grep -q 'Avx2' src/kernel/mod.rs; then
    CARGO_TARGET_DIR="$haswell_target" RUSTFLAGS="-C target-cpu=haswell" GLOCAL_EXPECT_ISA=avx2 \
      GLOCAL_SMALL_ISAS=avx2 \
      timed "x86_64 haswell (avx2 kernels; views of every kernel; malformed subset)" \
      cargo +nightly miri test -p glocal --test kernels_small --test malformed -- \
        every_kernel_small_shapes_exact views_at_every_aligned_offset "${malformed[@]}"
  else
    timed "x86_64 (scalar kernels, views, malformed subset)" \
      cargo +nightly miri test -p glocal --test kernels_small --test malformed -- \
        every_kernel_small_shapes_exact views_at_every_aligned_offset "${malformed[@]}"
  fi
}
x86_run >"$x86_log" 2>&1 &
x86_pid=$!

neon_status=0
if grep -q 'Neon' src/kernel/mod.rs; then
  GLOCAL_SMALL_ISAS=neon GLOCAL_EXPECT_ISA=neon \
    timed "aarch64 (neon kernels)" \
    cargo +nightly miri test -p glocal --target aarch64-unknown-linux-gnu --test kernels_small -- \
      every_kernel_small_shapes_exact views_at_every_aligned_offset || neon_status=$?
else
  echo "miri: no NEON kernel in this build: aarch64 run skipped"
fi

x86_status=0
wait "$x86_pid" || x86_status=$?
echo "--- x86_64 Miri run (in parallel with the aarch64 one):"
cat "$x86_log"
if [ "$x86_status" != 0 ] || [ "$neon_status" != 0 ]; then
  echo "miri: FAILED (x86_64 exit $x86_status, aarch64 exit $neon_status)"
  exit 1
fi
