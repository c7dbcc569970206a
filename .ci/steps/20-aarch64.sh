#!/usr/bin/env bash
# The crate's unit and integration tests (NEON kernels included) on aarch64 under qemu-user:
# the default CPU (`max`, Orin-like features) and a Cortex-A57 (Jetson Nano / TX2 class: no
# fp16 arithmetic, FCVTL only). The runner is set here, not in .cargo/config.toml (that would
# break `cargo miri test --target aarch64-...`, toolchain.md trap 7). Doctests are left to the
# host run (they test no kernel and cost a cross build each).
#
# On some hosts qemu-aarch64 7.2 hangs as soon as the guest creates a thread (toolchain.md
# section 10), and libtest creates one per test even with --test-threads=1. A probe
# (.ci/lib.sh) tells the two cases apart; on such a host the same tests run with thread
# creation refused inside the guest (.ci/nothreads.c: libtest then runs each test on its main
# thread), and the step says so. Every test executable runs under a time limit (.ci/emu).
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
work=$(mktemp -d /tmp/glocal-a64.XXXXXX)
trap 'rm -rf "$work"' EXIT

# The limit is per test executable, not per step. It is a backstop for a hang the probe does
# not catch: tests/kernels.rs alone needs minutes of CPU under qemu, and on a 2-core host
# shared with other builds it gets a fraction of a core (600 s was too short there).
runner=("$EMU" 1800 "${QEMU_A64[@]}")
mode=$(qemu_aarch64_threads)
if [ "$mode" = hang ]; then
  shim=$(qemu_aarch64_nothreads_shim "$work")
  runner+=(-E "LD_PRELOAD=$shim")
  echo "20-aarch64: NOTICE: qemu-aarch64 hangs when a guest creates a thread on this host (probe); running the tests without threads (libtest runs each test on its main thread; apply_parallel's blocks run on the calling thread)"
fi
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${runner[*]}"

echo "--- qemu-aarch64, default CPU (max)"
cargo test -p glocal --target aarch64-unknown-linux-gnu --lib --tests
echo "--- qemu-aarch64, default CPU (max), GLOCAL_FORCE_ISA=neon: the q8 kernel without SDOT"
# The default CPU has the dot product, so `neondot` runs q8 there by default (and tests/q8.rs
# checks every available q8 kernel through with_isa); forced, `neon`'s must be the one that runs.
GLOCAL_FORCE_ISA=neon cargo test -p glocal --target aarch64-unknown-linux-gnu --test q8
echo "--- qemu-aarch64, QEMU_CPU=cortex-a57"
# The NEON kernels use ARMv8.0 instructions only (FCVTL, by-element FMLA, SSHLL, SMLAL): on the
# A57 every code path runs once, on small and exhaustive cases (kernels_small reaches every path
# of both drivers; convert and the exhaustive widening tests every 16-bit pattern; q8 without
# the dot product picks the `neon` q8 kernel); the large shape matrices, the same code as on the
# default CPU, run there only.
QEMU_CPU=cortex-a57 cargo test -p glocal --target aarch64-unknown-linux-gnu \
  --test kernels_small --test convert --test i8d --test q8 --test kernels -- \
  --skip edge_shapes_ --skip large_batches_ --skip workspace_matches_ --skip rows_alone_ --skip sixteen_bit_
