#!/usr/bin/env bash
# The core builds without std or alloc for every bare-metal target it claims:
# Cortex-M4F/M7 (hard float), Cortex-M0+ (soft float, no atomics CAS), Cortex-M3 (soft float)
# and RISC-V 32 (imac).
set -euo pipefail
cd "$(dirname "$0")/../.."
# Each without and with the integer dtype q8 (the FPU-less cores' fast path).
for t in thumbv7em-none-eabihf thumbv6m-none-eabi thumbv7m-none-eabi riscv32imac-unknown-none-elf; do
  for features in "" q8; do
    echo "--- cargo build -p glocal --no-default-features --features '$features' --target $t"
    cargo build -p glocal --no-default-features --features "$features" --target "$t"
  done
done
