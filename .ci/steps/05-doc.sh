#!/usr/bin/env bash
# The crate docs are the manual: they must build without a single warning (broken links included).
set -euo pipefail
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --workspace --all-features
