#!/usr/bin/env bash
# Installs everything CI needs, idempotently. Safe to run on a machine that already has it all.
set -euo pipefail

CBINDGEN_VERSION=0.29.4
CARGO_FUZZ_VERSION=0.13.2

# The Arm cost harness (benches/arm) runs Debian's arm64 OpenBLAS under qemu-aarch64: a
# multiarch package, so the arm64 architecture must be known before `apt-get update`.
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  echo "setup: dpkg --add-architecture arm64"
  dpkg --add-architecture arm64
fi

need_apt=()
# llvm-19: llvm-mca and llvm-objdump for the Arm cost harness (Debian 12's default llvm is 14,
# which has no Neoverse-N1 or Cortex-M55 models).
for pkg in qemu-system-arm qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
           gcc-arm-none-eabi libnewlib-arm-none-eabi cmake pkg-config jq \
           llvm-19 libopenblas0-serial:arm64; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi riscv32imac-unknown-none-elf aarch64-unknown-linux-gnu \
  thumbv8m.main-none-eabihf thumbv7m-none-eabi
rustup +nightly component add miri rust-src >/dev/null
rustup +nightly target add aarch64-unknown-linux-gnu >/dev/null

if ! cbindgen --version 2>/dev/null | grep -q "$CBINDGEN_VERSION"; then
  cargo install --locked cbindgen --version "$CBINDGEN_VERSION"
fi
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install --locked cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

# .ci/steps/40-ffi.sh analyses the Cortex-M link of the C API with a small Python script.
if ! command -v python3 >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3
fi

# .ci/steps/30-python.sh makes a venv for the Python package (pip then fetches maturin, numpy and
# pytest from PyPI, pinned there). Debian's own python3 needs python3-venv for that.
if ! python3 -c "import venv, ensurepip" 2>/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv python3-pip
fi
# benches/arm/run.py fetches CMSIS-DSP's C sources with `pip download --no-binary :all:
# --no-build-isolation cmsisdsp==1.10.3`, which prepares the sdist's metadata with the
# installed setuptools, wheel and numpy (its setup.py imports numpy).
PY_BUILD_PINS=(setuptools==65.5.0 wheel==0.42.0 numpy==1.26.4)
if ! python3 -c 'import setuptools, wheel, numpy' 2>/dev/null; then
  if ! python3 -m pip --version >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-pip
  fi
  python3 -m pip install -q "${PY_BUILD_PINS[@]}" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "${PY_BUILD_PINS[@]}"
fi
