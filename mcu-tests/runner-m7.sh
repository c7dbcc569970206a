#!/bin/sh
# Cargo runner for the Cortex-M7 board (mps2-an500); the default runner in .cargo/config.toml
# is the Cortex-M4F (mps2-an386). Use:
#   CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUNNER=$PWD/runner-m7.sh cargo test --release
exec timeout 300 qemu-system-arm -cpu cortex-m7 -machine mps2-an500 -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -icount shift=0,align=off,sleep=off -kernel "$@"
