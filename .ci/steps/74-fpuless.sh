#!/usr/bin/env bash
# FPU-less cores and the q8 dtype (integer dot products): the Rust firmware on an emulated
# Cortex-M0 (qemu microbit, thumbv6m-none-eabi) and the C firmware through the C API on a
# Cortex-M3 (qemu mps2-an385, thumbv7m-none-eabi), both on a q8 blob of a 256 x 256 crop of
# resnet18/avgpool from ../shared: within 8e-3 of the float64 reference and bit for bit the
# host's q8 result; flash (glocal's share) and stack high-water printed and limited.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
root=$PWD
t0=$(date +%s)
# The target dir of 70-mcu: cortex-m & co. and the host build of glocal for build scripts are shared.
export CARGO_TARGET_DIR="$root/target/mcu"

echo "--- rustfmt and clippy of examples/firmware-m0 (outside the workspace)"
(cd examples/firmware-m0 && cargo fmt -- --check)
if [ ! -d ../shared/transforms ] && [ -z "${GLOCAL_SHARED:-}" ]; then
  echo "NOTICE: ../shared is absent: skipping the FPU-less firmware examples (they embed a crop of the real resnet18 transform from ../shared)"
  exit 0
fi
(cd examples/firmware-m0 && cargo clippy -q --profile firmware -- -D warnings)

echo "--- Rust firmware, q8, on Cortex-M0 (qemu microbit)"
(cd examples/firmware-m0 && cargo build -q --profile firmware)
fw="$CARGO_TARGET_DIR/thumbv6m-none-eabi/firmware/glocal-firmware-m0"
"$EMU" 120 qemu-system-arm -machine microbit -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "$fw" || {
  echo "FAIL: Rust q8 firmware on qemu microbit (Cortex-M0) failed (exit 124 = timeout)"; exit 1; }
echo "--- Rust firmware footprint (glocal's share; limit 16 KiB)"
python3 examples/firmware-m0/footprint.py "$fw" "${GLOCAL_M0_FLASH_LIMIT:-16384}"

echo "--- C firmware, q8 through the C API, on Cortex-M3 (qemu mps2-an385) and its footprint"
bash examples/firmware-c-m3/build.sh
echo "74-fpuless: $(( $(date +%s) - t0 )) s"
