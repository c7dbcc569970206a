#!/usr/bin/env bash
# Installs everything CI needs, idempotently. Safe to run on a machine that already has it all.
set -euo pipefail

CBINDGEN_VERSION=0.29.4
CARGO_FUZZ_VERSION=0.13.2

need_apt=()
for pkg in qemu-system-arm qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
           gcc-arm-none-eabi libnewlib-arm-none-eabi cmake pkg-config jq; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: apt installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add thumbv7em-none-eabihf thumbv6m-none-eabi riscv32imac-unknown-none-elf aarch64-unknown-linux-gnu
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
