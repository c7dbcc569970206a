#!/usr/bin/env bash
# crates.io readiness: the three published crates package (manifests, licence files, included
# files, path dependencies with versions; packaged together, so each resolves the others from
# the packages), and the core's package builds on its own from the .crate (verify).
set -euo pipefail
cd "$(dirname "$0")/../.."
# --allow-dirty: earlier steps may leave untracked build artifacts; `include` lists in the
# manifests decide what goes into each package.
timeout 600 cargo package -q -p glocal -p glocal-ffi -p glocal-cli --no-verify --allow-dirty \
  || { echo "90-package: cargo package failed for glocal, glocal-ffi or glocal-cli"; exit 1; }
for c in glocal glocal-ffi glocal-cli; do
  list=$(cargo package -q -p "$c" --list --allow-dirty 2>/dev/null)
  for f in Cargo.toml LICENSE-MIT LICENSE-APACHE src/lib.rs; do
    grep -qx "$f" <<<"$list" || { echo "90-package: $c's package lacks $f"; exit 1; }
  done
done
timeout 900 cargo package -q -p glocal --allow-dirty \
  || { echo "90-package: the packaged glocal crate does not build on its own"; exit 1; }
echo "90-package: glocal, glocal-ffi, glocal-cli package; glocal's package verified"
