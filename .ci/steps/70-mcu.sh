#!/usr/bin/env bash
# Bare metal: the kernels' tests, stack and cost checks on emulated Cortex-M4F (mps2-an386) and
# Cortex-M7 (mps2-an500); the Rust firmware (real resnet18 transform from ../shared) on both;
# the C firmware and the footprint limits when the C API crate (ffi/) is present.
set -euo pipefail
cd "$(dirname "$0")/../.."
. .ci/lib.sh
root=$PWD
t0=$(date +%s)
# One target dir for the sub-crates so cortex-m & co. are built once.
export CARGO_TARGET_DIR="$root/target/mcu"
M4="$EMU 300 qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic -monitor none -serial none -semihosting-config enable=on,target=native"
M7="$EMU 300 qemu-system-arm -cpu cortex-m7 -machine mps2-an500 -nographic -monitor none -serial none -semihosting-config enable=on,target=native"

echo "--- generated Cortex-M kernels are up to date (src/kernel/arm/gen_cortex_m.py)"
python3 src/kernel/arm/gen_cortex_m.py | diff -u src/kernel/arm/cortex_m.s -
python3 src/kernel/arm/gen_cortex_m.py --q8 | diff -u src/kernel/arm/cortex_m_q8.s -

echo "--- clippy of the core for thumbv7em (Cortex-M4F/M7), with its scalar kernels and q8"
cargo clippy -q -p glocal --no-default-features --features cortexm-scalar,q8 --target thumbv7em-none-eabihf -- -D warnings

echo "--- rustfmt of the sub-crates outside the workspace"
(cd mcu-tests && cargo fmt -- --check)
(cd examples/firmware-rust && cargo fmt -- --check)

# The runners of mcu-tests/.cargo/config.toml and runner-m7.sh, through .ci/emu for the clear
# line on a timeout (the -icount flags make the tests' cycle checks deterministic).
icount="-icount shift=0,align=off,sleep=off -kernel"
echo "--- mcu-tests on Cortex-M4F (mps2-an386)"
(cd mcu-tests && CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUNNER="$M4 $icount" cargo test --release)
echo "--- mcu-tests on Cortex-M7 (mps2-an500)"
(cd mcu-tests && CARGO_TARGET_THUMBV7EM_NONE_EABIHF_RUNNER="$M7 $icount" cargo test --release)

if [ -d ../shared/transforms ] || [ -n "${GLOCAL_SHARED:-}" ]; then
  echo "--- Rust firmware (resnet18/avgpool f16 from ../shared) on M4 and M7"
  (cd examples/firmware-rust && cargo build --profile firmware)
  fw="$CARGO_TARGET_DIR/thumbv7em-none-eabihf/firmware/glocal-firmware-rust"
  $M4 -kernel "$fw"
  $M7 -kernel "$fw"
else
  echo "NOTICE: ../shared is absent: skipping the Rust firmware example (it embeds the real resnet18 transform from ../shared)"
fi

if [ -f ffi/Cargo.toml ] && [ -d examples/firmware-c ]; then
  echo "--- C firmware and footprint"
  bash examples/firmware-c/build.sh
else
  echo "NOTICE: ffi/ or examples/firmware-c/ absent: C firmware and C API footprint not checked"
fi
echo "70-mcu: $(( $(date +%s) - t0 )) s"
