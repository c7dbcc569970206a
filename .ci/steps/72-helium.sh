#!/usr/bin/env bash
# Cortex-M55 (MVE, "Helium"): the generated kernels are up to date; the Helium build is
# clippy-clean and a Cortex-M33 build (no MVE) has no Helium code; the kernel tests, stack,
# cost and instruction-count checks on qemu mps3-an547; the Rust and C firmware examples there
# and the C API's flash footprint on the M55 (when ../shared is present).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
t0=$(date +%s)
export CARGO_TARGET_DIR="$root/target/mcu"
M55="-C target-cpu=cortex-m55"

echo "--- generated Helium kernels are up to date (src/kernel/arm/gen_helium.py)"
python3 src/kernel/arm/gen_helium.py | diff -u src/kernel/arm/helium.s -

echo "--- clippy of the core for thumbv8m.main + cortex-m55 (Helium) and plain thumbv8m.main (M33)"
CARGO_TARGET_DIR="$root/target/helium" RUSTFLAGS="$M55" cargo clippy -q -p glocal --no-default-features \
  --features cortexm-scalar,q8 --target thumbv8m.main-none-eabihf -- -D warnings
CARGO_TARGET_DIR="$root/target/helium-m33" cargo clippy -q -p glocal --no-default-features \
  --target thumbv8m.main-none-eabihf -- -D warnings

echo "--- Helium code only where the build names an MVE core"
CARGO_TARGET_DIR="$root/target/helium" RUSTFLAGS="$M55" cargo build -q -p glocal --no-default-features \
  --target thumbv8m.main-none-eabihf
CARGO_TARGET_DIR="$root/target/helium-m33" cargo build -q -p glocal --no-default-features \
  --target thumbv8m.main-none-eabihf
m55_syms=$(arm-none-eabi-nm "$root/target/helium/thumbv8m.main-none-eabihf/debug/libglocal.rlib" 2>/dev/null | grep -c ' T __glocal_mve_' || true)
m33_syms=$(arm-none-eabi-nm "$root/target/helium-m33/thumbv8m.main-none-eabihf/debug/libglocal.rlib" 2>/dev/null | grep -c ' T __glocal_mve_' || true)
[ "$m55_syms" -gt 0 ] || { echo "FAIL: no Helium kernels in the cortex-m55 build"; exit 1; }
[ "$m33_syms" -eq 0 ] || { echo "FAIL: Helium kernels in a build without MVE (thumbv8m.main, no target-cpu)"; exit 1; }
echo "ok: $m55_syms Helium symbols with target-cpu=cortex-m55, none without"

echo "--- mcu-tests on Cortex-M55 (mps3-an547): kernels, stack, cost"
(cd mcu-tests && cargo test --release --target thumbv8m.main-none-eabihf) || {
  echo "FAIL: mcu-tests on qemu mps3-an547 (Cortex-M55) failed (exit 124 = timeout)"; exit 1; }

if [ -d ../shared/tools/qemu-insncount ] || [ -n "${GLOCAL_SHARED:-}" ]; then
  echo "--- instructions per multiply-add on Cortex-M55 (qemu plugin from ../shared)"
  bash mcu-tests/insncount.sh

  echo "--- Rust firmware (resnet18/avgpool f16 from ../shared) on Cortex-M55 (mps3-an547)"
  (cd examples/firmware-rust && cargo build -q --release --target thumbv8m.main-none-eabihf)
  timeout 120 qemu-system-arm -machine mps3-an547 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    -kernel "$CARGO_TARGET_DIR/thumbv8m.main-none-eabihf/release/glocal-firmware-rust" || {
    echo "FAIL: Rust firmware on qemu mps3-an547 (exit 124 = timeout)"; exit 1; }
else
  echo "NOTICE: ../shared is absent: skipping the instruction counts and the Rust firmware on M55"
fi

if [ -f ffi/Cargo.toml ] && [ -d ../shared/transforms ]; then
  echo "--- C firmware on Cortex-M55 and the C API footprint there"
  bash examples/firmware-c/build.sh m55
fi
echo "72-helium: $(( $(date +%s) - t0 )) s"
