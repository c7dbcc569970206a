#!/usr/bin/env bash
# The optional `defmt` feature (defmt::Format for glocal::Error) builds for bare-metal Cortex-M4F
# without std, warning-free, as firmware that logs with defmt uses it.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUSTFLAGS="-D warnings" cargo build -q -p glocal --no-default-features --features defmt --target thumbv7em-none-eabihf \
  || { echo "62-defmt: glocal with feature defmt does not build for thumbv7em-none-eabihf"; exit 1; }
echo "62-defmt: glocal --features defmt builds for thumbv7em-none-eabihf"
