#!/usr/bin/env bash
# The core builds without std or alloc for every bare-metal target it claims:
# Cortex-M4F/M7 (hard float), Cortex-M0+ (soft float, no atomics CAS) and RISC-V 32 (imac).
set -euo pipefail
cd "$(dirname "$0")/../.."
for t in thumbv7em-none-eabihf thumbv6m-none-eabi riscv32imac-unknown-none-elf; do
  echo "--- cargo build -p glocal --no-default-features --target $t"
  cargo build -p glocal --no-default-features --target "$t"
done
