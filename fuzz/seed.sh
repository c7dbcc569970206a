#!/usr/bin/env bash
# Writes the fuzz seed corpora into fuzz/corpus/<target>/ (gitignored, never committed):
# synthetic blobs/npz/npy of edge shapes, plus seeds derived from ../shared when present.
set -euo pipefail
cd "$(dirname "$0")"
shared="${GLOCAL_SHARED:-$(cd .. && pwd)/../shared}"
cargo run --quiet --manifest-path seedgen/Cargo.toml -- corpus "$shared"
