#!/usr/bin/env bash
# The crate's unit and integration tests (NEON kernels included) on aarch64 under qemu-user:
# the default CPU (`max`, Orin-like features) and a Cortex-A57 (Jetson Nano / TX2 class: no
# fp16 arithmetic, FCVTL only). The runner is set here, not in .cargo/config.toml (that would
# break `cargo miri test --target aarch64-...`, toolchain.md trap 7). Doctests are left to the
# host run (they test no kernel and cost a cross build each).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
echo "--- qemu-aarch64, default CPU (max)"
cargo test -p glocal --target aarch64-unknown-linux-gnu --lib --tests
# On the A57 the full edge-shape matrix adds nothing the widening, batch and random-shape
# tests do not already cover (same code, other CPU model); skip it to keep the step short.
echo "--- qemu-aarch64, QEMU_CPU=cortex-a57"
# The thread-splitting test checks scheduling, not instructions: the default-CPU run covers it.
QEMU_CPU=cortex-a57 cargo test -p glocal --target aarch64-unknown-linux-gnu --lib --tests -- --skip edge_shapes_ \
  --skip apply_parallel_is_bit_identical_to_apply
