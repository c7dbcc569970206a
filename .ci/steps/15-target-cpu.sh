#!/usr/bin/env bash
# Release builds of the core (hosted targets; the C API too on bare metal) for each CPU users
# build for with `-C target-cpu`, and for x86-64-v4 the kernel test matrix as well
# (tests/kernels.rs: every kernel with every input and output type): code generation
# is where target-specific failures appear (an inline-asm operand the assembler refuses for one
# CPU's register set), so this is `cargo build`, not `cargo check`. Warnings fail the step.
#
#   x86_64:  x86-64-v3 (AVX2), x86-64-v4 (AVX-512), native
#   aarch64: cortex-a57 (Jetson Nano/TX2), cortex-a78ae (Jetson Orin)
#   bare metal (no_std, the C API as a static library): cortex-m7 (thumbv7em-none-eabihf),
#            cortex-m33 and cortex-m55 (thumbv8m.main-none-eabihf)
#
# The tests of the x86-64-v4 build run where the CPU has AVX-512F and AVX-512BW; elsewhere the
# step says so (a v4 binary would die of SIGILL there).
#
# One target directory for the whole matrix (target/cpu): `--target` is always given, so
# RUSTFLAGS reach only the target's crates and the build scripts and proc macros are built once.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/cpu"
unset RUSTFLAGS GLOCAL_FORCE_ISA
t0=$(date +%s)
host=x86_64-unknown-linux-gnu

# build TRIPLE CPU [hosted|tests|bare]
build() {
  local triple=$1 cpu=$2 kind=$3 t=$(date +%s)
  local flags="-C target-cpu=$cpu -D warnings"
  if [ "$kind" = hosted ]; then
    # The registry holds every kernel's entry function, so the library build generates the code
    # of every kernel for this CPU.
    RUSTFLAGS="$flags" cargo build -q --release --target "$triple" -p glocal
  elif [ "$kind" = tests ]; then
    # Also the kernel test matrix: the instantiations through which the AVX-512 inline
    # assembly once failed to assemble (only seen at code generation, never by cargo check).
    RUSTFLAGS="$flags" cargo build -q --release --target "$triple" -p glocal &&
      RUSTFLAGS="$flags" cargo test -q --release --no-run --target "$triple" -p glocal --test kernels
  else
    RUSTFLAGS="$flags" cargo build -q --release --target "$triple" -p glocal --no-default-features &&
      RUSTFLAGS="$flags" cargo rustc -q --release --target "$triple" -p glocal-ffi --lib --crate-type staticlib \
        --no-default-features --features q8
  fi || { echo "15-target-cpu: FAILED: release build for $triple -C target-cpu=$cpu"; exit 1; }
  echo "15-target-cpu: $triple -C target-cpu=$cpu: ok ($(( $(date +%s) - t )) s)"
}

build "$host" x86-64-v3 hosted
build "$host" x86-64-v4 tests
build "$host" native hosted
for cpu in cortex-a57 cortex-a78ae; do build aarch64-unknown-linux-gnu "$cpu" hosted; done
build thumbv7em-none-eabihf cortex-m7 bare
for cpu in cortex-m33 cortex-m55; do build thumbv8m.main-none-eabihf "$cpu" bare; done

if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo; then
  echo "--- 15-target-cpu: the core's tests built with -C target-cpu=x86-64-v4"
  # --lib --tests: the unit and integration tests (every kernel the v4 build compiled in).
  # The flags of the build above, so its artifacts are reused.
  RUSTFLAGS="-C target-cpu=x86-64-v4 -D warnings" cargo test -q --release --target "$host" -p glocal --lib --tests
else
  echo "15-target-cpu: NOTICE: this CPU lacks AVX-512F/BW: the tests of the x86-64-v4 build were not run (they would stop on SIGILL here)"
fi
echo "15-target-cpu: $(( $(date +%s) - t0 )) s"
