#!/usr/bin/env bash
# The crate's tests (NEON kernels included) on aarch64 under qemu-user: the default CPU (`max`,
# Orin-like features) and a Cortex-A57 (Jetson Nano / TX2 class: no fp16 arithmetic, FCVTL only).
# The runner is set here, not in .cargo/config.toml (that would break `cargo miri test --target
# aarch64-...`, toolchain.md trap 7).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"
echo "--- qemu-aarch64, default CPU (max)"
cargo test -p glocal --target aarch64-unknown-linux-gnu
echo "--- qemu-aarch64, QEMU_CPU=cortex-a57"
QEMU_CPU=cortex-a57 cargo test -p glocal --target aarch64-unknown-linux-gnu
